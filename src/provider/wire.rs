//! The three wire formats an HTTP provider may speak, and what each needs from a call.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyExt;
use infermux_core::{BoxError, InferBody, Protocol, RequestBody, Usage, UsageSlot};
use sse_stream::SseStream;

use infermux_wire::{anthropic, embedding::EmbeddingEncoding, ollama, openai};

use super::{
    ProviderCall, ProviderError, ProviderErrorKind,
    forward::ForwardBody,
    pool::UpstreamBody,
    stream::{ChunkDecoder, TranslatedBody},
};

/// The user agent infermux sends upstream.
const USER_AGENT: &str = concat!("infermux/", env!("CARGO_PKG_VERSION"));

/// The `anthropic-version` header infermux speaks.
const ANTHROPIC_VERSION: HeaderValue = HeaderValue::from_static("2023-06-01");

/// How a provider's HTTP API is spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFormat {
    /// OpenAI's API (also every OpenAI-compatible server).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Ollama's native API.
    Ollama,
}

/// The upstream paths, below `base_url`.
const OPENAI_CHAT: &str = "/chat/completions";
const OPENAI_EMBEDDINGS: &str = "/embeddings";
const OPENAI_RESPONSES: &str = "/responses";
const ANTHROPIC_MESSAGES: &str = "/v1/messages";
const ANTHROPIC_COUNT_TOKENS: &str = "/v1/messages/count_tokens";
const OLLAMA_CHAT: &str = "/api/chat";
const OLLAMA_EMBED: &str = "/api/embed";

/// An upstream request body and the path (below `base_url`) it goes to.
pub(crate) struct Encoded {
    pub(crate) path: &'static str,
    pub(crate) body: Bytes,
    /// The client's body forwarded as is (only `model` replaced): the answer goes back
    /// untouched too.
    pub(crate) passthrough: bool,
    /// An `anthropic-beta` the translation relies on (native structured outputs).
    pub(crate) beta: Option<&'static str>,
}

fn unsupported(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Unsupported, message)
}

fn bad_response(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorKind::BadResponse, message)
}

