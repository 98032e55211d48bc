//! The Anthropic mock: `POST /v1/messages`, `GET /v1/models`.
//!
//! Every route wants an `x-api-key` (401 `authentication_error` otherwise) and an
//! `anthropic-version` header (400 `invalid_request_error` otherwise). Messages wants `model`,
//! `max_tokens` and `messages`; the first message must be `user`, roles must alternate, and a
//! `system` role inside `messages` is refused (400) — a system prompt goes in the top-level
//! `system`, which counts as one more message in `input_tokens` — unless the request carries an
//! `anthropic-beta` header (the betas Claude Code sends allow mid-conversation system turns).
//! Like the real API it refuses top-level fields it does not know ("Extra inputs are not
//! permitted"), tool-use ids outside `^[a-zA-Z0-9_-]+$`, tool names outside
//! `^[a-zA-Z0-9_-]{1,128}$` and image media types other than jpeg, png, gif and webp; it accepts
//! `thinking`, `output_format` / `output_config`, `context_management`, `metadata`.
//! `POST /v1/messages/count_tokens` answers `{"input_tokens": N}` with the same count.
//!
//! The answer is a `message` with a `text` block (or one `tool_use` block) and `stop_reason`
//! `end_turn`, `tool_use`, or `max_tokens` when `max_tokens` is below the reply's words (the
//! reply is then cut to `max_tokens` words). With `stream: true` it is the real event sequence:
//! `message_start`, `content_block_start`, `ping`, one `content_block_delta` per word
//! (`text_delta`) or two `input_json_delta` fragments, `content_block_stop`, `message_delta`
//! (`stop_reason`, `usage.output_tokens`), `message_stop`. The cache fields of `usage` are
//! whatever `set_cache_usage` set (0 by default), on top of `input_tokens`, as Anthropic
//! reports them.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::reply::{Answer, Reply, Turn, content_text};
use crate::server::Kind;
use crate::tokens;

pub(crate) const DEFAULT_MODELS: [&str; 3] =
    ["claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"];

/// Which requests are traffic and which are health checks.
pub(crate) fn classify(method: &Method, path: &str) -> Kind {
    match (method, path) {
        (&Method::POST, "/v1/messages" | "/v1/messages/count_tokens") => Kind::Traffic,
        (&Method::GET, "/v1/models") => Kind::Health,
        _ => Kind::Other,
    }
}

/// Answers one request.
pub(crate) fn handle(parts: &Parts, body: &Bytes, turn: &Turn) -> Reply {
    let reply = match (&parts.method, parts.uri.path()) {
        (&Method::POST, "/v1/messages") => {
            authorize(parts).and_then(|()| messages(parts, body, turn, false))
        }
        (&Method::POST, "/v1/messages/count_tokens") => {
            authorize(parts).and_then(|()| messages(parts, body, turn, true))
        }
        (&Method::GET, "/v1/models") => authorize(parts).map(|()| models(turn)),
        _ => Err(error(StatusCode::NOT_FOUND, "not_found_error", "Not Found")),
    };
    reply
        .unwrap_or_else(|e| e)
        .with_header("request-id", format!("req_mock{}", turn.seq))
}

/// The body of an Anthropic error: `{"type":"error","error":{"type","message"}}`.
pub(crate) fn error_body(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

fn error(status: StatusCode, kind: &str, message: &str) -> Reply {
    Reply::json(status, &error_body(kind, message))
}

fn invalid(message: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

fn authorize(parts: &Parts) -> Result<(), Reply> {
    let present = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().is_empty())
    };
    if !present("x-api-key") {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
        ));
    }
    if !present("anthropic-version") {
        return Err(invalid("anthropic-version: header is required"));
    }
    Ok(())
}

/// The top-level fields of a Messages request the API accepts.
const FIELDS: [&str; 19] = [
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "context_management",
    "output_format",
    "output_config",
    "service_tier",
    "container",
    "mcp_servers",
];

fn valid_id(id: &str, max: usize) -> bool {
    !id.is_empty()
        && id.len() <= max
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The content-block rules the real API enforces and translations get wrong.
fn check_blocks(i: usize, message: &Value) -> Result<(), Reply> {
    let Some(blocks) = message.get("content").and_then(Value::as_array) else {
        return Ok(());
    };
    for (j, block) in blocks.iter().enumerate() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let id = match kind {
            "tool_use" => block.get("id"),
            "tool_result" => block.get("tool_use_id"),
            _ => None,
        };
        if let Some(id) = id
            && !id.as_str().is_some_and(|id| valid_id(id, 256))
        {
            return Err(invalid(&format!(
                "messages.{i}.content.{j}.{kind}.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
            )));
        }
        if kind == "image"
            && let Some(media) = block.pointer("/source/media_type").and_then(Value::as_str)
            && !["image/jpeg", "image/png", "image/gif", "image/webp"].contains(&media)
        {
            return Err(invalid(&format!(
                "messages.{i}.content.{j}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
            )));
        }
    }
    Ok(())
}

