//! What a provider handler gets (a [`Turn`]) and what it gives back (a [`Reply`]).
//!
//! Handlers are plain functions from a request to a `Reply`: they never touch sockets, so the
//! server applies faults (pacing, cuts) the same way to every provider's answer.

use std::time::SystemTime;

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use crate::tokens;

/// What the mock answers with, as set by `set_reply` / `set_tool_call`.
#[derive(Clone, Debug)]
pub(crate) enum Script {
    /// Assistant text.
    Text(String),
    /// A call of one tool with these arguments (a JSON object, validated when set).
    ToolCall { name: String, arguments: String },
    /// An agent turn: a call of one tool while the conversation holds no tool result, then
    /// this text once it does.
    ToolThenText {
        name: String,
        arguments: String,
        text: String,
    },
}

/// The answer a handler should give, after any `max_tokens` limit.
pub(crate) enum Answer<'a> {
    /// Text, its completion tokens, and whether `max_tokens` cut it short.
    Text {
        text: &'a str,
        tokens: u32,
        truncated: bool,
    },
    /// A tool call and its completion tokens.
    ToolCall {
        name: &'a str,
        arguments: &'a str,
        tokens: u32,
    },
}

/// A snapshot of the mock's settings, taken when a request arrives.
#[derive(Clone, Debug)]
pub(crate) struct Turn {
    pub(crate) script: Script,
    pub(crate) cache_read: u32,
    pub(crate) cache_write: u32,
    /// Answer without usage (an OpenAI-compatible server that reports none).
    pub(crate) omit_usage: bool,
    /// Of `cache_write`, the tokens written for 1 hour (Anthropic's `cache_creation`).
    pub(crate) cache_write_1h: u32,
    /// The `service_tier` answered, when set.
    pub(crate) service_tier: Option<String>,
    pub(crate) models: Vec<String>,
    /// Serial number of this request, for ids such as `chatcmpl-mock-7`.
    pub(crate) seq: u64,
    /// Unix seconds at arrival.
    pub(crate) created: u64,
    /// Arrival time, for RFC 3339 timestamps.
    pub(crate) created_at: SystemTime,
}

/// A response body before faults shape it: whole, or already split into stream chunks.
pub(crate) enum ReplyBody {
    Whole(Bytes),
    Chunks(Vec<Bytes>),
}

/// A response, before faults shape its body.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: ReplyBody,
}

// === impl Script ===

impl Default for Script {
    fn default() -> Self {
        Self::Text("Hello!".to_owned())
    }
}

// === impl Turn ===

impl Turn {
    /// The answer to a conversation of `messages` (which decide between a tool call and text
    /// for [`Script::ToolThenText`]), with text cut to `max_tokens` words.
    pub(crate) fn answer_to(
        &self,
        max_tokens: Option<u64>,
        messages: Option<&[Value]>,
    ) -> Answer<'_> {
        let text = match &self.script {
            Script::Text(text) => text,
            Script::ToolCall { name, arguments } => {
                return Answer::ToolCall {
                    name,
                    arguments,
                    tokens: tokens::tool_call_tokens(name, arguments),
                };
            }
            Script::ToolThenText {
                name,
                arguments,
                text,
            } => {
                if !messages.is_some_and(|m| m.iter().any(is_tool_result)) {
                    return Answer::ToolCall {
                        name,
                        arguments,
                        tokens: tokens::tool_call_tokens(name, arguments),
                    };
                }
                text
            }
        };
        let full = tokens::completion_tokens(text);
        let limit = max_tokens.map_or(u32::MAX, |m| u32::try_from(m).unwrap_or(u32::MAX));
        if full > limit {
            Answer::Text {
                text: tokens::truncate_words(text, limit),
                tokens: limit,
                truncated: true,
            }
        } else {
            Answer::Text {
                text,
                tokens: full,
                truncated: false,
            }
        }
    }
}

/// Whether a message carries a tool's result: an OpenAI or Ollama `tool` message, or an
/// Anthropic user message with a `tool_result` block.
fn is_tool_result(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("tool")
        || message
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|blocks| {
                blocks
                    .iter()
                    .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            })
}

// === impl Reply ===

impl Reply {
    /// A JSON response.
    pub(crate) fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: ReplyBody::Whole(Bytes::from(value.to_string())),
        }
    }

    /// A plain-text response.
    pub(crate) fn text(status: StatusCode, text: &'static str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: ReplyBody::Whole(Bytes::from_static(text.as_bytes())),
        }
    }

    /// A `text/event-stream` response of these events (each already framed, `\n\n` included).
    pub(crate) fn sse(events: Vec<String>) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: "text/event-stream",
            headers: vec![("cache-control", "no-cache".to_owned())],
            body: ReplyBody::Chunks(events.into_iter().map(Bytes::from).collect()),
        }
    }

    /// An `application/x-ndjson` response of these objects, one line each.
    pub(crate) fn ndjson(lines: &[Value]) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: "application/x-ndjson",
            headers: Vec::new(),
            body: ReplyBody::Chunks(
                lines
                    .iter()
                    .map(|l| Bytes::from(format!("{l}\n")))
                    .collect(),
            ),
        }
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// The text of a message `content`: a string, or an array of parts whose text counts
/// (`{"type":"text","text":..}`, and Anthropic `tool_result` blocks through their own `content`);
/// images and other parts have no text.
pub(crate) fn content_text(content: Option<&Value>) -> String {
    fn collect<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => out.push(s),
            Value::Array(parts) => parts.iter().for_each(|p| collect(p, out)),
            Value::Object(map) => {
                if let Some(Value::String(text)) = map.get("text") {
                    out.push(text);
                } else if let Some(inner) = map.get("content") {
                    collect(inner, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(content) = content {
        collect(content, &mut out);
    }
    out.join(" ")
}