/// Seconds since the epoch, for the `created` field of translated responses.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl WireFormat {
    /// Every path this API is sent requests on, so that their URIs are built once.
    pub(crate) const fn paths(self) -> &'static [&'static str] {
        match self {
            Self::OpenAi => &[OPENAI_CHAT, OPENAI_EMBEDDINGS, OPENAI_RESPONSES],
            Self::Anthropic => &[ANTHROPIC_MESSAGES, ANTHROPIC_COUNT_TOKENS],
            Self::Ollama => &[OLLAMA_CHAT, OLLAMA_EMBED],
        }
    }

    /// The protocol this API speaks, when a client may speak it too.
    pub(crate) const fn protocol(self) -> Option<Protocol> {
        match self {
            Self::OpenAi => Some(Protocol::OpenAiChat),
            Self::Anthropic => Some(Protocol::AnthropicMessages),
            Self::Ollama => None,
        }
    }

    /// Whether the call goes to this API as the client sent it (same protocol).
    pub(crate) fn is_passthrough(self, call: &ProviderCall) -> bool {
        self == Self::Anthropic && call.request.protocol.is_anthropic()
    }

    /// A Responses request forwarded as the client sent it (only `model` replaced), for a
    /// provider that serves OpenAI's Responses API itself.
    pub(crate) fn encode_responses_passthrough(
        call: &ProviderCall,
    ) -> Result<Encoded, ProviderError> {
        let client = call
            .request
            .client
            .as_ref()
            .ok_or_else(|| unsupported("the Responses request body was not kept"))?;
        let body = infermux_wire::passthrough::replace_model(&client.body, &call.upstream_model)
            .ok_or_else(|| unsupported("the request body has no `model` to replace"))?;
        Ok(Encoded {
            path: OPENAI_RESPONSES,
            body,
            passthrough: true,
            beta: None,
        })
    }

    /// Translates the call into this API's request, or forwards the client's bytes when the
    /// client speaks this API.
    /// `max_output` is the model's output maximum from the catalog, when known: translations
    /// clamp to it, and send it when the target needs a limit and the client set none.
    pub(crate) fn encode(
        self,
        call: &ProviderCall,
        max_output: Option<u64>,
    ) -> Result<Encoded, ProviderError> {
        let model = &*call.upstream_model;
        if self.is_passthrough(call)
            && let Some(client) = &call.request.client
        {
            let path = if call.request.protocol == Protocol::AnthropicCountTokens {
                ANTHROPIC_COUNT_TOKENS
            } else {
                ANTHROPIC_MESSAGES
            };
            let body = infermux_wire::passthrough::replace_model(&client.body, model)
                .ok_or_else(|| unsupported("the request body has no `model` to replace"))?;
            return Ok(Encoded {
                path,
                body,
                passthrough: true,
                beta: None,
            });
        }
        let translated = self.protocol() != Some(call.request.protocol);
        if let Some(body) = self.spliced_chat(call, translated, true) {
            return Ok(Encoded {
                path: OPENAI_CHAT,
                body,
                passthrough: false,
                beta: None,
            });
        }
        // Legacy function calling, for the providers that only know tools.
        let legacy = match (self, &call.request.body) {
            (Self::Anthropic | Self::Ollama, RequestBody::Chat(chat)) => {
                infermux_wire::legacy::as_tools(chat)
            }
            _ => None,
        };
        let body = legacy.map(RequestBody::Chat);
        let body = body.as_ref().unwrap_or(&call.request.body);
        let (path, body) = match (self, body) {
            (Self::OpenAi, RequestBody::Chat(chat)) if translated => (
                OPENAI_CHAT,
                openai::encode_translated(chat, model, max_output)
                    .map_err(|e| unsupported(e.to_string()))?,
            ),
            (Self::OpenAi, RequestBody::Chat(chat)) => (
                OPENAI_CHAT,
                openai::encode_chat(chat, model).map_err(|e| unsupported(e.to_string()))?,
            ),
            (Self::OpenAi, RequestBody::Embeddings(req)) => (
                OPENAI_EMBEDDINGS,
                openai::encode_embeddings(req, model).map_err(|e| unsupported(e.to_string()))?,
            ),
            (Self::Anthropic, RequestBody::Chat(chat)) => (
                ANTHROPIC_MESSAGES,
                anthropic::encode_request(chat, model, max_output)
                    .map_err(|e| unsupported(e.to_string()))?,
            ),
            (Self::Anthropic, RequestBody::Embeddings(_)) => {
                return Err(unsupported("anthropic has no embeddings API"));
            }
            (Self::Ollama, RequestBody::Chat(chat)) => (
                OLLAMA_CHAT,
                ollama::encode_chat(chat, model).map_err(|e| unsupported(e.to_string()))?,
            ),
            (Self::Ollama, RequestBody::Embeddings(req)) => (
                OLLAMA_EMBED,
                ollama::encode_embed(req, model).map_err(|e| unsupported(e.to_string()))?,
            ),
        };
        let beta = match (self, &call.request.body) {
            (Self::Anthropic, RequestBody::Chat(chat))
                if anthropic::native_output_schema(chat, model).is_some() =>
            {
                Some(anthropic::STRUCTURED_OUTPUTS_BETA)
            }
            _ => None,
        };
        Ok(Encoded {
            path,
            body: Bytes::from(body),
            passthrough: false,
            beta,
        })
    }

    /// An OpenAI chat client's request to an OpenAI API made from the client's bytes, model
    /// spliced in, when they still stand for the request (see [`openai::splice_chat`]): the
    /// conversation is not serialised again.
    fn spliced_chat(self, call: &ProviderCall, translated: bool, ask_usage: bool) -> Option<Bytes> {
        let (Self::OpenAi, false, RequestBody::Chat(chat), Some(client)) =
            (self, translated, &call.request.body, &call.request.client)
        else {
            return None;
        };
        openai::splice_chat(&client.body, chat, &call.upstream_model, ask_usage)
    }

    /// Whether `encode` adds `stream_options.include_usage` that the client did not send (an
    /// OpenAI-chat stream on an OpenAI or OpenAI-compatible server).
    pub(crate) fn adds_stream_usage(self, call: &ProviderCall) -> bool {
        self == Self::OpenAi
            && call.request.protocol == Protocol::OpenAiChat
            && matches!(&call.request.body, RequestBody::Chat(chat) if chat.is_stream() && !chat.wants_stream_usage())
    }

    /// The client's chat request exactly as sent (model replaced), for a server that refused
    /// what [`encode`](Self::encode) added.
    pub(crate) fn encode_as_sent(
        self,
        call: &ProviderCall,
        max_output: Option<u64>,
    ) -> Result<Encoded, ProviderError> {
        let RequestBody::Chat(chat) = &call.request.body else {
            return self.encode(call, max_output);
        };
        if let Some(body) = self.spliced_chat(call, false, false) {
            return Ok(Encoded {
                path: OPENAI_CHAT,
                body,
                passthrough: false,
                beta: None,
            });
        }
        let body = openai::encode_chat_as_sent(chat, &call.upstream_model)
            .map_err(|e| unsupported(e.to_string()))?;
        Ok(Encoded {
            path: OPENAI_CHAT,
            body: Bytes::from(body),
            passthrough: false,
            beta: None,
        })
    }

    /// The headers every request to this API carries: content type, user agent, and the
    /// authentication with `api_key` (marked sensitive, so no debug output shows it). Built
    /// once per provider.
    pub(crate) fn request_headers(self, api_key: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let sensitive = |value: String| {
            let mut value = HeaderValue::from_str(&value).ok()?;
            value.set_sensitive(true);
            Some(value)
        };
        match self {
            Self::OpenAi | Self::Ollama => {
                if let Some(value) = api_key.and_then(|k| sensitive(format!("Bearer {k}"))) {
                    headers.insert(header::AUTHORIZATION, value);
                }
            }
            Self::Anthropic => {
                if let Some(value) = api_key.and_then(|k| sensitive(k.to_owned())) {
                    headers.insert("x-api-key", value);
                }
                headers.insert("anthropic-version", ANTHROPIC_VERSION);
            }
        }
        headers
    }

    /// Translates a complete successful response into OpenAI's shape, with its usage.
    pub(crate) fn decode(
        self,
        call: &ProviderCall,
        body: &Bytes,
    ) -> Result<(Bytes, Usage), ProviderError> {
        match (self, &call.request.body) {
            (Self::OpenAi, _) => openai::decode_usage(body)
                .map(|u| (body.clone(), u))
                .map_err(bad_response),
            (Self::Anthropic, _) => anthropic::decode_response(body, unix_now())
                .map(|(json, usage)| (Bytes::from(json), usage))
                .map_err(|e| bad_response(e.to_string())),
            (Self::Ollama, RequestBody::Chat(_)) => {
                ollama::decode_chat(body, &completion_id(call), unix_now())
                    .map(|(json, usage)| (Bytes::from(json), usage))
                    .map_err(|e| bad_response(e.to_string()))
            }
            (Self::Ollama, RequestBody::Embeddings(request)) => {
                // `encode` already refused an unknown `encoding_format`.
                let encoding = EmbeddingEncoding::of(request).unwrap_or(EmbeddingEncoding::Float);
                ollama::decode_embed(body, &call.upstream_model, encoding)
                    .map(|(json, usage)| (Bytes::from(json), usage))
                    .map_err(|e| bad_response(e.to_string()))
            }
        }
    }

    /// Starts translating a successful streamed response; returns once the first chunk is
    /// decoded, so that a stream failing before it is a failed attempt.
    pub(crate) async fn stream(
        self,
        call: &ProviderCall,
        upstream: UpstreamBody,
        provider: &str,
        idle_timeout: Duration,
    ) -> Result<InferBody, ProviderError> {
        let wants_usage = match &call.request.body {
            RequestBody::Chat(chat) => chat.wants_stream_usage(),
            RequestBody::Embeddings(_) => false,
        };
        match self {
            Self::OpenAi => {
                let usage = UsageSlot::new();
                if call.request.protocol == Protocol::OpenAiChat && !wants_usage {
                    // The stream reaches the client as it is: the cost layer reads its text
                    // from the slot instead of reading every event a second time.
                    usage.record_text();
                }
                let mut body =
                    ForwardBody::new(upstream, wants_usage, usage.clone(), provider, idle_timeout);
                body.first_chunk().await.map_err(bad_response)?;
                Ok(InferBody::new(body, usage))
            }
            Self::Anthropic => {
                let decoder = anthropic::StreamTranslator::new(unix_now(), wants_usage);
                start(sse_events(upstream), decoder, provider, idle_timeout).await
            }
            Self::Ollama => {
                let decoder =
                    ollama::NdjsonTranslator::new(completion_id(call), unix_now(), wants_usage);
                let bytes = upstream.into_data_stream().map_err(BoxError::from);
                start(bytes, decoder, provider, idle_timeout).await
            }
        }
    }
}