fn messages(parts: &Parts, body: &Bytes, turn: &Turn, count_only: bool) -> Result<Reply, Reply> {
    let req = match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(invalid(
                "There was an error parsing the body of your request: expected a JSON object",
            ));
        }
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("model: Field required"))?;
    if let Some(field) = req
        .as_object()
        .and_then(|o| o.keys().find(|k| !FIELDS.contains(&k.as_str())))
    {
        return Err(invalid(&format!("{field}: Extra inputs are not permitted")));
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        for (i, tool) in tools.iter().enumerate() {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            if !valid_id(name, 128) {
                return Err(invalid(&format!(
                    "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
                )));
            }
        }
    }
    let max_tokens = match req.get("max_tokens").and_then(Value::as_u64) {
        Some(max) => max,
        None if count_only => u64::MAX,
        None => return Err(invalid("max_tokens: Field required")),
    };
    let system_turns = parts.headers.contains_key("anthropic-beta");
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages: Field required"))?;
    if messages.is_empty() {
        return Err(invalid("messages: at least one message is required"));
    }
    let mut previous = "";
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        check_blocks(i, message)?;
        if role == "system" && system_turns && i > 0 {
            previous = "system";
            continue;
        }
        if role != "user" && role != "assistant" {
            return Err(invalid(&format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            )));
        }
        if i == 0 && role != "user" {
            return Err(invalid(
                "messages: first message must use the \"user\" role",
            ));
        }
        if role == previous {
            return Err(invalid(&format!(
                "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \
                 \"{role}\" roles in a row"
            )));
        }
        previous = role;
    }
    let system = match req.get("system") {
        None | Some(Value::Null) => None,
        Some(s @ (Value::String(_) | Value::Array(_))) => Some(content_text(Some(s))),
        Some(_) => return Err(invalid("system: Input should be a valid string")),
    };

    let texts: Vec<String> = system
        .into_iter()
        .chain(messages.iter().map(|m| content_text(m.get("content"))))
        .collect();
    let input = tokens::prompt_tokens(&texts);
    if count_only {
        return Ok(Reply::json(
            StatusCode::OK,
            &json!({ "input_tokens": input }),
        ));
    }
    let answer = turn.answer_to(Some(max_tokens), Some(messages));
    let id = format!("msg_mock{}", turn.seq);
    let usage = |output: u32| {
        json!({
            "input_tokens": input,
            "output_tokens": output,
            "cache_creation_input_tokens": turn.cache_write,
            "cache_read_input_tokens": turn.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": turn.cache_write - turn.cache_write_1h,
                "ephemeral_1h_input_tokens": turn.cache_write_1h
            },
            "service_tier": turn.service_tier.as_deref().unwrap_or("standard")
        })
    };

    let (content, stop_reason, output) = match &answer {
        Answer::Text {
            text,
            tokens,
            truncated,
        } => (
            json!({ "type": "text", "text": text }),
            if *truncated { "max_tokens" } else { "end_turn" },
            *tokens,
        ),
        Answer::ToolCall {
            name,
            arguments,
            tokens,
        } => {
            let input: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            (
                json!({ "type": "tool_use", "id": format!("toolu_mock{}", turn.seq), "name": name, "input": input }),
                "tool_use",
                *tokens,
            )
        }
    };

    if !req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(Reply::json(
            StatusCode::OK,
            &json!({
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [content],
                "stop_reason": stop_reason,
                "stop_sequence": null,
                "usage": usage(output)
            }),
        ));
    }

    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![event(
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage(1)
            }
        }),
    )];
    let (block, deltas): (Value, Vec<Value>) = match &answer {
        Answer::Text { text, .. } => (
            json!({ "type": "text", "text": "" }),
            tokens::pieces(text)
                .into_iter()
                .map(|p| json!({ "type": "text_delta", "text": p }))
                .collect(),
        ),
        Answer::ToolCall {
            name, arguments, ..
        } => (
            json!({ "type": "tool_use", "id": format!("toolu_mock{}", turn.seq), "name": name, "input": {} }),
            tokens::json_fragments(arguments)
                .into_iter()
                .map(|f| json!({ "type": "input_json_delta", "partial_json": f }))
                .collect(),
        ),
    };
    events.push(event(
        "content_block_start",
        json!({ "type": "content_block_start", "index": 0, "content_block": block }),
    ));
    events.push(event("ping", json!({ "type": "ping" })));
    for delta in deltas {
        events.push(event(
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
        ));
    }
    events.push(event(
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(event(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": output }
        }),
    ));
    events.push(event("message_stop", json!({ "type": "message_stop" })));
    Ok(Reply::sse(events))
}

fn models(turn: &Turn) -> Reply {
    let data: Vec<Value> = turn
        .models
        .iter()
        .map(|id| json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-11-24T00:00:00Z" }))
        .collect();
    Reply::json(
        StatusCode::OK,
        &json!({
            "data": data,
            "has_more": false,
            "first_id": turn.models.first(),
            "last_id": turn.models.last()
        }),
    )
}
