//! Faults a mock injects instead of (or into) its normal answer.

use std::time::Duration;

/// A misbehaviour for a mock to inject into the next answer(s).
///
/// Faults apply to completion and embedding requests (see [`MockServer::set_fault`] and
/// [`MockServer::set_faults`]), or to health GETs when set with
/// [`MockServer::set_health_fault`]. They act before the request is validated, the way a
/// failing upstream or load balancer would.
///
/// The stream faults ([`Fault::CutStreamAfter`], [`Fault::ChunkInterval`]) count *chunks*: one
/// SSE event for OpenAI and Anthropic (`data: [DONE]` included), one NDJSON line for Ollama.
/// A non-streaming answer is sent as two chunks (the two halves of its JSON) when one of them is
/// set, so `CutStreamAfter(1)` gives a client half a JSON body and then a reset connection.
///
/// [`MockServer::set_fault`]: crate::MockServer::set_fault
/// [`MockServer::set_faults`]: crate::MockServer::set_faults
/// [`MockServer::set_health_fault`]: crate::MockServer::set_health_fault
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and body (`content-type: application/json`), plus a
    /// `Retry-After: <seconds>` header when `retry_after` is set.
    Status {
        /// The HTTP status code, such as 429 or 500.
        status: u16,
        /// The response body, sent as is; see [`MockServer::provider_error`] for bodies in the
        /// provider's own error shape.
        ///
        /// [`MockServer::provider_error`]: crate::MockServer::provider_error
        body: String,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u32>,
    },
    /// Wait this long before answering normally.
    Latency(Duration),
    /// Read the request, then close the TCP connection without sending any response.
    DropConnection,
    /// Send the status, headers and this many chunks, then abort the connection: no terminal
    /// event (`data: [DONE]`, `message_stop`, `done: true`) reaches the client. An answer with
    /// this many chunks or fewer is sent whole.
    CutStreamAfter(usize),
    /// Pause this long between chunks (a paced stream); the first chunk is not delayed.
    ChunkInterval(Duration),
    /// Never answer: hold the connection open until the client gives up or the mock is dropped.
    Stall,
}

// === impl Fault ===

impl Fault {
    /// A [`Fault::Status`] with this status, a generic JSON body and no `Retry-After`.
    pub fn status(status: u16) -> Self {
        let body =
            serde_json::json!({ "error": { "message": format!("mock fault: status {status}") } });
        Self::Status {
            status,
            body: body.to_string(),
            retry_after: None,
        }
    }

    /// A 429 with a `Retry-After: <seconds>` header and a generic JSON body.
    pub fn rate_limited(retry_after_secs: u32) -> Self {
        Self::status(429).with_retry_after(retry_after_secs)
    }

    /// Adds (or replaces) the `Retry-After` seconds of a [`Fault::Status`]; other faults are
    /// returned unchanged.
    #[must_use]
    pub fn with_retry_after(self, secs: u32) -> Self {
        match self {
            Self::Status { status, body, .. } => Self::Status {
                status,
                body,
                retry_after: Some(secs),
            },
            other => other,
        }
    }

    /// Whether this fault only changes how a body is streamed (so the answer itself is normal).
    pub(crate) fn shapes_stream(&self) -> bool {
        matches!(self, Self::CutStreamAfter(_) | Self::ChunkInterval(_))
    }
}