/// Refuses a translated call whose client asked for what only the client's own protocol
/// serves (Responses stored state, a forced server-side tool), naming the field.
pub(crate) fn refuse_native_only(call: &ProviderCall) -> Result<(), ProviderError> {
    match call
        .request
        .client
        .as_ref()
        .and_then(|c| c.native_only.as_deref())
    {
        Some(field) => Err(unsupported(format!(
            "`{field}` needs stored state or server-side tools, which only an `openai` provider \
             serves; this request was routed to a provider that does not"
        ))),
        None => Ok(()),
    }
}

/// The server-sent events of an upstream body.
fn sse_events(
    upstream: UpstreamBody,
) -> impl futures_util::Stream<Item = Result<sse_stream::Sse, BoxError>> + Send + 'static {
    SseStream::new(upstream).map_err(BoxError::from)
}

/// The `id` of a completion built by infermux for a provider that has none of its own.
pub(crate) fn completion_id(call: &ProviderCall) -> String {
    format!("chatcmpl-{}", call.request.request_id)
}

async fn start<S, D>(
    upstream: S,
    decoder: D,
    provider: &str,
    idle_timeout: Duration,
) -> Result<InferBody, ProviderError>
where
    D: ChunkDecoder,
    S: futures_util::Stream<Item = Result<D::Item, BoxError>> + Send + 'static,
{
    let usage = UsageSlot::new();
    let mut body = TranslatedBody::new(upstream, decoder, usage.clone(), provider, idle_timeout);
    if let Err(message) = body.first_chunk().await {
        // Usage the provider reported before the stream broke was billed.
        let error = bad_response(message);
        return Err(
            match usage
                .get()
                .filter(|u| u.prompt_tokens > 0 || u.completion_tokens > 0)
            {
                Some(billed) => {
                    error.with_billed(billed, infermux_core::WasteReason::StreamInterrupted)
                }
                None => error,
            },
        );
    }
    Ok(InferBody::new(body, usage))
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use sse_stream::Sse;

    use super::*;

    #[tokio::test]
    async fn a_stream_that_reported_usage_and_broke_before_any_chunk_is_billed() {
        // The client did not ask for usage, so the usage-only chunk is not forwarded: nothing
        // reached the client when the provider's error arrived, but the usage was reported.
        let events: Vec<Result<Sse, BoxError>> = vec![
            Ok(Sse::default().data(
                r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#,
            )),
            Ok(Sse::default().data(r#"{"error":{"message":"overloaded"}}"#)),
        ];
        let decoder = openai::StreamFilter::new(false);
        let Err(failed) = start(stream::iter(events), decoder, "p", Duration::from_secs(5)).await
        else {
            panic!("a failed attempt");
        };
        let (usage, reason) = failed.billed().expect("billed");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (9, 4));
        assert_eq!(reason, infermux_core::WasteReason::StreamInterrupted);
    }

    #[tokio::test]
    async fn a_stream_that_broke_before_reporting_usage_bills_nothing() {
        let events: Vec<Result<Sse, BoxError>> = vec![Ok(
            Sse::default().data(r#"{"error":{"message":"overloaded"}}"#)
        )];
        let decoder = openai::StreamFilter::new(false);
        let Err(failed) = start(stream::iter(events), decoder, "p", Duration::from_secs(5)).await
        else {
            panic!("a failed attempt");
        };
        assert_eq!(failed.billed(), None);
    }
}
