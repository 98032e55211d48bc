//! The built-in `mock` provider: deterministic answers without any network or API key.
//!
//! It serves the embedded default configuration (so `infermux serve` answers on a fresh
//! machine) and is useful for load tests and CI. Answers are a fixed reply, streamed one word
//! per chunk when asked; usage is counted with a simple, documented rule so that costs are
//! predictable: prompt tokens = 3 + Σ over messages (4 + words of the message's text), and
//! completion tokens = words of the reply, unless the config sets `mock.prompt_tokens` and
//! `mock.completion_tokens`. A single user message `hi` costs 8 prompt tokens.

use std::{
    convert::Infallible,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{StreamExt, future::BoxFuture, stream};
use http::{HeaderValue, Response};
use infermux_core::{
    InferBody, RequestBody, Usage, UsageSlot, chat::ChatRequest, embeddings::EmbeddingsRequest,
};
use infermux_wire::embedding::EmbeddingEncoding;
use serde_json::json;
use tower::Service;

use super::{
    ProviderCall, ProviderError, ProviderErrorKind,
    stream::{ChunkDecoder, TranslatedBody},
    wire::{completion_id, unix_now},
};

/// Dimensions of the mock's embedding vectors.
const EMBEDDING_DIMENSIONS: usize = 16;

/// How the mock provider behaves.
#[derive(Clone, Debug)]
pub struct MockSettings {
    /// The provider's name.
    pub name: String,
    /// Delay before the response (or the first chunk).
    pub latency: Duration,
    /// Delay between stream chunks.
    pub chunk_interval: Duration,
    /// The provider's `timeout`, honoured as an HTTP provider would: a latency beyond it is a
    /// timed-out attempt (so failover can be tried without any network), and so is a gap
    /// between stream chunks beyond it.
    pub timeout: Duration,
    /// The assistant's reply.
    pub reply: String,
    /// Prompt tokens to report instead of counting them.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens to report instead of counting the reply's words.
    pub completion_tokens: Option<u64>,
}

/// A provider service answering from memory.
#[derive(Clone, Debug)]
pub struct MockProvider {
    settings: std::sync::Arc<MockSettings>,
}

impl MockProvider {
    /// A mock provider with `settings`.
    pub fn new(settings: MockSettings) -> Self {
        Self {
            settings: std::sync::Arc::new(settings),
        }
    }
}

impl Service<ProviderCall> for MockProvider {
    type Response = Response<InferBody>;
    type Error = ProviderError;
    type Future = BoxFuture<'static, Result<Response<InferBody>, ProviderError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: ProviderCall) -> Self::Future {
        let settings = self.settings.clone();
        Box::pin(async move {
            if settings.latency >= settings.timeout {
                tokio::time::sleep(settings.timeout).await;
                let waited = humantime::format_duration(settings.timeout);
                return Err(ProviderError::new(
                    ProviderErrorKind::Timeout,
                    format!("no response within {waited}"),
                ));
            }
            if !settings.latency.is_zero() {
                tokio::time::sleep(settings.latency).await;
            }
            if call.request.protocol == infermux_core::Protocol::AnthropicCountTokens {
                return Ok(super::egress::count_locally(&call));
            }
            super::wire::refuse_native_only(&call)?;
            let id = completion_id(&call);
            let model = &*call.upstream_model;
            let response = match &call.request.body {
                RequestBody::Chat(chat) if chat.is_stream() => {
                    stream_chat(&settings, chat, &id, model)
                }
                RequestBody::Chat(chat) => {
                    let usage = chat_usage(&settings, chat);
                    let body = completion(&id, model, &settings.reply, usage);
                    json_response(InferBody::full_with_usage(body.to_string(), usage))
                }
                RequestBody::Embeddings(request) => {
                    let encoding = EmbeddingEncoding::of(request).map_err(|e| {
                        ProviderError::new(ProviderErrorKind::Unsupported, e.to_string())
                    })?;
                    let (body, usage) = embeddings(request, model, encoding);
                    json_response(InferBody::full_with_usage(body.to_string(), usage))
                }
            };
            Ok(response)
        })
    }
}

fn json_response(body: InferBody) -> Response<InferBody> {
    super::egress::answer(body, HeaderValue::from_static("application/json"))
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The mock's usage: the configured counts, else the rule of the module docs.
fn chat_usage(settings: &MockSettings, chat: &ChatRequest) -> Usage {
    let counted = || {
        3 + chat
            .messages
            .iter()
            .map(|m| 4 + m.content.as_ref().map_or(0, |c| words(&c.text())))
            .sum::<u64>()
    };
    Usage {
        prompt_tokens: settings.prompt_tokens.unwrap_or_else(counted),
        completion_tokens: settings
            .completion_tokens
            .unwrap_or_else(|| words(&settings.reply)),
        ..Usage::default()
    }
}

fn usage_json(usage: Usage) -> serde_json::Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens(),
    })
}

fn completion(id: &str, model: &str, reply: &str, usage: Usage) -> serde_json::Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage_json(usage),
    })
}

fn chunk(
    id: &str,
    model: &str,
    created: u64,
    delta: serde_json::Value,
    finish: Option<&str>,
) -> String {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
    })
    .to_string()
}

/// Passes pre-built chunks through; the mock's streams always complete.
struct MockChunks {
    usage: Usage,
}

