//! The error of a request whose every candidate is an unpriced hosted model.

use std::fmt;

use infermux_core::Candidate;

/// Under `unpriced: reject`, every candidate of the request was a hosted model without a
/// price, so the request was refused before anything was sent.
///
/// The edge shows it as 400 `unpriced_model`.
#[derive(Debug)]
pub struct UnpricedModel {
    requested: String,
    unpriced: Vec<Candidate>,
}

impl UnpricedModel {
    /// `requested` could only go to the `unpriced` candidates.
    pub fn new(requested: impl Into<String>, unpriced: Vec<Candidate>) -> Self {
        Self {
            requested: requested.into(),
            unpriced,
        }
    }

    /// The requested model.
    pub fn requested(&self) -> &str {
        &self.requested
    }

    /// The candidates that had no price.
    pub fn unpriced(&self) -> &[Candidate] {
        &self.unpriced
    }
}

impl fmt::Display for UnpricedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the model `{}` has no price at ", self.requested)?;
        for (i, candidate) in self.unpriced.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "{} (as `{}`)",
                candidate.provider, candidate.upstream_model
            )?;
        }
        f.write_str(
            " and `unpriced: reject` is set; add a `pricing:` entry for it or set `unpriced: warn`",
        )
    }
}

impl std::error::Error for UnpricedModel {}
