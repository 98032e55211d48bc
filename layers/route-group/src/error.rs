//! The error of a request for a model that no candidate provider serves.

use std::fmt;

/// No provider (of the matching route group, if any) serves the requested model.
///
/// The edge shows it as 404 `model_not_found`.
#[derive(Debug)]
pub struct ModelNotServed {
    model: String,
}

impl ModelNotServed {
    /// No provider serves `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
        }
    }

    /// The requested model.
    pub fn model(&self) -> &str {
        &self.model
    }
}

impl fmt::Display for ModelNotServed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the model `{}` does not exist or no provider serves it; GET /v1/models lists the models you can request",
            self.model
        )
    }
}

impl std::error::Error for ModelNotServed {}
