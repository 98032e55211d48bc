//! What dispatch hands a provider service, and how a provider fails.

use std::{fmt, sync::Arc, time::Duration};

use http::StatusCode;
use infermux_core::{InferRequest, Usage, WasteReason};

/// One attempt at serving a request on one provider.
#[derive(Clone, Debug)]
pub struct ProviderCall {
    /// The request, shared by every attempt of a failover.
    pub request: Arc<InferRequest>,
    /// The model this provider is sent.
    pub upstream_model: Arc<str>,
}

/// Why a provider could not serve a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The connection could not be made or broke before a response.
    Connect,
    /// No (complete) response within the provider's `timeout`.
    Timeout,
    /// The provider answered 429 or 5xx.
    Status {
        /// The status.
        status: StatusCode,
        /// How long the provider asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
        /// The 429 says the account is out of quota (`insufficient_quota`), not just busy.
        quota: bool,
    },
    /// The provider answered something that is not a valid response of its API.
    BadResponse,
    /// This provider's API cannot express the request (e.g. embeddings on Anthropic); another
    /// provider may.
    Unsupported,
}

/// A failed attempt on one provider. Its message never contains the provider's API key.
#[derive(Clone, Debug)]
pub struct ProviderError {
    kind: ProviderErrorKind,
    message: String,
    /// The usage the provider billed for the failed attempt, and why it was wasted.
    billed: Option<(Usage, WasteReason)>,
}

impl ProviderError {
    /// An error of `kind` described by `message`.
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            billed: None,
        }
    }

    /// The same error, for an attempt the provider billed `usage` for (it reported usage):
    /// dispatch charges it, as waste for `reason`.
    #[must_use]
    pub fn with_billed(mut self, usage: Usage, reason: WasteReason) -> Self {
        self.billed = Some((usage, reason));
        self
    }

    /// The usage the provider billed for this failed attempt, and why it bought nothing.
    pub fn billed(&self) -> Option<(Usage, WasteReason)> {
        self.billed
    }

    /// What went wrong.
    pub fn kind(&self) -> &ProviderErrorKind {
        &self.kind
    }

    /// Whether the request failed in a way another provider might not: everything but a
    /// request this provider cannot express counts against the provider.
    pub fn is_provider_fault(&self) -> bool {
        self.kind != ProviderErrorKind::Unsupported
    }

    /// A short label for metrics: `connect`, `timeout`, `status_5xx`, `status_429`, ...
    pub fn label(&self) -> &'static str {
        match &self.kind {
            ProviderErrorKind::Connect => "connect",
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::Status { status, .. }
                if *status == StatusCode::TOO_MANY_REQUESTS =>
            {
                "status_429"
            }
            ProviderErrorKind::Status { .. } => "status_5xx",
            ProviderErrorKind::BadResponse => "bad_response",
            ProviderErrorKind::Unsupported => "unsupported",
        }
    }

    /// Removes `secret` from the message, should a provider have echoed it.
    pub(crate) fn redact(mut self, secret: Option<&str>) -> Self {
        if let Some(secret) = secret.filter(|s| !s.is_empty() && self.message.contains(*s)) {
            self.message = self.message.replace(secret, "[redacted]");
        }
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProviderErrorKind::Status { status, .. } => {
                write!(f, "HTTP {}: {}", status.as_u16(), self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ProviderError {}
