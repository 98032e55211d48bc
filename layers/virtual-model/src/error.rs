//! The error of a virtual model with no model able to serve a request.

use std::fmt;

/// No model behind a virtual model can serve the request (context window, tools, images,
/// structured output, or chat vs embeddings).
///
/// The edge shows it as 400 `no_capable_model`; the message names what each model lacked.
#[derive(Debug)]
pub struct NoCapableModel {
    virtual_model: String,
    missing: String,
}

impl NoCapableModel {
    /// `virtual_model` has no able model; `missing` says, per model, what it lacked.
    pub fn new(virtual_model: impl Into<String>, missing: impl Into<String>) -> Self {
        Self {
            virtual_model: virtual_model.into(),
            missing: missing.into(),
        }
    }

    /// The virtual model requested.
    pub fn virtual_model(&self) -> &str {
        &self.virtual_model
    }

    /// What was missing, per model.
    pub fn missing(&self) -> &str {
        &self.missing
    }
}

impl fmt::Display for NoCapableModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no model behind `{}` can serve this request: {}",
            self.virtual_model, self.missing
        )
    }
}

impl std::error::Error for NoCapableModel {}
