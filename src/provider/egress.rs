//! Answers shaped for the client's protocol.
//!
//! Provider adapters answer OpenAI-chat-shaped (the hub), except a same-protocol passthrough,
//! which is already in the client's shape and marked so ([`mark_client_shaped`]). For a
//! `/v1/messages` or `/v1/responses` client, [`to_client`] re-encodes the rest with
//! `infermux_wire::messages` or `infermux_wire::responses`: complete answers, streams (event by
//! event, as they arrive, through one body for both protocols) and provider errors, keeping the
//! usage slot so that cost accounting sees the same usage.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use infermux_core::{BoxError, InferBody, InferRequest, Protocol, Usage};
use infermux_wire::{
    messages::{StreamEncoder, encode_response, from_openai_error},
    report::{StreamEnd, StreamReencoder},
    responses::StreamEncoder as ResponsesEncoder,
};
use serde_json::json;

use super::ProviderCall;

/// The headers an answer carries out: its content type (and a stream's `Cache-Control`), the
/// `X-Infermux-*` headers the layers above add (provider, model, cost, route reason, request
/// id; a virtual model's tier and session) and hyper's `Content-Length`.
const ANSWER_HEADERS: usize = 12;

/// A response with `body` of `content_type`, with room for every header it will carry, so
/// that the map does not grow on the way out.
pub(crate) fn answer(body: InferBody, content_type: HeaderValue) -> Response<InferBody> {
    let mut headers = HeaderMap::with_capacity(ANSWER_HEADERS);
    headers.insert(header::CONTENT_TYPE, content_type);
    let mut response = Response::new(body);
    *response.headers_mut() = headers;
    response
}

/// A server-sent event stream with `body`, not to be cached, with room for every header it
/// will carry.
pub(crate) fn stream_answer(body: InferBody) -> Response<InferBody> {
    let mut response = answer(body, HeaderValue::from_static("text/event-stream"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Marks a response whose body is already in the client's protocol.
#[derive(Clone, Copy, Debug)]
struct ClientShaped;

/// Marks `response` as already shaped for the client (passthrough, local answers).
pub(crate) fn mark_client_shaped(response: &mut Response<InferBody>) {
    response.extensions_mut().insert(ClientShaped);
}

/// An error body of any provider re-shaped as OpenAI's `{"error":{"message","type","code"}}`,
/// keeping its message.
pub(crate) fn openai_error_body(status: StatusCode, body: &[u8]) -> Vec<u8> {
    let anthropic: serde_json::Value =
        serde_json::from_slice(&from_openai_error(status.as_u16(), body)).unwrap_or_default();
    let message = anthropic["error"]["message"].as_str().unwrap_or("");
    let kind = if status == StatusCode::NOT_FOUND {
        "not_found_error"
    } else {
        "invalid_request_error"
    };
    json!({"error": {"message": message, "type": kind, "code": null, "param": null}})
        .to_string()
        .into_bytes()
}

/// `{"input_tokens": N}` from infermux's own count, for providers that do not count tokens on
/// request. Never billed.
pub(crate) fn count_locally(call: &ProviderCall) -> Response<InferBody> {
    let body = json!({"input_tokens": call.request.estimate.prompt_tokens}).to_string();
    let body = InferBody::full_with_usage(body, Usage::default());
    let mut response = answer(body, HeaderValue::from_static("application/json"));
    mark_client_shaped(&mut response);
    response
}

/// `response` (OpenAI-chat-shaped unless marked) in the shape of `request`'s protocol.
pub(crate) async fn to_client(
    request: &InferRequest,
    response: Response<InferBody>,
) -> Response<InferBody> {
    if request.protocol == Protocol::OpenAiChat
        || response.extensions().get::<ClientShaped>().is_some()
    {
        return response;
    }
    // Boxed: reshaping holds a body's collection, which an answer already in shape (most of
    // them) should not carry in its future.
    Box::pin(reshape(request, response)).await
}

async fn reshape(request: &InferRequest, response: Response<InferBody>) -> Response<InferBody> {
    let (mut parts, body) = response.into_parts();
    let usage = body.usage_slot().clone();
    let is_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if request.protocol == Protocol::OpenAiResponses {
        return to_responses(request, parts, body, is_stream).await;
    }
    if is_stream && parts.status.is_success() {
        let model = request.body.model().to_owned();
        let encoder = StreamEncoder::new(&model, request.estimate.prompt_tokens);
        let body = Reencoded::new(body, encoder);
        return Response::from_parts(parts, InferBody::new(body, usage));
    }
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let encoded = if parts.status.is_success() {
        encode_response(&bytes, usage.get()).unwrap_or_else(|| {
            parts.status = StatusCode::BAD_GATEWAY;
            from_openai_error(502, b"the provider's answer could not be translated")
        })
    } else {
        from_openai_error(parts.status.as_u16(), &bytes)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = match usage.get() {
        Some(usage) => InferBody::full_with_usage(encoded, usage),
        None => InferBody::full(encoded),
    };
    Response::from_parts(parts, body)
}

/// An OpenAI-chat-shaped answer as a Responses client expects it: a `response` object, or the
/// Responses event sequence. Errors keep OpenAI's shape, which the Responses API shares.
async fn to_responses(
    request: &InferRequest,
    mut parts: http::response::Parts,
    body: InferBody,
    is_stream: bool,
) -> Response<InferBody> {
    if !parts.status.is_success() {
        return Response::from_parts(parts, body);
    }
    let usage = body.usage_slot().clone();
    let created_at = super::wire::unix_now();
    let namespaces = request
        .client
        .as_ref()
        .map_or(&[][..], |c| c.tool_namespaces.as_slice());
    if is_stream {
        let encoder = ResponsesEncoder::new(request.body.model(), created_at)
            .with_namespaces(namespaces.to_vec());
        let body = Reencoded::new(body, encoder);
        return Response::from_parts(parts, InferBody::new(body, usage));
    }
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let encoded =
        infermux_wire::responses::encode_response(&bytes, usage.get(), created_at, namespaces)
            .unwrap_or_else(|| {
                parts.status = StatusCode::BAD_GATEWAY;
                json!({"error": {"message": "the provider's answer could not be translated",
                             "type": "infermux_error", "code": "bad_response", "param": null}})
                .to_string()
                .into_bytes()
            });
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = match usage.get() {
        Some(usage) => InferBody::full_with_usage(encoded, usage),
        None => InferBody::full(encoded),
    };
    Response::from_parts(parts, body)
}

/// An OpenAI chat stream re-emitted in the client's protocol (Anthropic or Responses events)
/// as it passes.
struct Reencoded<E> {
    inner: InferBody,
    encoder: E,
    ended: bool,
}

impl<E> Reencoded<E> {
    fn new(inner: InferBody, encoder: E) -> Self {
        Self {
            inner,
            encoder,
            ended: false,
        }
    }
}

impl<E: StreamReencoder + Unpin> Body for Reencoded<E> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Every field is `Unpin` (the inner body is boxed, the encoder is `Unpin`).
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let mut out = Vec::new();
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.encoder.feed(&data, &mut out);
                    }
                }
                Some(Err(error)) => {
                    this.ended = true;
                    this.encoder
                        .fail(&format!("the provider's stream broke: {error}"), &mut out);
                }
                None => {
                    this.ended = true;
                    let usage = this.inner.usage();
                    this.encoder.finish(usage, &mut out);
                    if this.encoder.report().end == StreamEnd::Completed {
                        this.inner.usage_slot().mark_completed();
                    }
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }
}
