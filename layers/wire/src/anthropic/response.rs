//! Anthropic `message` -> OpenAI `chat.completion`, and what streams share with it.

use infermux_core::Usage;
use serde::Deserialize;
use serde_json::{Value, json};

use super::DecodeError;

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
///
/// `end_turn` and `stop_sequence` -> `stop`, `max_tokens` and `model_context_window_exceeded`
/// (the answer was cut short either way) -> `length`, `tool_use` -> `tool_calls`, `refusal` ->
/// `content_filter`; anything else (`pause_turn`, reasons added later) -> `stop`.
pub(crate) fn map_stop_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Decodes an Anthropic `message` body into an OpenAI `chat.completion` body and its usage.
///
/// The completion keeps Anthropic's `id` and `model`, takes `created` (Unix seconds) from the
/// caller, and has one choice: the text blocks concatenated as `content` (`null` when the model
/// only called tools), `tool_use` blocks as `tool_calls` (the input JSON-encoded as
/// `arguments`), and `stop_reason` mapped to a `finish_reason`. `thinking` blocks become
/// the message's `reasoning_content`; `redacted_thinking` and server tool blocks have no OpenAI
/// equivalent and are skipped.
/// A body that is an Anthropic error object yields [`DecodeError::Provider`].
pub fn decode_response(body: &[u8], created: u64) -> Result<(Vec<u8>, Usage), DecodeError> {
    let value: Value = serde_json::from_slice(body)?;
    if let Some(error) = provider_error(&value) {
        return Err(error);
    }
    let message: Message = serde_json::from_value(value)?;

    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block {
            Block::Text { text: part } => text.push_str(&part),
            Block::Thinking { thinking } => reasoning.push_str(&thinking),
            Block::ToolUse { id, name, input } => tool_calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": serde_json::to_string(&input)?},
            })),
            Block::Other => {}
        }
    }
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        text.into()
    };
    let mut reply = json!({"role": "assistant", "content": content, "refusal": null});
    if !tool_calls.is_empty() {
        reply["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        // Where OpenAI-compatible reasoning servers put it (DeepSeek, vLLM, and the SDKs read it).
        reply["reasoning_content"] = reasoning.into();
    }
    let usage = message.usage.to_usage();
    let completion = json!({
        "id": message.id,
        "object": "chat.completion",
        "created": created,
        "model": message.model,
        "choices": [{
            "index": 0,
            "message": reply,
            "logprobs": null,
            "finish_reason": map_stop_reason(message.stop_reason.as_deref().unwrap_or_default()),
        }],
        "usage": openai_usage(&usage),
    });
    Ok((serde_json::to_vec(&completion)?, usage))
}

/// The [`DecodeError::Provider`] of an Anthropic error object
/// (`{"type": "error", "error": {"type": .., "message": ..}}`), if `value` is one.
pub(crate) fn provider_error(value: &Value) -> Option<DecodeError> {
    if value.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let field = |name: &str| {
        value
            .pointer(&format!("/error/{name}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(DecodeError::Provider {
        kind: field("type"),
        message: field("message"),
    })
}

/// OpenAI's `usage` object for `usage`: prompt tokens include the cached ones, which
/// `prompt_tokens_details.cached_tokens` counts (reads from the cache only).
pub(crate) fn openai_usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens(),
        "prompt_tokens_details": {"cached_tokens": usage.cached_prompt_tokens},
    })
}

/// Anthropic's `usage` object (of a message, or of a `message_delta` event, where every
/// field but `output_tokens` may be absent and each one present is a running total).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AnthropicUsage {
    /// Input tokens that were neither read from nor written to the cache.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Output tokens (thinking included).
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    /// Cache writes by lifetime (`ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`).
    #[serde(default)]
    pub(crate) cache_creation: Option<CacheCreation>,
    /// The processing tier (`standard`, `priority`, `batch`).
    #[serde(default)]
    pub service_tier: Option<String>,
}

/// Anthropic's `usage.cache_creation`: cache writes by lifetime.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CacheCreation {
    /// Tokens written with a 1-hour lifetime (priced at `cache_write_1h`).
    #[serde(default)]
    pub(crate) ephemeral_1h_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Overwrites `usage` with the counts this object carries; absent ones are left as they are.
    pub(crate) fn update(&self, usage: &mut Usage) {
        let uncached = self.input_tokens.unwrap_or_else(|| {
            usage
                .prompt_tokens
                .saturating_sub(usage.cached_prompt_tokens + usage.cache_creation_tokens)
        });
        if let Some(read) = self.cache_read_input_tokens {
            usage.cached_prompt_tokens = read;
        }
        if let Some(written) = self.cache_creation_input_tokens {
            usage.cache_creation_tokens = written;
        }
        if let Some(hour) = self
            .cache_creation
            .as_ref()
            .and_then(|c| c.ephemeral_1h_input_tokens)
        {
            usage.cache_creation_1h_tokens = hour;
        }
        if let Some(tier) = &self.service_tier {
            usage.service_tier = infermux_core::ServiceTier::from_wire(tier);
        }
        usage.prompt_tokens = uncached + usage.cached_prompt_tokens + usage.cache_creation_tokens;
        if let Some(output) = self.output_tokens {
            usage.completion_tokens = output;
        }
    }

    /// The [`Usage`] this object reports on its own.
    pub(crate) fn to_usage(&self) -> Usage {
        let mut usage = Usage::default();
        self.update(&mut usage);
        usage
    }
}

