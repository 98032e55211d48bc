//! The OpenAI mock's `POST /v1/responses` (the Responses API).
//!
//! Wants a `model` and an `input` (a string, or a non-empty list of items whose `message`
//! items have a known role and whose `function_call_output` items have a `call_id`); refuses
//! `messages` (a chat body sent to the wrong path). Answers a `response` object, or with
//! `stream: true` the Responses event sequence ending in `response.completed` with the usage.
//! A scripted agent turn answers a `function_call` until the input holds a
//! `function_call_output`, then text.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::reply::{Answer, Reply, Turn, content_text};
use crate::tokens;

const ROLES: [&str; 4] = ["system", "developer", "user", "assistant"];

/// Answers one Responses request (already authorized).
pub(crate) fn responses(body: &Bytes, turn: &Turn) -> Result<Reply, Reply> {
    let req: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid(None, "We could not parse the JSON body of your request."))?;
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid(Some("model"), "Missing required parameter: 'model'."))?
        .to_owned();
    if req.get("messages").is_some() {
        return Err(invalid(Some("messages"), "Unknown parameter: 'messages'."));
    }
    // The input as chat-like messages, so that the shared script sees tool results.
    let messages: Vec<Value> = match req.get("input") {
        Some(Value::String(text)) => vec![json!({"role": "user", "content": text})],
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut messages = Vec::new();
            for (i, item) in items.iter().enumerate() {
                messages.push(item_message(i, item)?);
            }
            messages
        }
        _ => {
            return Err(invalid(
                Some("input"),
                "Missing required parameter: 'input'.",
            ));
        }
    };
    let texts: Vec<String> = messages
        .iter()
        .map(|m| content_text(m.get("content")))
        .collect();
    let prompt = tokens::prompt_tokens(&texts);
    let max = req.get("max_output_tokens").and_then(Value::as_u64);
    let answer = turn.answer_to(max, Some(&messages));
    let id = format!("resp_mock{}", turn.seq);
    let (item, completion, truncated) = match answer {
        Answer::Text {
            text,
            tokens,
            truncated,
        } => (
            json!({"type": "message", "id": format!("msg_mock{}", turn.seq), "status": "completed",
                   "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}),
            tokens,
            truncated,
        ),
        Answer::ToolCall {
            name,
            arguments,
            tokens,
        } => {
            let mut call = json!({"type": "function_call", "id": format!("fc_mock{}", turn.seq),
                   "call_id": format!("call_mock{}", turn.seq), "name": name,
                   "arguments": arguments, "status": "completed"});
            // A function of a `namespace` tool, scripted as `namespace__name`, is called as
            // OpenAI calls it: by its own name, with its namespace.
            if let Some((namespace, function)) = namespaced(&req, name) {
                call["namespace"] = Value::from(namespace);
                call["name"] = Value::from(function);
            }
            (call, tokens, false)
        }
    };
    let cached = turn.cache_read.min(prompt);
    let usage = json!({
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    });
    let status = if truncated { "incomplete" } else { "completed" };
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id, "object": "response", "created_at": turn.created, "status": status,
            "error": null, "incomplete_details": null, "model": model, "output": output,
            "parallel_tool_calls": true, "tool_choice": "auto", "tools": [], "usage": usage,
        })
    };
    if !req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(Reply::json(
            StatusCode::OK,
            &response(status, json!([item]), usage),
        ));
    }
    let mut events = Vec::new();
    let mut push = |kind: &str, mut data: Value| {
        data["type"] = Value::from(kind);
        data["sequence_number"] = Value::from(events.len());
        events.push(format!("event: {kind}\ndata: {data}\n\n"));
    };
    push(
        "response.created",
        json!({"response": response("in_progress", json!([]), Value::Null)}),
    );
    let item_id = item["id"].clone();
    if item["type"] == "message" {
        let mut added = item.clone();
        added["content"] = json!([]);
        added["status"] = json!("in_progress");
        push(
            "response.output_item.added",
            json!({"output_index": 0, "item": added}),
        );
        let empty = json!({"type": "output_text", "text": "", "annotations": []});
        push(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": empty}),
        );
        let text = item["content"][0]["text"].as_str().unwrap_or_default();
        for piece in tokens::pieces(text) {
            push(
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": 0, "content_index": 0, "delta": piece}),
            );
        }
        push(
            "response.output_text.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "text": text}),
        );
        push(
            "response.content_part.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": item["content"][0]}),
        );
    } else {
        let mut added = item.clone();
        added["arguments"] = json!("");
        added["status"] = json!("in_progress");
        push(
            "response.output_item.added",
            json!({"output_index": 0, "item": added}),
        );
        let arguments = item["arguments"].as_str().unwrap_or_default();
        for fragment in tokens::json_fragments(arguments) {
            push(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": 0, "delta": fragment}),
            );
        }
        push(
            "response.function_call_arguments.done",
            json!({"item_id": item_id, "output_index": 0, "arguments": arguments}),
        );
    }
    push(
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    );
    let last = if truncated {
        "response.incomplete"
    } else {
        "response.completed"
    };
    push(
        last,
        json!({"response": response(status, json!([item]), usage)}),
    );
    Ok(Reply::sse(events))
}

/// `name` split as `namespace__function` when the request has a `namespace` tool of that name
/// holding that function.
fn namespaced<'a>(req: &Value, name: &'a str) -> Option<(&'a str, &'a str)> {
    let (namespace, function) = name.split_once("__")?;
    let extra = req
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "additional_tools")
        .flat_map(|item| item["tools"].as_array().into_iter().flatten());
    req.get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(extra)
        .filter(|t| t["type"] == "namespace" && t["name"] == namespace)
        .flat_map(|t| t["tools"].as_array().into_iter().flatten())
        .any(|f| f["name"] == function)
        .then_some((namespace, function))
}

/// One input item as a chat-like message; refuses what OpenAI refuses.
fn item_message(index: usize, item: &Value) -> Result<Value, Reply> {
    match item.get("type").and_then(Value::as_str) {
        None | Some("message") => {
            let role = item.get("role").and_then(Value::as_str).unwrap_or_default();
            if !ROLES.contains(&role) {
                return Err(invalid(
                    Some(&format!("input[{index}].role")),
                    &format!("Invalid value: '{role}'."),
                ));
            }
            Ok(
                json!({"role": role, "content": item.get("content").cloned().unwrap_or(Value::Null)}),
            )
        }
        Some("function_call_output") => {
            if item.get("call_id").and_then(Value::as_str).is_none() {
                return Err(invalid(
                    Some(&format!("input[{index}].call_id")),
                    "Missing required parameter: 'call_id'.",
                ));
            }
            Ok(
                json!({"role": "tool", "content": item.get("output").cloned().unwrap_or(Value::Null)}),
            )
        }
        Some(_) => Ok(json!({"role": "assistant", "content": null})),
    }
}

fn invalid(param: Option<&str>, message: &str) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}
