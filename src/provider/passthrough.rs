//! Same-protocol answers: an Anthropic provider's answer to a `/v1/messages` client goes back
//! byte for byte; infermux only locates the usage in it.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use infermux_core::{BoxError, InferBody, Protocol, Usage, UsageSlot};
use infermux_wire::passthrough::{UsageObserver, response_usage};
use tokio::time::{Instant, Sleep, sleep};

use super::{ProviderCall, ProviderError, ProviderErrorKind, egress, http::HttpProviderConfig};

/// A successful passthrough answer: the body untouched, its usage read.
pub(crate) async fn success(
    config: &HttpProviderConfig,
    call: &ProviderCall,
    response: Response<Incoming>,
) -> Result<Response<InferBody>, ProviderError> {
    let (parts, body) = response.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    let mut response =
        if call.request.body.is_stream() && call.request.protocol == Protocol::AnthropicMessages {
            let usage = UsageSlot::new();
            let mut body = PassthroughBody::new(body, usage.clone(), config.timeout);
            body.first_frame().await?;
            let mut response = Response::new(InferBody::new(body, usage));
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        } else {
            let bytes = body
                .collect()
                .await
                .map_err(|e| {
                    ProviderError::new(
                        ProviderErrorKind::Connect,
                        format!("response body broke: {e}"),
                    )
                })?
                .to_bytes();
            // Counting tokens is free; a message's usage is in its body.
            let usage = if call.request.protocol == Protocol::AnthropicCountTokens {
                Usage::default()
            } else {
                response_usage(&bytes).ok_or_else(|| {
                    ProviderError::new(
                        ProviderErrorKind::BadResponse,
                        "the provider's message has no usage",
                    )
                })?
            };
            Response::new(InferBody::full_with_usage(bytes, usage))
        };
    let json = HeaderValue::from_static("application/json");
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.unwrap_or(json));
    egress::mark_client_shaped(&mut response);
    Ok(response)
}

/// An Anthropic stream passed through frame by frame, watched for usage and completion. A
/// stream that breaks, or goes quiet past the idle timeout, before `message_stop` ends with an
/// Anthropic `error` event.
struct PassthroughBody {
    upstream: Incoming,
    observer: UsageObserver,
    usage: UsageSlot,
    first: Option<Bytes>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    ended: bool,
}

impl PassthroughBody {
    fn new(upstream: Incoming, usage: UsageSlot, idle_timeout: Duration) -> Self {
        Self {
            upstream,
            observer: UsageObserver::new(),
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
                if this.observer.completed() || this.observer.errored() {
                    return Poll::Ready(None);
                }
                let message = match end {
                    Some(Err(message)) => message,
                    _ => "the provider's stream ended before message_stop".to_owned(),
                };
                tracing::warn!(error = %message, "passthrough stream broke");
                let mut event = b"event: error\ndata: ".to_vec();
                event
                    .extend_from_slice(&infermux_wire::messages::error_body("api_error", &message));
                event.extend_from_slice(b"\n\n");
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(event)))))
            }
        }
    }
}