/// The part of an Anthropic `message` that the translation reads.
#[derive(Debug, Deserialize)]
struct Message {
    /// Message id (`msg_..`).
    id: String,
    /// The model that answered.
    model: String,
    /// Content blocks.
    #[serde(default)]
    content: Vec<Block>,
    /// Why the model stopped.
    #[serde(default)]
    stop_reason: Option<String>,
    /// Billed tokens.
    #[serde(default)]
    usage: AnthropicUsage,
}

/// An Anthropic content block.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    /// Answer text.
    Text {
        /// The text.
        text: String,
    },
    /// A call of a client tool.
    ToolUse {
        /// Call id (`toolu_..`).
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        #[serde(default)]
        input: Value,
    },
    /// The model's visible reasoning.
    Thinking {
        /// The reasoning text.
        #[serde(default)]
        thinking: String,
    },
    /// Redacted thinking, server tools and anything else OpenAI has no place for.
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a fixture, returning the completion as JSON and the usage.
    fn decode(body: Value) -> (Value, Usage) {
        let (completion, usage) =
            decode_response(body.to_string().as_bytes(), 1_741_569_952).expect("decodes");
        (
            serde_json::from_slice(&completion).expect("valid JSON"),
            usage,
        )
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(map_stop_reason("end_turn"), "stop");
        assert_eq!(map_stop_reason("stop_sequence"), "stop");
        assert_eq!(map_stop_reason("max_tokens"), "length");
        assert_eq!(map_stop_reason("model_context_window_exceeded"), "length");
        assert_eq!(map_stop_reason("tool_use"), "tool_calls");
        assert_eq!(map_stop_reason("refusal"), "content_filter");
        assert_eq!(map_stop_reason("pause_turn"), "stop");
        assert_eq!(map_stop_reason("something_new"), "stop");
    }

    #[test]
    fn text_response() {
        let (completion, usage) = decode(json!({
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "thinking", "thinking": "The user greets me.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
                {"type": "text", "text": "Hi! My name is Claude."},
                {"type": "text", "text": " How can I help?"}
            ],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {
                "input_tokens": 2095,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 503,
                "service_tier": "standard"
            }
        }));
        assert_eq!(
            completion,
            json!({
                "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
                "object": "chat.completion",
                "created": 1_741_569_952,
                "model": "claude-sonnet-4-5-20250929",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi! My name is Claude. How can I help?", "refusal": null,
                                "reasoning_content": "The user greets me."},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": {
                    "prompt_tokens": 2095,
                    "completion_tokens": 503,
                    "total_tokens": 2598,
                    "prompt_tokens_details": {"cached_tokens": 0}
                }
            })
        );
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 2095,
                completion_tokens: 503,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn tool_use_response() {
        let (completion, _) = decode(json!({
            "id": "msg_01Aq9w938a90dw8q",
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-1-20250805",
            "content": [
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                 "input": {"location": "San Francisco, CA", "unit": "celsius"}},
                {"type": "tool_use", "id": "toolu_01B19q90qw90lq917835lq8", "name": "get_time", "input": {}}
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 472, "output_tokens": 89}
        }));
        let choice = &completion["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        let calls = choice["message"]["tool_calls"]
            .as_array()
            .expect("tool calls");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["id"], "toolu_01A09q90qw90lq917835lq9");
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        let arguments: Value = serde_json::from_str(
            calls[0]["function"]["arguments"]
                .as_str()
                .expect("string arguments"),
        )
        .expect("JSON arguments");
        assert_eq!(
            arguments,
            json!({"location": "San Francisco, CA", "unit": "celsius"})
        );
        assert_eq!(calls[1]["function"]["arguments"], "{}");
    }

    #[test]
    fn text_and_tool_use_response() {
        let (completion, _) = decode(json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [
                {"type": "text", "text": "I'll check the weather."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 20}
        }));
        let message = &completion["choices"][0]["message"];
        assert_eq!(message["content"], "I'll check the weather.");
        assert_eq!(message["tool_calls"][0]["function"]["name"], "get_weather");
    }

    #[test]
    fn cache_usage_and_max_tokens() {
        let (completion, usage) = decode(json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "The document describes"}],
            "stop_reason": "max_tokens",
            "stop_sequence": null,
            "usage": {
                "input_tokens": 21,
                "cache_creation_input_tokens": 188,
                "cache_read_input_tokens": 1500,
                "cache_creation": {"ephemeral_5m_input_tokens": 188, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 393,
                "service_tier": "standard"
            }
        }));
        assert_eq!(completion["choices"][0]["finish_reason"], "length");
        assert_eq!(
            completion["usage"],
            json!({
                "prompt_tokens": 1709,
                "completion_tokens": 393,
                "total_tokens": 2102,
                "prompt_tokens_details": {"cached_tokens": 1500}
            })
        );
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 1709,
                completion_tokens: 393,
                cached_prompt_tokens: 1500,
                cache_creation_tokens: 188,
                reasoning_tokens: 0,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn refusal_and_empty_content() {
        let (completion, _) = decode(json!({
            "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [], "stop_reason": "refusal", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 0}
        }));
        assert_eq!(completion["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(completion["choices"][0]["message"]["content"], "");
    }

    #[test]
    fn error_and_garbage_bodies() {
        let error = json!({
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"
        });
        match decode_response(error.to_string().as_bytes(), 0) {
            Err(DecodeError::Provider { kind, message }) => {
                assert_eq!(kind, "overloaded_error");
                assert_eq!(message, "Overloaded");
            }
            other => panic!("expected a provider error, got {other:?}"),
        }
        assert!(matches!(
            decode_response(b"<html>502 Bad Gateway</html>", 0),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode_response(br#"{"type": "message", "content": []}"#, 0),
            Err(DecodeError::Json(_))
        ));
    }
}
