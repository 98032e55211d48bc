//! Same-protocol answers: an Anthropic provider's answer to a `/v1/messages` client, and an
//! OpenAI provider's answer to a `/v1/responses` client, go back byte for byte; infermux only
//! locates the usage in them.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body::{Body, Frame};
use infermux_core::{BoxError, InferBody, Protocol, Usage, UsageSlot};
use infermux_wire::{passthrough, responses};
use tokio::time::{Instant, Sleep, sleep};

use super::{
    ProviderCall, ProviderError, ProviderErrorKind, egress, http::HttpProviderConfig,
    pool::UpstreamBody,
};
use crate::whole_body::whole_body;

/// A successful passthrough answer: the body untouched, its usage read.
pub(crate) async fn success(
    config: &HttpProviderConfig,
    call: &ProviderCall,
    response: Response<UpstreamBody>,
) -> Result<Response<InferBody>, ProviderError> {
    let (parts, body) = response.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    let watch = match call.request.protocol {
        Protocol::AnthropicMessages => Some(Watch::Messages(passthrough::UsageObserver::new())),
        Protocol::OpenAiResponses => Some(Watch::Responses(responses::UsageObserver::new())),
        _ => None,
    };
    let json = HeaderValue::from_static("application/json");
    let content_type = content_type.unwrap_or(json);
    let mut response = match watch {
        Some(watch) if call.request.body.is_stream() => {
            let usage = UsageSlot::new();
            let mut body = PassthroughBody::new(body, watch, usage.clone(), config.timeout);
            body.first_frame().await?;
            let mut response = egress::answer(InferBody::new(body, usage), content_type);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        _ => {
            let bytes = whole_body(body).await.map_err(|e| {
                ProviderError::new(
                    ProviderErrorKind::Connect,
                    format!("response body broke: {e}"),
                )
            })?;
            // Counting tokens is free; a message's usage is in its body.
            let usage = match call.request.protocol {
                Protocol::AnthropicCountTokens => Some(Usage::default()),
                Protocol::OpenAiResponses => responses::response_usage(&bytes),
                _ => passthrough::response_usage(&bytes),
            };
            let usage = usage.ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::BadResponse,
                    "the provider's answer has no usage",
                )
            })?;
            egress::answer(InferBody::full_with_usage(bytes, usage), content_type)
        }
    };
    egress::mark_client_shaped(&mut response);
    Ok(response)
}

/// What a passing stream is watched with: its protocol's usage observer.
enum Watch {
    /// An Anthropic Messages stream.
    Messages(passthrough::UsageObserver),
    /// An OpenAI Responses stream.
    Responses(responses::UsageObserver),
}

impl Watch {
    fn observe(&mut self, bytes: &[u8]) {
        match self {
            Self::Messages(o) => o.observe(bytes),
            Self::Responses(o) => o.observe(bytes),
        }
    }

    fn usage(&self) -> Option<Usage> {
        match self {
            Self::Messages(o) => o.usage(),
            Self::Responses(o) => o.usage(),
        }
    }

    /// Whether the stream's terminal event arrived (`message_stop`, `response.completed`).
    fn completed(&self) -> bool {
        match self {
            Self::Messages(o) => o.completed(),
            Self::Responses(o) => o.completed(),
        }
    }

    /// Whether the provider ended the stream itself, completed or with its own error event.
    fn ended(&self) -> bool {
        match self {
            Self::Messages(o) => o.completed() || o.errored(),
            Self::Responses(o) => o.completed() || o.errored(),
        }
    }

    /// The event that tells the client the stream broke, in its protocol.
    fn failure_event(&self, message: &str) -> Vec<u8> {
        match self {
            Self::Messages(_) => {
                let mut event = b"event: error\ndata: ".to_vec();
                event.extend_from_slice(&infermux_wire::messages::error_body("api_error", message));
                event.extend_from_slice(b"\n\n");
                event
            }
            Self::Responses(_) => {
                let data = serde_json::json!({
                    "type": "response.failed",
                    "response": {"object": "response", "status": "failed", "output": [],
                                 "error": {"code": "server_error", "message": message}},
                });
                format!("event: response.failed\ndata: {data}\n\n").into_bytes()
            }
        }
    }
}

/// A same-protocol stream passed through frame by frame, watched for usage and completion. A
/// stream that breaks, or goes quiet past the idle timeout, before its terminal event ends with
/// the protocol's failure event (Anthropic `error`, Responses `response.failed`).
struct PassthroughBody {
    upstream: UpstreamBody,
    observer: Watch,
    usage: UsageSlot,
    first: Option<Bytes>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    ended: bool,
}

impl PassthroughBody {
    fn new(
        upstream: UpstreamBody,
        observer: Watch,
        usage: UsageSlot,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            upstream,
            observer,
            usage,
            first: None,
            idle_timeout,
            idle: Box::pin(sleep(idle_timeout)),
            ended: false,
        }
    }

    /// Waits for the first bytes, so that a provider failing before sending any is a failed
    /// attempt (dispatch may fail over) rather than a broken stream.
    async fn first_frame(&mut self) -> Result<(), ProviderError> {
        loop {
            let frame = std::future::poll_fn(|cx| self.poll_upstream(cx)).await;
            match frame {
                Some(Ok(bytes)) if bytes.is_empty() => continue,
                Some(Ok(bytes)) => {
                    self.first = Some(bytes);
                    return Ok(());
                }
                Some(Err(message)) => {
                    return Err(ProviderError::new(ProviderErrorKind::BadResponse, message));
                }
                None => {
                    return Err(ProviderError::new(
                        ProviderErrorKind::BadResponse,
                        "the provider's stream ended before its first event",
                    ));
                }
            }
        }
    }

    /// The next data bytes of the upstream, watched; an error says why the stream broke.
    fn poll_upstream(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        let this = self;
        loop {
            if this.idle.as_mut().poll(cx).is_ready() {
                let secs = this.idle_timeout.as_secs_f64();
                return Poll::Ready(Some(Err(format!("no data from the provider for {secs}s"))));
            }
            match ready!(Pin::new(&mut this.upstream).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    this.idle.as_mut().reset(Instant::now() + this.idle_timeout);
                    if let Ok(bytes) = frame.into_data() {
                        this.observer.observe(&bytes);
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                }
                Some(Err(error)) => {
                    return Poll::Ready(Some(Err(format!("the provider's stream broke: {error}"))));
                }
                None => return Poll::Ready(None),
            }
        }
    }
}

impl Body for PassthroughBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Every field is `Unpin`.
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        match ready!(this.poll_upstream(cx)) {
            Some(Ok(bytes)) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            end => {
                this.ended = true;
                if let Some(usage) = this.observer.usage() {
                    this.usage.set(usage);
                }
                if this.observer.completed() {
                    this.usage.mark_completed();
                }
                if this.observer.ended() {
                    return Poll::Ready(None);
                }
                let message = match end {
                    Some(Err(message)) => message,
                    _ => "the provider's stream ended before it completed".to_owned(),
                };
                tracing::warn!(error = %message, "passthrough stream broke");
                let event = this.observer.failure_event(&message);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(event)))))
            }
        }
    }
}
