//! Ollama answers to OpenAI ones: `/api/chat` responses to `chat.completion`s, `/api/embed`
//! responses to embedding lists. The Ollama response types here serve the stream too.

use infermux_core::Usage;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::DecodeError;
use crate::embedding::{EmbeddingEncoding, EmbeddingVector};

/// One `/api/chat` response: the whole answer, or one line of a stream.
#[derive(Deserialize)]
pub(crate) struct ChatResponse {
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// The (partial) assistant message.
    #[serde(default)]
    pub message: Option<ResponseMessage>,
    /// Whether this is the last response of the answer.
    #[serde(default)]
    pub done: bool,
    /// Why generation stopped: `stop`, `length`, `load`, `unload`.
    #[serde(default)]
    pub done_reason: Option<String>,
    /// Input tokens; absent when zero.
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    /// Output tokens; absent when zero.
    #[serde(default)]
    eval_count: Option<u64>,
    /// An error reported in place of an answer.
    #[serde(default)]
    error: Option<Value>,
    /// The log probabilities of this response's tokens, when asked for (`logprobs: true`):
    /// per token `{token, logprob, bytes, top_logprobs}`, OpenAI's own per-token shape.
    #[serde(default)]
    pub(crate) logprobs: Option<Vec<Value>>,
}

impl ChatResponse {
    /// OpenAI's `choices[].logprobs` for this response: `{"content": [...]}`, or null.
    pub(crate) fn openai_logprobs(&self) -> Value {
        self.logprobs.as_ref().map_or(
            Value::Null,
            |tokens| json!({"content": tokens, "refusal": null}),
        )
    }
}

impl ChatResponse {
    /// Parses one response, turning an `{"error": ...}` into a [`DecodeError::Provider`].
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let response: Self = serde_json::from_slice(bytes)?;
        match response.error {
            None | Some(Value::Null) => Ok(response),
            Some(Value::String(message)) => Err(DecodeError::Provider { message }),
            Some(other) => Err(DecodeError::Provider {
                message: other.to_string(),
            }),
        }
    }

    /// The token counts of this response (the final one carries them), missing counts as 0.
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_eval_count.unwrap_or(0),
            completion_tokens: self.eval_count.unwrap_or(0),
            ..Usage::default()
        }
    }
}

/// The assistant message of a chat response.
#[derive(Deserialize)]
pub(crate) struct ResponseMessage {
    /// Text generated.
    #[serde(default)]
    pub content: Option<String>,
    /// The model's reasoning, when it thinks (`think: true`).
    #[serde(default)]
    pub thinking: Option<String>,
    /// Tools called; each call arrives whole.
    #[serde(default)]
    pub tool_calls: Option<Vec<ResponseToolCall>>,
}

/// A tool call in an Ollama answer.
#[derive(Deserialize)]
pub(crate) struct ResponseToolCall {
    /// The call id, which only recent Ollama versions send.
    #[serde(default)]
    id: Option<String>,
    /// The function called.
    function: ResponseFunction,
}

/// The function of a tool call: Ollama sends its arguments as a JSON object.
#[derive(Deserialize)]
struct ResponseFunction {
    /// Function name.
    #[serde(default)]
    name: String,
    /// Arguments, a JSON object.
    #[serde(default)]
    arguments: Value,
}

impl ResponseToolCall {
    /// The OpenAI tool call, with Ollama's id or else `call_<index>`, and the arguments
    /// JSON-encoded.
    pub(crate) fn to_openai(&self, index: usize) -> Value {
        let id = match self.id.as_deref() {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("call_{index}"),
        };
        let arguments = match &self.function.arguments {
            Value::Null => "{}".to_owned(),
            Value::String(encoded) => encoded.clone(),
            object => object.to_string(),
        };
        json!({
            "id": id,
            "type": "function",
            "function": {"name": self.function.name, "arguments": arguments},
        })
    }
}

/// Maps Ollama's `done_reason` to OpenAI's `finish_reason`: `length` stays `length`, anything
/// else is `stop`, or `tool_calls` when the answer called tools.
pub(crate) fn finish_reason(done_reason: Option<&str>, called_tools: bool) -> &'static str {
    match done_reason {
        Some("length") => "length",
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

/// The OpenAI `usage` object of a chat completion.
pub(crate) fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens(),
    })
}

