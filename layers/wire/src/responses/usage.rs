//! Usage located in a passed-through Responses answer: the `usage` of a `response` object, or
//! of the `response` carried by a stream's terminal event. Only the `data:` lines that carry a
//! `usage` are parsed.

use infermux_core::Usage;
use serde::Deserialize;

use crate::scan::{Lines, keys};

#[derive(Debug, Default, Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: u64,
    #[serde(default)]
    reasoning_tokens: u64,
}

#[derive(Debug, Default, Deserialize)]
struct ResponsesUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<Details>,
    #[serde(default)]
    output_tokens_details: Option<Details>,
}

impl From<ResponsesUsage> for Usage {
    fn from(usage: ResponsesUsage) -> Self {
        Self {
            prompt_tokens: usage.input_tokens,
            completion_tokens: usage.output_tokens,
            cached_prompt_tokens: usage.input_tokens_details.map_or(0, |d| d.cached_tokens),
            reasoning_tokens: usage
                .output_tokens_details
                .map_or(0, |d| d.reasoning_tokens),
            ..Usage::default()
        }
    }
}

#[derive(Deserialize)]
struct WithUsage {
    #[serde(default)]
    usage: Option<ResponsesUsage>,
    #[serde(default)]
    response: Option<Box<WithUsage>>,
}

/// The usage of a complete Responses `response` body.
pub fn response_usage(body: &[u8]) -> Option<Usage> {
    let parsed: WithUsage = serde_json::from_slice(body).ok()?;
    parsed.usage.map(Usage::from)
}

/// Watches a passing Responses stream for its usage (in `response.completed` or
/// `response.incomplete`) and for how it ends.
#[derive(Debug, Default)]
pub struct UsageObserver {
    lines: Lines,
    usage: Option<Usage>,
    completed: bool,
    errored: bool,
}

impl UsageObserver {
    /// A fresh observer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at the next bytes of the stream (split anywhere).
    pub fn observe(&mut self, bytes: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |line| self.line(line));
        self.lines = lines;
    }

    fn line(&mut self, line: &[u8]) {
        if let Some(name) = line.strip_prefix(b"event:") {
            match name.trim_ascii() {
                b"response.completed" | b"response.incomplete" => self.completed = true,
                b"response.failed" | b"error" => self.errored = true,
                _ => {}
            }
            return;
        }
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        if keys::USAGE.first_value(data).is_none() {
            return;
        }
        if let Ok(parsed) = serde_json::from_slice::<WithUsage>(data)
            && let Some(usage) = parsed.response.and_then(|r| r.usage)
        {
            self.usage = Some(usage.into());
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Whether the terminal event (`response.completed` / `response.incomplete`) passed.
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Whether the provider itself reported a failure (`response.failed`, `error`).
    pub fn errored(&self) -> bool {
        self.errored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_from_body_and_stream() {
        let body = br#"{"id":"resp_1","usage":{"input_tokens":9,"output_tokens":3,"input_tokens_details":{"cached_tokens":2},"output_tokens_details":{"reasoning_tokens":1}}}"#;
        let usage = response_usage(body).expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (9, 3));
        assert_eq!((usage.cached_prompt_tokens, usage.reasoning_tokens), (2, 1));

        let stream = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}}\n\n";
        let mut observer = UsageObserver::new();
        for piece in stream.as_bytes().chunks(5) {
            observer.observe(piece);
        }
        assert!(observer.completed());
        assert!(!observer.errored());
        assert_eq!(observer.usage(), Some(Usage::new(5, 2)));
    }
}
