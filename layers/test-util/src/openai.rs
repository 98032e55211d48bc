//! The OpenAI mock: `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`, and
//! `POST /v1/responses` (in `openai_responses`).
//!
//! Every route wants `Authorization: Bearer <anything>` (401 `invalid_api_key` otherwise).
//! Chat wants a `model` and a non-empty `messages` array of known roles (400 otherwise) and
//! answers a `chat.completion`, or with `stream: true` an SSE stream of `chat.completion.chunk`s:
//! a role chunk, one content chunk per word (or two `arguments` fragments for a tool call), a
//! finish chunk, a usage chunk (`choices: []`) only when `stream_options.include_usage` is true
//! (the other chunks then carry `"usage": null`, as OpenAI's do), and `data: [DONE]`.
//! `max_completion_tokens` (or `max_tokens`) below the reply's words cuts the reply and sets
//! `finish_reason: "length"`. Embeddings are 8 deterministic floats per input, always as a
//! float array (`encoding_format` is ignored).

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::reply::{Answer, Reply, Turn, content_text};
use crate::server::Kind;
use crate::tokens;

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

pub(crate) const DEFAULT_MODELS: [&str; 4] = [
    "gpt-4o",
    "gpt-4o-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
];

/// The completion-token maximum OpenAI enforces for the models whose limit tests rely on.
fn output_maximum(model: &str) -> Option<u64> {
    model.starts_with("gpt-4o").then_some(16384)
}

/// Which requests are traffic and which are health checks.
pub(crate) fn classify(method: &Method, path: &str) -> Kind {
    match (method, path) {
        (&Method::POST, "/v1/chat/completions" | "/v1/embeddings" | "/v1/responses") => {
            Kind::Traffic
        }
        (&Method::GET, "/v1/models") => Kind::Health,
        _ => Kind::Other,
    }
}

/// Answers one request.
pub(crate) fn handle(parts: &Parts, body: &Bytes, turn: &Turn) -> Reply {
    let path = parts.uri.path();
    let reply = match (&parts.method, path) {
        (&Method::POST, "/v1/chat/completions") => authorize(parts).and_then(|()| chat(body, turn)),
        (&Method::POST, "/v1/embeddings") => authorize(parts).and_then(|()| embeddings(body)),
        (&Method::POST, "/v1/responses") => {
            authorize(parts).and_then(|()| crate::openai_responses::responses(body, turn))
        }
        (&Method::GET, "/v1/models") => authorize(parts).map(|()| models(turn)),
        (method, _) => Err(error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            None,
            &format!("Invalid URL ({method} {path})"),
        )),
    };
    reply
        .unwrap_or_else(|e| e)
        .with_header("x-request-id", format!("req_mock{}", turn.seq))
}

/// The body of an OpenAI error: `{"error":{"message","type","param","code"}}`, with `kind` as
/// both `type` and `code` (as for `insufficient_quota`).
pub(crate) fn error_body(kind: &str, message: &str) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": null, "code": kind } })
}

fn error(
    status: StatusCode,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
    message: &str,
) -> Reply {
    let body =
        json!({ "error": { "message": message, "type": kind, "param": param, "code": code } });
    Reply::json(status, &body)
}

fn invalid(param: Option<&str>, code: Option<&str>, message: &str) -> Reply {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        param,
        code,
        message,
    )
}

fn authorize(parts: &Parts) -> Result<(), Reply> {
    let token = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    }
    Ok(())
}

fn parse(body: &Bytes) -> Result<Value, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(invalid(
            None,
            None,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
             using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        )),
    }
}

fn required_model(req: &Value) -> Result<String, Reply> {
    req.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| invalid(None, None, "you must provide a model parameter"))
}

fn usage(prompt: u32, completion: u32, cached: u32) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cached.min(prompt), "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

