//! A complete OpenAI chat completion encoded as a Messages response.

use infermux_core::Usage;
use serde_json::{Value, json};

use super::stop_reason;

/// Encodes `body` (an OpenAI `chat.completion`) as an Anthropic `message`, with `usage` (the
/// usage infermux learnt; cached tokens are reported apart from `input_tokens`, as Anthropic
/// does). `None` when `body` is not a chat completion.
pub fn encode_response(body: &[u8], usage: Option<Usage>) -> Option<Vec<u8>> {
    let chat: Value = serde_json::from_slice(body).ok()?;
    let choice = chat.get("choices")?.get(0)?;
    let message = choice.get("message")?;
    let mut content = Vec::new();
    let reasoning = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    if let Some(thinking) = reasoning {
        content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": text}));
    }
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for call in calls {
            let function = call.get("function");
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let arguments = function
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
                .unwrap_or("{}");
            let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            let id = call.get("id").and_then(Value::as_str).unwrap_or("");
            content.push(
                json!({"type": "tool_use", "id": tool_use_id(id), "name": name, "input": input}),
            );
        }
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let usage = usage.unwrap_or_default();
    let id = chat.get("id").and_then(Value::as_str).unwrap_or("infermux");
    let model = chat.get("model").and_then(Value::as_str).unwrap_or("");
    Some(
        json!({
            "id": message_id(id),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason(finish),
            "stop_sequence": null,
            "usage": usage_json(&usage),
        })
        .to_string()
        .into_bytes(),
    )
}

/// Anthropic's usage object for `usage`: cache reads and writes apart from `input_tokens`.
pub(super) fn usage_json(usage: &Usage) -> Value {
    let uncached = usage
        .prompt_tokens
        .saturating_sub(usage.cached_prompt_tokens)
        .saturating_sub(usage.cache_creation_tokens);
    json!({
        "input_tokens": uncached,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_prompt_tokens,
        "output_tokens": usage.completion_tokens,
    })
}

/// A `msg_` id from a provider's completion id.
pub(super) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{}", valid_id(id))
    }
}

/// A tool-call id Anthropic accepts (`^[a-zA-Z0-9_-]+$`): `functions.get_weather:0` becomes
/// `functions_get_weather_0`. The same input always gives the same id, so a call and its result
/// still match.
pub fn tool_use_id(id: &str) -> String {
    if id.is_empty() {
        return "toolu_infermux".to_owned();
    }
    valid_id(id)
}

fn valid_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tool_calls_and_reasoning() {
        let body = json!({
            "id": "chatcmpl-1", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Looking.", "reasoning_content": "think",
                "tool_calls": [{"id": "functions.get_weather:0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]
            }}]
        });
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 4,
            cached_prompt_tokens: 3,
            ..Usage::default()
        };
        let out: Value = serde_json::from_slice(
            &encode_response(body.to_string().as_bytes(), Some(usage)).expect("encodes"),
        )
        .expect("json");
        assert_eq!(out["type"], "message");
        assert_eq!(out["id"], "msg_chatcmpl-1");
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(out["content"][0]["type"], "thinking");
        assert_eq!(
            out["content"][1],
            json!({"type": "text", "text": "Looking."})
        );
        assert_eq!(out["content"][2]["id"], "functions_get_weather_0");
        assert_eq!(out["content"][2]["input"], json!({"city": "Paris"}));
        assert_eq!(out["usage"]["input_tokens"], 7);
        assert_eq!(out["usage"]["cache_read_input_tokens"], 3);
        assert_eq!(out["usage"]["output_tokens"], 4);
        assert!(encode_response(b"{}", None).is_none());
    }
}