/// Decodes a non-streamed `/api/chat` response into an OpenAI `chat.completion` body with the
/// given `id` and `created` time, and the usage Ollama reported.
pub fn decode_chat(body: &[u8], id: &str, created: u64) -> Result<(Vec<u8>, Usage), DecodeError> {
    let response = ChatResponse::parse(body)?;
    let usage = response.usage();
    let message = response
        .message
        .as_ref()
        .ok_or(DecodeError::MissingMessage)?;
    let tool_calls: Vec<Value> = message
        .tool_calls
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, call)| call.to_openai(index))
        .collect();
    let content = message.content.clone().unwrap_or_default();
    let mut openai_message = Map::new();
    openai_message.insert("role".into(), "assistant".into());
    let content = if content.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(content)
    };
    openai_message.insert("content".into(), content);
    if let Some(thinking) = message.thinking.as_deref().filter(|t| !t.is_empty()) {
        openai_message.insert("reasoning_content".into(), thinking.into());
    }
    let finish = finish_reason(response.done_reason.as_deref(), !tool_calls.is_empty());
    if !tool_calls.is_empty() {
        openai_message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    let completion = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": response.model,
        "choices": [{
            "index": 0,
            "message": openai_message,
            "logprobs": response.openai_logprobs(),
            "finish_reason": finish,
        }],
        "usage": usage_json(&usage),
    });
    Ok((completion.to_string().into_bytes(), usage))
}

/// An `/api/embed` response.
#[derive(Deserialize)]
struct EmbedResponse {
    /// One vector per input, in input order.
    #[serde(default)]
    embeddings: Option<Vec<Vec<f32>>>,
    /// Input tokens; absent when zero.
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    /// An error reported in place of an answer.
    #[serde(default)]
    error: Option<Value>,
}

/// An OpenAI embeddings list.
#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: &'a str,
    usage: EmbeddingUsage,
}

/// One embedding of an OpenAI embeddings list.
#[derive(Serialize)]
struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: EmbeddingVector,
}

