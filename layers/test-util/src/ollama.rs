//! The Ollama mock: `POST /api/chat`, `POST /api/embed`, `GET /api/tags` (and `GET /`,
//! `GET /api/version`, answered like Ollama's own liveness routes).
//!
//! No authentication, like a local Ollama. A model must be in the mock's list (`set_models`;
//! by default `llama3.2`, `llama3.2:latest`, `nomic-embed-text`); a name without a tag also
//! matches its `:latest`, as Ollama resolves it. Anything else is a 404
//! `{"error":"model \"x\" not found, try pulling it first"}`.
//!
//! `stream` defaults to **true**, as in Ollama: NDJSON lines
//! `{model, created_at, message:{role, content}, done:false}`, one per word (or one line
//! carrying `tool_calls`), then a final `done:true` line with `done_reason` and the counts.
//! `options.num_predict` below the reply's words cuts it and sets `done_reason: "length"`.
//! An empty `messages` answers like Ollama's model load: `done_reason: "load"`, no counts.
//! Durations are fixed, deterministic nanoseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::reply::{Answer, Reply, Turn, content_text};
use crate::server::Kind;
use crate::tokens;

pub(crate) const DEFAULT_MODELS: [&str; 3] = ["llama3.2", "llama3.2:latest", "nomic-embed-text"];

const LOAD_NS: u64 = 2_000_000;
const PROMPT_NS_PER_TOKEN: u64 = 100_000;
const EVAL_NS_PER_TOKEN: u64 = 1_000_000;

/// Which requests are traffic and which are health checks.
pub(crate) fn classify(method: &Method, path: &str) -> Kind {
    match (method, path) {
        (&Method::POST, "/api/chat" | "/api/embed") => Kind::Traffic,
        (&Method::GET | &Method::HEAD, "/" | "/api/tags" | "/api/version") => Kind::Health,
        _ => Kind::Other,
    }
}

/// Answers one request.
pub(crate) fn handle(parts: &Parts, body: &Bytes, turn: &Turn) -> Reply {
    let reply = match (&parts.method, parts.uri.path()) {
        (&Method::POST, "/api/chat") => chat(body, turn),
        (&Method::POST, "/api/embed") => embed(body, turn),
        (&Method::GET | &Method::HEAD, "/api/tags") => Ok(tags(turn)),
        (&Method::GET | &Method::HEAD, "/api/version") => {
            Ok(Reply::json(StatusCode::OK, &json!({ "version": "0.12.6" })))
        }
        (&Method::GET | &Method::HEAD, "/") => Ok(Reply::text(StatusCode::OK, "Ollama is running")),
        // Ollama's router answers unknown routes in plain text.
        _ => Err(Reply::text(StatusCode::NOT_FOUND, "404 page not found")),
    };
    reply.unwrap_or_else(|e| e)
}

/// The body of an Ollama error: `{"error": message}` (Ollama has no error kinds).
pub(crate) fn error_body(_kind: &str, message: &str) -> Value {
    json!({ "error": message })
}

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &error_body("", message))
}

fn parse(body: &Bytes) -> Result<Value, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(error(StatusCode::BAD_REQUEST, "invalid request body")),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, &e.to_string())),
    }
}

/// The requested model, if it is required, present and known.
fn known_model(req: &Value, turn: &Turn) -> Result<String, Reply> {
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "model is required"))?;
    let known = turn
        .models
        .iter()
        .any(|m| m == model || normalize(m) == normalize(model));
    if !known {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("model \"{model}\" not found, try pulling it first"),
        ));
    }
    Ok(model.to_owned())
}

