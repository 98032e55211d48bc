//! The typed report of one answer: what the cost layer and the request log need, read from the
//! encoders as they pass the stream instead of parsing SSE bytes a second time.

use infermux_core::Usage;

/// How a stream ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StreamEnd {
    /// Still streaming.
    #[default]
    Open,
    /// The provider's terminal event arrived.
    Completed,
    /// The stream broke (provider error, cut connection); the message says how.
    Failed(String),
}

/// What one answer reported, filled in as it passes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// The usage, once the provider reported it.
    pub usage: Option<Usage>,
    /// The finish reason in OpenAI's words (`stop`, `length`, `tool_calls`, ...).
    pub finish_reason: Option<String>,
    /// How the stream ended.
    pub end: StreamEnd,
}
