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

/// An encoder that re-emits a hub (OpenAI chat) stream in a client's protocol as it passes:
/// the Messages and Responses stream encoders. A body drives it the same way whatever the
/// protocol.
pub trait StreamReencoder {
    /// Feeds bytes of the hub stream (split anywhere); appends the events they complete.
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>);
    /// The upstream ended: appends the closing events, or the failure event when the stream
    /// did not complete.
    fn finish(&mut self, usage: Option<Usage>, out: &mut Vec<u8>);
    /// The stream broke: appends the protocol's failure event.
    fn fail(&mut self, message: &str, out: &mut Vec<u8>);
    /// What the stream reported so far.
    fn report(&self) -> &StreamReport;
}

/// Writes one named SSE event, `event: <name>` and `data: <json>`, as both re-encoders emit
/// them.
pub(crate) fn write_event(out: &mut Vec<u8>, name: &str, data: &serde_json::Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// What the re-encoders' tests feed and read.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::{Value, json};

    /// The named events of `out`, their data parsed.
    pub(crate) fn events(out: &[u8]) -> Vec<(String, Value)> {
        String::from_utf8_lossy(out)
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let mut lines = e.lines();
                let name = lines
                    .next()
                    .and_then(|l| l.strip_prefix("event: "))
                    .expect("event");
                let data = lines
                    .next()
                    .and_then(|l| l.strip_prefix("data: "))
                    .expect("data");
                (name.to_owned(), serde_json::from_str(data).expect("json"))
            })
            .collect()
    }

    /// One hub (OpenAI chat) stream chunk with `delta`, as an SSE event.
    pub(crate) fn chunk(delta: Value, finish: Option<&str>) -> String {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-9", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    }

    /// A hub stream of text ("Hi there") and then one tool call whose arguments arrive in two
    /// pieces, ending with `[DONE]`.
    pub(crate) fn text_then_tool_call() -> String {
        [
            chunk(json!({"role": "assistant", "content": "Hi"}), None),
            chunk(json!({"content": " there"}), None),
            chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}), None),
            chunk(json!({}), Some("tool_calls")),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat()
    }
}