impl ChunkDecoder for MockChunks {
    type Item = String;

    fn feed(&mut self, chunk: String) -> Result<Vec<String>, String> {
        Ok(vec![chunk])
    }

    fn finish(&mut self) -> Result<Vec<String>, String> {
        Ok(vec![])
    }

    fn usage(&self) -> Usage {
        self.usage
    }
}

fn stream_chat(
    settings: &MockSettings,
    chat: &ChatRequest,
    id: &str,
    model: &str,
) -> Response<InferBody> {
    let usage = chat_usage(settings, chat);
    let created = unix_now();
    let mut chunks = vec![chunk(
        id,
        model,
        created,
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    let reply_words: Vec<&str> = settings.reply.split_inclusive(' ').collect();
    chunks.extend(
        reply_words
            .iter()
            .map(|w| chunk(id, model, created, json!({"content": w}), None)),
    );
    chunks.push(chunk(id, model, created, json!({}), Some("stop")));
    if chat.wants_stream_usage() {
        chunks.push(
            json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [], "usage": usage_json(usage),
            })
            .to_string(),
        );
    }
    let interval = settings.chunk_interval;
    let paced = stream::iter(chunks)
        .enumerate()
        .then(move |(i, chunk)| async move {
            if i > 0 && !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            Ok::<_, Infallible>(chunk)
        });
    let slot = UsageSlot::new();
    let body = TranslatedBody::new(
        paced.map(|r| r.map_err(Into::into)),
        MockChunks { usage },
        slot.clone(),
        &settings.name,
        settings.timeout,
    );
    super::egress::stream_answer(InferBody::new(body, slot))
}

/// A deterministic unit vector per text (FNV-1a seeded), so equal inputs embed equally.
fn embed(text: &str) -> Vec<f32> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let raw: Vec<f32> = (0..EMBEDDING_DIMENSIONS)
        .map(|i| {
            for byte in text.bytes().chain([i as u8]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            (hash % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

fn embeddings(
    request: &EmbeddingsRequest,
    model: &str,
    encoding: EmbeddingEncoding,
) -> (serde_json::Value, Usage) {
    let texts = request.texts();
    let data: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            json!({"object": "embedding", "index": index, "embedding": encoding.encode(embed(text))})
        })
        .collect();
    let prompt_tokens = texts.iter().map(|t| words(t).max(1)).sum::<u64>();
    let usage = Usage {
        prompt_tokens,
        ..Usage::default()
    };
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    (body, usage)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use infermux_core::{Caller, InferRequest, RequestId};
    use tower::ServiceExt;

    use super::*;

    fn provider() -> MockProvider {
        MockProvider::new(MockSettings {
            name: "mock".into(),
            latency: Duration::ZERO,
            chunk_interval: Duration::ZERO,
            timeout: Duration::from_secs(60),
            reply: "Hello there friend.".into(),
            prompt_tokens: None,
            completion_tokens: None,
        })
    }

    fn call(body: &str) -> ProviderCall {
        let chat: ChatRequest = serde_json::from_str(body).expect("chat");
        let request = InferRequest::new(
            RequestBody::Chat(chat),
            Caller::anonymous(),
            RequestId::new("r1"),
        );
        ProviderCall {
            request: Arc::new(request),
            upstream_model: "gpt-4o-mini".into(),
        }
    }

    #[tokio::test]
    async fn hi_costs_eight_prompt_tokens() {
        let response = provider()
            .oneshot(call(
                r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            ))
            .await
            .expect("response");
        let usage = response.body().usage().expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 3));
        let json: serde_json::Value = serde_json::from_slice(
            &response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes(),
        )
        .expect("json");
        assert_eq!(
            json["choices"][0]["message"]["content"],
            "Hello there friend."
        );
        assert_eq!(json["model"], "gpt-4o-mini");
        assert_eq!(json["usage"]["total_tokens"], 11);
    }

    #[tokio::test]
    async fn streams_send_a_chunk_per_word_then_done() {
        let response = provider()
            .oneshot(call(
                r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#,
            ))
            .await
            .expect("response");
        let text = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
                .to_vec(),
        )
        .expect("utf-8");
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        // role, 3 words, finish, usage, [DONE]
        assert_eq!(events.len(), 7, "{text}");
        assert_eq!(events.last(), Some(&"data: [DONE]"));
        assert!(events[5].contains(r#""prompt_tokens":8"#));
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embed("hello");
        assert_eq!(a, embed("hello"));
        assert_ne!(a, embed("world"));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_latency_beyond_the_timeout_is_a_timed_out_attempt() {
        let provider = MockProvider::new(MockSettings {
            name: "slow".into(),
            latency: Duration::from_secs(5),
            chunk_interval: Duration::ZERO,
            timeout: Duration::from_secs(1),
            reply: "hi".into(),
            prompt_tokens: None,
            completion_tokens: None,
        });
        let chat: ChatRequest =
            serde_json::from_str(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
                .expect("chat");
        let request = InferRequest::new(
            RequestBody::Chat(chat),
            Caller::anonymous(),
            RequestId::new("r"),
        );
        let call = ProviderCall {
            request: Arc::new(request),
            upstream_model: "m".into(),
        };
        let error = provider.oneshot(call).await.expect_err("timed out");
        assert_eq!(error.kind(), &ProviderErrorKind::Timeout);
    }
}
