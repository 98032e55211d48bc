//! A complete OpenAI chat completion encoded as a Responses `response` object.

use infermux_core::Usage;
use serde_json::{Value, json};

/// Encodes `body` (an OpenAI `chat.completion`) as a Responses `response`, with `usage` (the
/// usage infermux learnt); calls of functions flattened from the client's `namespaces` are
/// split back. `None` when `body` is not a chat completion.
pub fn encode_response(
    body: &[u8],
    usage: Option<Usage>,
    created_at: u64,
    namespaces: &[String],
) -> Option<Vec<u8>> {
    let chat: Value = serde_json::from_slice(body).ok()?;
    let choice = chat.get("choices")?.get(0)?;
    let message = choice.get("message")?;
    let id = response_id(chat.get("id").and_then(Value::as_str).unwrap_or("infermux"));
    let mut output = Vec::new();
    let reasoning = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    if let Some(text) = reasoning {
        output.push(reasoning_item(&format!("rs_{id}"), text));
    }
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        output.push(message_item(&format!("msg_{id}"), text, "completed"));
    }
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for (i, call) in calls.iter().enumerate() {
            let function = call.get("function");
            let field = |name: &str| {
                function
                    .and_then(|f| f.get(name))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            let call_id = call.get("id").and_then(Value::as_str).unwrap_or("");
            let call_id = if call_id.is_empty() {
                format!("call_{id}_{i}")
            } else {
                call_id.to_owned()
            };
            output.push(function_call_item(
                &format!("fc_{id}_{i}"),
                &call_id,
                field("name"),
                field("arguments"),
                "completed",
                namespaces,
            ));
        }
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let model = chat.get("model").and_then(Value::as_str).unwrap_or("");
    let usage = usage.unwrap_or_default();
    Some(
        response_object(&id, model, created_at, status(finish), output, Some(&usage))
            .to_string()
            .into_bytes(),
    )
}

/// The Responses status of an answer that ended with OpenAI chat's `finish_reason`.
pub(super) fn status(finish_reason: &str) -> &'static str {
    if finish_reason == "length" {
        "incomplete"
    } else {
        "completed"
    }
}

/// A `resp_` id from a provider's completion id.
pub(super) fn response_id(id: &str) -> String {
    let id = id
        .strip_prefix("chatcmpl-")
        .or_else(|| id.strip_prefix("msg_"))
        .unwrap_or(id);
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("resp_{clean}")
}

/// A `response` object; `usage` is `null` until known.
pub(super) fn response_object(
    id: &str,
    model: &str,
    created_at: u64,
    status: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    let incomplete = (status == "incomplete").then(|| json!({"reason": "max_output_tokens"}));
    json!({
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": null,
        "metadata": {},
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "temperature": null,
        "top_p": null,
        "tool_choice": "auto",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "usage": usage.map(usage_json),
    })
}

/// The Responses usage object: `input_tokens` include the cached ones, as OpenAI counts them.
pub fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_prompt_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens(),
    })
}

pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message", "id": id, "status": status, "role": "assistant",
        "content": [output_text(text)],
    })
}

pub(super) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

pub(super) fn reasoning_item(id: &str, text: &str) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    json!({"type": "reasoning", "id": id, "summary": summary})
}

pub(super) fn function_call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
    namespaces: &[String],
) -> Value {
    let mut item = json!({
        "type": "function_call", "id": id, "call_id": call_id, "name": name,
        "arguments": arguments, "status": status,
    });
    if let Some((namespace, function)) = super::request::split_namespace(name, namespaces) {
        item["namespace"] = Value::from(namespace);
        item["name"] = Value::from(function);
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tool_calls_reasoning_and_usage() {
        let body = json!({
            "id": "chatcmpl-1", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Looking.", "reasoning_content": "think",
                "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]
            }}]
        });
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 4,
            cached_prompt_tokens: 3,
            reasoning_tokens: 2,
            ..Usage::default()
        };
        let out: Value = serde_json::from_slice(
            &encode_response(body.to_string().as_bytes(), Some(usage), 7, &[]).expect("encodes"),
        )
        .expect("json");
        assert_eq!(out["object"], "response");
        assert_eq!(out["id"], "resp_1");
        assert_eq!(out["status"], "completed");
        assert_eq!(out["output"][0]["type"], "reasoning");
        assert_eq!(out["output"][1]["content"][0]["text"], "Looking.");
        assert_eq!(out["output"][2]["type"], "function_call");
        assert_eq!(out["output"][2]["call_id"], "call_9");
        assert_eq!(out["output"][2]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(out["usage"]["input_tokens"], 10);
        assert_eq!(out["usage"]["input_tokens_details"]["cached_tokens"], 3);
        assert_eq!(out["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
        assert_eq!(out["usage"]["total_tokens"], 14);
        assert!(encode_response(b"{}", None, 0, &[]).is_none());
    }

    #[test]
    fn length_is_incomplete() {
        let body = json!({"id": "x", "model": "m", "choices": [{"finish_reason": "length",
            "message": {"role": "assistant", "content": "cut"}}]});
        let out: Value = serde_json::from_slice(
            &encode_response(body.to_string().as_bytes(), None, 0, &[]).expect("encodes"),
        )
        .expect("json");
        assert_eq!(out["status"], "incomplete");
        assert_eq!(
            out["incomplete_details"]["reason"],
            json!("max_output_tokens")
        );
    }
}