/// `llama3.2` -> `llama3.2:latest`; tagged names unchanged.
fn normalize(name: &str) -> String {
    if name.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

fn chat(body: &Bytes, turn: &Turn) -> Result<Reply, Reply> {
    let req = parse(body)?;
    let model = known_model(&req, turn)?;
    let created_at = rfc3339(turn.created_at);
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty());
    let Some(messages) = messages else {
        return Ok(Reply::json(
            StatusCode::OK,
            &json!({
                "model": model,
                "created_at": created_at,
                "message": { "role": "assistant", "content": "" },
                "done_reason": "load",
                "done": true
            }),
        ));
    };

    let texts: Vec<String> = messages
        .iter()
        .map(|m| content_text(m.get("content")))
        .collect();
    let prompt = tokens::prompt_tokens(&texts);
    // num_predict -1 (or -2) means "no limit" in Ollama.
    let max = req.pointer("/options/num_predict").and_then(Value::as_u64);
    let answer = turn.answer_to(max, Some(messages));
    let (message, done_reason, eval) = match &answer {
        Answer::Text {
            text,
            tokens,
            truncated,
        } => (
            json!({ "role": "assistant", "content": text }),
            if *truncated { "length" } else { "stop" },
            *tokens,
        ),
        Answer::ToolCall {
            name,
            arguments,
            tokens,
        } => {
            let arguments: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            (
                json!({
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{
                        "id": format!("call_mock{}", turn.seq),
                        "function": { "index": 0, "name": name, "arguments": arguments }
                    }]
                }),
                "stop",
                *tokens,
            )
        }
    };
    let metrics = metrics(prompt, eval);
    let line = |message: Value, done: bool| {
        let mut l = Map::new();
        l.insert("model".into(), json!(model));
        l.insert("created_at".into(), json!(created_at));
        l.insert("message".into(), message);
        if done {
            l.insert("done_reason".into(), json!(done_reason));
        }
        l.insert("done".into(), json!(done));
        if done {
            l.extend(metrics.clone());
        }
        Value::Object(l)
    };

    // `logprobs: true`: one entry per token piece, in Ollama's (and OpenAI's) per-token shape,
    // a fixed -0.25 each.
    let logprobs = req.get("logprobs").and_then(Value::as_bool) == Some(true);
    let logprob = |piece: &str| json!({ "token": piece, "logprob": -0.25, "bytes": piece.as_bytes(), "top_logprobs": [] });
    if !req.get("stream").and_then(Value::as_bool).unwrap_or(true) {
        let mut whole = line(message, true);
        if logprobs && let Answer::Text { text, .. } = &answer {
            let all: Vec<Value> = tokens::pieces(text).iter().map(|p| logprob(p)).collect();
            whole["logprobs"] = Value::Array(all);
        }
        return Ok(Reply::json(StatusCode::OK, &whole));
    }
    let mut lines = Vec::new();
    match &answer {
        Answer::Text { text, .. } => {
            for piece in tokens::pieces(text) {
                let mut l = line(json!({ "role": "assistant", "content": piece }), false);
                if logprobs {
                    l["logprobs"] = json!([logprob(piece)]);
                }
                lines.push(l);
            }
        }
        Answer::ToolCall { .. } => lines.push(line(message, false)),
    }
    lines.push(line(json!({ "role": "assistant", "content": "" }), true));
    Ok(Reply::ndjson(&lines))
}

fn metrics(prompt: u32, eval: u32) -> Map<String, Value> {
    let prompt_ns = u64::from(prompt) * PROMPT_NS_PER_TOKEN;
    let eval_ns = u64::from(eval) * EVAL_NS_PER_TOKEN;
    let mut m = Map::new();
    m.insert(
        "total_duration".into(),
        json!(LOAD_NS + prompt_ns + eval_ns),
    );
    m.insert("load_duration".into(), json!(LOAD_NS));
    m.insert("prompt_eval_count".into(), json!(prompt));
    m.insert("prompt_eval_duration".into(), json!(prompt_ns));
    m.insert("eval_count".into(), json!(eval));
    m.insert("eval_duration".into(), json!(eval_ns));
    m
}

fn embed(body: &Bytes, turn: &Turn) -> Result<Reply, Reply> {
    let req = parse(body)?;
    let model = known_model(&req, turn)?;
    let inputs: Vec<String> = match req.get("input") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, "invalid input type"))?,
        Some(_) => return Err(error(StatusCode::BAD_REQUEST, "invalid input type")),
    };
    let prompt = tokens::embedding_tokens(&inputs);
    let embeddings: Vec<Vec<f32>> = inputs.iter().map(|i| tokens::embedding(i)).collect();
    let prompt_ns = u64::from(prompt) * PROMPT_NS_PER_TOKEN;
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "model": model,
            "embeddings": embeddings,
            "total_duration": LOAD_NS + prompt_ns,
            "load_duration": LOAD_NS,
            "prompt_eval_count": prompt
        }),
    ))
}

fn tags(turn: &Turn) -> Reply {
    let mut names: Vec<String> = turn.models.iter().map(|m| normalize(m)).collect();
    names.dedup();
    let models: Vec<Value> = names
        .iter()
        .map(|name| {
            let embed = name.contains("embed");
            let digest: String = tokens::embedding(name)
                .iter()
                .map(|x| format!("{:08x}", x.to_bits()))
                .collect();
            json!({
                "name": name,
                "model": name,
                "modified_at": "2025-10-01T12:00:00.000000000Z",
                "size": if embed { 274_302_450_u64 } else { 2_019_393_189 },
                "digest": digest,
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": if embed { "nomic-bert" } else { "llama" },
                    "families": [if embed { "nomic-bert" } else { "llama" }],
                    "parameter_size": if embed { "137M" } else { "3.2B" },
                    "quantization_level": if embed { "F16" } else { "Q4_K_M" }
                }
            })
        })
        .collect();
    Reply::json(StatusCode::OK, &json!({ "models": models }))
}

/// `2025-10-17T23:14:07.414671000Z` for a point in time (UTC, nanoseconds), as Ollama writes it.
fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant), valid for all dates after 1970.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(1_760_742_847, 414_671_000);
        assert_eq!(rfc3339(t), "2025-10-17T23:14:07.414671000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn untagged_names_resolve_to_latest() {
        assert_eq!(normalize("llama3.2"), "llama3.2:latest");
        assert_eq!(normalize("qwen3:0.6b"), "qwen3:0.6b");
    }
}