fn chat(body: &Bytes, turn: &Turn) -> Result<Reply, Reply> {
    let req = parse(body)?;
    let model = required_model(&req)?;
    let messages = match req.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(invalid(
                Some("messages"),
                None,
                "[] is too short - 'messages'",
            ));
        }
        _ => {
            return Err(invalid(
                Some("messages"),
                Some("missing_required_parameter"),
                "Missing required parameter: 'messages'.",
            ));
        }
    };
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !ROLES.contains(&role) {
            return Err(invalid(
                Some(&format!("messages[{i}].role")),
                Some("invalid_value"),
                &format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', \
                     'function', 'tool', and 'developer'."
                ),
            ));
        }
    }
    let texts: Vec<String> = messages
        .iter()
        .map(|m| content_text(m.get("content")))
        .collect();
    let prompt = tokens::prompt_tokens(&texts);
    let max = req
        .get("max_completion_tokens")
        .or_else(|| req.get("max_tokens"))
        .and_then(Value::as_u64);
    if let Some(limit) = max
        && let Some(most) = output_maximum(&model)
        && limit > most
    {
        // OpenAI's own words for a limit above the model's output maximum.
        return Err(invalid(
            Some("max_tokens"),
            Some("invalid_value"),
            &format!(
                "max_tokens is too large: {limit}. This model supports at most {most} completion tokens, whereas you provided {limit}."
            ),
        ));
    }
    let answer = turn.answer_to(max, Some(messages));
    let id = format!("chatcmpl-mock{}", turn.seq);
    let completion = match answer {
        Answer::Text { tokens, .. } | Answer::ToolCall { tokens, .. } => tokens,
    };
    let usage = usage(prompt, completion, turn.cache_read);

    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) {
        let include_usage = req
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            && !turn.omit_usage;
        return Ok(stream(
            &id,
            &model,
            turn,
            &answer,
            include_usage.then_some(usage),
        ));
    }

    let (message, finish_reason) = match answer {
        Answer::Text {
            text, truncated, ..
        } => (
            json!({ "role": "assistant", "content": text, "refusal": null, "annotations": [] }),
            if truncated { "length" } else { "stop" },
        ),
        Answer::ToolCall {
            name, arguments, ..
        } => (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": format!("call_mock{}", turn.seq),
                    "type": "function",
                    "function": { "name": name, "arguments": arguments }
                }],
                "refusal": null,
                "annotations": []
            }),
            "tool_calls",
        ),
    };
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": turn.created,
        "model": model,
        "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason }],
        "usage": usage,
        "service_tier": turn.service_tier.as_deref().unwrap_or("default"),
        "system_fingerprint": "fp_mock"
    });
    if turn.omit_usage
        && let Some(object) = body.as_object_mut()
    {
        object.remove("usage");
    }
    Ok(Reply::json(StatusCode::OK, &body))
}

fn stream(id: &str, model: &str, turn: &Turn, answer: &Answer<'_>, usage: Option<Value>) -> Reply {
    let with_usage = usage.is_some();
    let chunk = |choices: Value| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": turn.created,
            "model": model,
            "service_tier": turn.service_tier.as_deref().unwrap_or("default"),
            "system_fingerprint": "fp_mock",
            "choices": choices
        });
        if with_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let delta = |delta: Value, finish: Option<&str>| {
        chunk(json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]))
    };

    let mut chunks = Vec::new();
    let finish = match answer {
        Answer::Text {
            text, truncated, ..
        } => {
            chunks.push(delta(
                json!({ "role": "assistant", "content": "", "refusal": null }),
                None,
            ));
            for piece in tokens::pieces(text) {
                chunks.push(delta(json!({ "content": piece }), None));
            }
            if *truncated { "length" } else { "stop" }
        }
        Answer::ToolCall {
            name, arguments, ..
        } => {
            chunks.push(delta(
                json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "index": 0,
                        "id": format!("call_mock{}", turn.seq),
                        "type": "function",
                        "function": { "name": name, "arguments": "" }
                    }],
                    "refusal": null
                }),
                None,
            ));
            for fragment in tokens::json_fragments(arguments) {
                chunks.push(delta(json!({ "tool_calls": [{ "index": 0, "function": { "arguments": fragment } }] }), None));
            }
            "tool_calls"
        }
    };
    chunks.push(delta(json!({}), Some(finish)));
    if let Some(usage) = usage {
        let mut last = chunk(json!([]));
        last["usage"] = usage;
        chunks.push(last);
    }
    let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    events.push("data: [DONE]\n\n".to_owned());
    Reply::sse(events)
}

fn embeddings(body: &Bytes) -> Result<Reply, Reply> {
    let req = parse(body)?;
    let model = required_model(&req)?;
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            let as_text = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                // A token array: one "word" per token.
                Value::Array(ids) => Some(
                    ids.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            };
            if items.iter().all(Value::is_number) {
                vec![
                    items
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            } else {
                items
                    .iter()
                    .map(as_text)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        invalid(
                            Some("input"),
                            None,
                            "'$.input' is invalid. Please check the API reference.",
                        )
                    })?
            }
        }
        Some(_) => {
            return Err(invalid(
                Some("input"),
                None,
                "'$.input' is invalid. Please check the API reference.",
            ));
        }
        None => {
            return Err(invalid(
                Some("input"),
                Some("missing_required_parameter"),
                "Missing required parameter: 'input'.",
            ));
        }
    };
    let prompt = tokens::embedding_tokens(&inputs);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({ "object": "embedding", "index": i, "embedding": tokens::embedding(text) }))
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": { "prompt_tokens": prompt, "total_tokens": prompt }
        }),
    ))
}

fn models(turn: &Turn) -> Reply {
    let data: Vec<Value> = turn
        .models
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": 1_715_367_049, "owned_by": "system" }))
        .collect();
    Reply::json(StatusCode::OK, &json!({ "object": "list", "data": data }))
}