/// The usage of an embeddings request.
#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// Decodes an `/api/embed` response into an OpenAI embeddings list naming `upstream_model`,
/// with vectors written as `encoding` says, and the usage Ollama reported.
pub fn decode_embed(
    body: &[u8],
    upstream_model: &str,
    encoding: EmbeddingEncoding,
) -> Result<(Vec<u8>, Usage), DecodeError> {
    let response: EmbedResponse = serde_json::from_slice(body)?;
    match response.error {
        None | Some(Value::Null) => {}
        Some(Value::String(message)) => return Err(DecodeError::Provider { message }),
        Some(other) => {
            return Err(DecodeError::Provider {
                message: other.to_string(),
            });
        }
    }
    let embeddings = response.embeddings.ok_or(DecodeError::MissingEmbeddings)?;
    let prompt_tokens = response.prompt_eval_count.unwrap_or(0);
    let data = embeddings
        .into_iter()
        .enumerate()
        .map(|(index, vector)| EmbeddingItem {
            object: "embedding",
            index,
            embedding: encoding.encode(vector),
        })
        .collect();
    let list = EmbeddingList {
        object: "list",
        data,
        model: upstream_model,
        usage: EmbeddingUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    };
    let usage = Usage {
        prompt_tokens,
        ..Usage::default()
    };
    Ok((serde_json::to_vec(&list)?, usage))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A non-streamed `/api/chat` answer as Ollama writes it.
    const CHAT: &str = r#"{"model":"llama3.2:3b","created_at":"2025-06-02T10:21:08.135486Z","message":{"role":"assistant","content":"The sky is blue because of Rayleigh scattering."},"done_reason":"stop","done":true,"total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":298,"eval_duration":4799921000}"#;

    /// A tool-calling `/api/chat` answer.
    const TOOL_CALL: &str = r#"{"model":"qwen3:8b","created_at":"2025-06-02T10:22:41.0Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris","unit":"celsius"}}},{"function":{"index":1,"name":"get_time","arguments":{}}}]},"done_reason":"stop","done":true,"total_duration":1831000000,"load_duration":21000000,"prompt_eval_count":171,"prompt_eval_duration":90000000,"eval_count":41,"eval_duration":1700000000}"#;

    /// An `/api/embed` answer for two inputs.
    const EMBED: &str = r#"{"model":"nomic-embed-text","embeddings":[[0.5,0.25,-0.125],[1.0,-2.0,0.1]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#;

    fn decode(body: &str) -> (Value, Usage) {
        let (json, usage) =
            decode_chat(body.as_bytes(), "chatcmpl-abc", 1_717_000_000).expect("decodes");
        (serde_json::from_slice(&json).expect("JSON body"), usage)
    }

    #[test]
    fn chat_answer_becomes_a_chat_completion() {
        let (body, usage) = decode(CHAT);
        assert_eq!(
            body,
            json!({
                "id": "chatcmpl-abc",
                "object": "chat.completion",
                "created": 1_717_000_000,
                "model": "llama3.2:3b",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "The sky is blue because of Rayleigh scattering."
                    },
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 26, "completion_tokens": 298, "total_tokens": 324}
            })
        );
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 26,
                completion_tokens: 298,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn tool_calls_get_ids_and_encoded_arguments() {
        let (body, usage) = decode(TOOL_CALL);
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], json!("tool_calls"));
        assert_eq!(choice["message"]["content"], Value::Null);
        let calls = choice["message"]["tool_calls"]
            .as_array()
            .expect("tool calls");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["id"], json!("call_0"));
        assert_eq!(calls[0]["type"], json!("function"));
        assert_eq!(calls[0]["function"]["name"], json!("get_weather"));
        let arguments: Value = serde_json::from_str(
            calls[0]["function"]["arguments"]
                .as_str()
                .expect("a string"),
        )
        .expect("JSON arguments");
        assert_eq!(arguments, json!({"city": "Paris", "unit": "celsius"}));
        assert_eq!(calls[1]["id"], json!("call_1"));
        assert_eq!(calls[1]["function"]["arguments"], json!("{}"));
        assert_eq!(usage.total_tokens(), 212);
    }

    #[test]
    fn ollama_tool_call_ids_are_kept() {
        let body = r#"{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_xyz","function":{"name":"f","arguments":{"a":1}}}]},"done_reason":"stop","done":true}"#;
        let (body, _) = decode(body);
        assert_eq!(
            body["choices"][0]["message"]["tool_calls"][0]["id"],
            json!("call_xyz")
        );
    }

    #[test]
    fn done_reasons_map_to_finish_reasons() {
        let answer = |reason: &str| {
            format!(
                r#"{{"model":"m","message":{{"role":"assistant","content":"x"}},"done_reason":"{reason}","done":true,"eval_count":3}}"#
            )
        };
        assert_eq!(
            decode(&answer("length")).0["choices"][0]["finish_reason"],
            json!("length")
        );
        assert_eq!(
            decode(&answer("stop")).0["choices"][0]["finish_reason"],
            json!("stop")
        );
        assert_eq!(
            decode(&answer("unload")).0["choices"][0]["finish_reason"],
            json!("stop")
        );
        assert_eq!(finish_reason(None, false), "stop");
        assert_eq!(finish_reason(Some("length"), true), "length");
    }

    #[test]
    fn missing_counts_are_zero() {
        let (body, usage) =
            decode(r#"{"model":"m","message":{"role":"assistant","content":"hi"},"done":true}"#);
        assert_eq!(usage, Usage::default());
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
        );
    }

    #[test]
    fn error_bodies_and_missing_messages_fail() {
        let error = decode_chat(
            br#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
            "id",
            0,
        )
        .expect_err("an error body");
        assert_eq!(
            error.to_string(),
            r#"ollama error: model "llama9" not found, try pulling it first"#
        );
        let missing =
            decode_chat(br#"{"model":"m","done":true}"#, "id", 0).expect_err("no message");
        assert_eq!(
            missing.to_string(),
            "message is missing from the ollama chat response"
        );
        let garbage = decode_chat(b"<html>", "id", 0).expect_err("not JSON");
        assert!(matches!(garbage, DecodeError::Json(_)));
    }

    #[test]
    fn embed_answer_becomes_an_embeddings_list() {
        let (json, usage) = decode_embed(
            EMBED.as_bytes(),
            "nomic-embed-text:v1.5",
            EmbeddingEncoding::Float,
        )
        .expect("decodes");
        let body: Value = serde_json::from_slice(&json).expect("JSON body");
        assert_eq!(
            body,
            json!({
                "object": "list",
                "data": [
                    {"object": "embedding", "index": 0, "embedding": [0.5, 0.25, -0.125]},
                    {"object": "embedding", "index": 1, "embedding": [1.0, -2.0, 0.1]}
                ],
                "model": "nomic-embed-text:v1.5",
                "usage": {"prompt_tokens": 8, "total_tokens": 8}
            })
        );
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 8,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn embeddings_can_be_base64() {
        let (json, _) =
            decode_embed(EMBED.as_bytes(), "e", EmbeddingEncoding::Base64).expect("decodes");
        let body: Value = serde_json::from_slice(&json).expect("JSON body");
        assert_eq!(body["data"][0]["embedding"], json!("AAAAPwAAgD4AAAC+"));
        assert_eq!(body["data"][1]["embedding"], json!("AACAPwAAAMDNzMw9"));
    }

    #[test]
    fn embed_errors_fail() {
        let error = decode_embed(
            br#"{"error":"input length exceeds the context length"}"#,
            "e",
            EmbeddingEncoding::Float,
        )
        .expect_err("an error body");
        assert_eq!(
            error.to_string(),
            "ollama error: input length exceeds the context length"
        );
        let missing = decode_embed(br#"{"model":"e"}"#, "e", EmbeddingEncoding::Float)
            .expect_err("no embeddings");
        assert_eq!(
            missing.to_string(),
            "embeddings is missing from the ollama embed response"
        );
    }
}
