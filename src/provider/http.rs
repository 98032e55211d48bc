//! A provider reached over HTTP: encode, send on the shared client, classify, decode.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::{Full, Limited};
use infermux_core::{InferBody, ModelSpecs, Protocol, ProviderName};
use tower::Service;

use super::{
    ProviderCall, ProviderError, ProviderErrorKind, WireFormat,
    client::{HttpClient, Upstream},
    egress::{answer, stream_answer},
    pool::UpstreamBody,
};
use crate::whole_body::whole_body;

/// How much of an error response is read to explain the failure.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The settings of one HTTP provider.
#[derive(Clone, Debug)]
pub struct HttpProviderConfig {
    /// The provider's name, for messages.
    pub name: ProviderName,
    /// The API it speaks.
    pub wire: WireFormat,
    /// The API root, without a trailing slash (`https://api.openai.com/v1`).
    pub base_url: String,
    /// The key sent upstream; the client's own credentials never are.
    pub api_key: Option<String>,
    /// Bound on a complete response, or on the first chunk and each later gap of a stream.
    pub timeout: Duration,
    /// The model catalog, shared by every provider: translations clamp output limits to a
    /// model's maximum.
    pub specs: Arc<ModelSpecs>,
    /// Whether the provider serves OpenAI's Responses API itself (the `openai` type):
    /// Responses clients are then passed through instead of translated.
    pub responses_api: bool,
}

/// A tower service calling one provider's HTTP API.
#[derive(Clone)]
pub struct HttpProvider {
    inner: Arc<Inner>,
}

/// What every call of one provider shares, built once.
struct Inner {
    config: HttpProviderConfig,
    /// The request target of each of the wire format's paths.
    uris: Vec<(&'static str, Uri)>,
    /// Content type, user agent and authentication.
    headers: http::HeaderMap,
    /// How requests reach the provider: behind the `Arc` too, so that a call copies no part
    /// of it.
    upstream: Upstream,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("name", &self.inner.config.name)
            .field("wire", &self.inner.config.wire)
            .field("base_url", &self.inner.config.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpProvider {
    /// A provider with `config`, sending on `client` (a plain-HTTP provider dials connections
    /// of its own with `client`'s settings).
    pub fn new(config: HttpProviderConfig, client: HttpClient) -> Self {
        let upstream = client.upstream(&config.base_url);
        // A base URL that does not parse (config validation rules that out) leaves its paths
        // out, and each call then reports it.
        let uris = config
            .wire
            .paths()
            .iter()
            .filter_map(|path| {
                let uri = format!("{}{path}", config.base_url).parse().ok()?;
                Some((*path, upstream.target(uri)))
            })
            .collect();
        let headers = config.wire.request_headers(config.api_key.as_deref());
        Self {
            inner: Arc::new(Inner {
                config,
                uris,
                headers,
                upstream,
            }),
        }
    }
}

impl Service<ProviderCall> for HttpProvider {
    type Response = Response<InferBody>;
    type Error = ProviderError;
    type Future = BoxFuture<'static, Result<Response<InferBody>, ProviderError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        // The pooled client queues internally; readiness is decided by the layers around.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: ProviderCall) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let config = &inner.config;
            let timeout = config.timeout;
            let attempt = send(&inner, &call);
            let result = match tokio::time::timeout(timeout, attempt).await {
                Ok(result) => result,
                Err(_) => Err(ProviderError::new(
                    ProviderErrorKind::Timeout,
                    format!("no response within {}", humantime::format_duration(timeout)),
                )),
            };
            result.map_err(|e| e.redact(config.api_key.as_deref()))
        })
    }
}

async fn send(inner: &Inner, call: &ProviderCall) -> Result<Response<InferBody>, ProviderError> {
    let config = &inner.config;
    if call.request.protocol == Protocol::AnthropicCountTokens
        && config.wire != WireFormat::Anthropic
    {
        // Only Anthropic counts tokens on request; every other provider's count is infermux's.
        return Ok(super::egress::count_locally(call));
    }
    let max_output = config.specs.max_output(&config.name, &call.upstream_model);
    let encoded = if call.request.protocol == Protocol::OpenAiResponses && config.responses_api {
        WireFormat::encode_responses_passthrough(call)?
    } else {
        super::wire::refuse_native_only(call)?;
        config.wire.encode(call, max_output)?
    };
    let added_usage = config.wire.adds_stream_usage(call);
    let response = send_encoded(inner, call, encoded).await?;
    if !added_usage || !response.status().is_client_error() {
        return Ok(response);
    }
    // An older OpenAI-compatible server may refuse the `stream_options` infermux added on its
    // own: then the request goes again exactly as the client sent it.
    let (parts, body) = response.into_parts();
    let bytes = whole_body(body).await.unwrap_or_default();
    if !String::from_utf8_lossy(&bytes).contains("stream_options") {
        return Ok(Response::from_parts(parts, InferBody::full(bytes)));
    }
    tracing::info!(
        provider = %config.name,
        "provider refused stream_options; sending the request without it"
    );
    let max_output = config.specs.max_output(&config.name, &call.upstream_model);
    let encoded = config.wire.encode_as_sent(call, max_output)?;
    send_encoded(inner, call, encoded).await
}

/// Sends one encoded request and classifies the answer.
async fn send_encoded(
    inner: &Inner,
    call: &ProviderCall,
    encoded: super::wire::Encoded,
) -> Result<Response<InferBody>, ProviderError> {
    let config = &inner.config;
    let uri = inner
        .uris
        .iter()
        .find(|(path, _)| *path == encoded.path)
        .map(|(_, uri)| uri.clone());
    let uri = uri.ok_or_else(|| {
        let message = format!("invalid provider URL {}{}", config.base_url, encoded.path);
        ProviderError::new(ProviderErrorKind::Connect, message)
    })?;
    let mut request = Request::new(Full::new(encoded.body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = inner.headers.clone();
    if let Some(beta) = encoded.beta {
        request
            .headers_mut()
            .insert("anthropic-beta", HeaderValue::from_static(beta));
    }
    if encoded.passthrough
        && let Some(client) = &call.request.client
    {
        // The client's protocol headers (`anthropic-version`, `anthropic-beta`) replace the
        // defaults; ingress kept no credential among them.
        for (name, _) in &client.headers {
            request.headers_mut().remove(name);
        }
        for (name, value) in &client.headers {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    // The attempt's span (or the client's trace) goes on upstream.
    crate::telemetry::inject(request.headers_mut());

    let response = inner.upstream.send(request).await.map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::Connect,
            format!("connection failed: {}", error_chain(&*e)),
        )
    })?;
    let status = response.status();
    if status.is_success() {
        if encoded.passthrough {
            // Boxed, as a stream's start below: their futures are large and serve fewer
            // requests than a complete answer, which every send would otherwise carry them for.
            return Box::pin(super::passthrough::success(config, call, response)).await;
        }
        return success(config, call, response).await;
    }
    let retry_after = retry_after(response.headers());
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let body = read_error_body(response.into_body()).await;
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let quota = status == StatusCode::TOO_MANY_REQUESTS && is_quota_error(&body);
        let kind = ProviderErrorKind::Status {
            status,
            retry_after,
            quota,
        };
        let error = ProviderError::new(kind, error_message(&body));
        // A provider may bill a failed answer: its usage is charged as waste.
        let reason = infermux_core::WasteReason::ProviderError;
        return Err(super::billed::mark(error, config.wire, &body, reason));
    }
    if status.is_client_error() {
        // The provider refused the request itself: the client sees its answer as is.
        // A translated request's error is re-shaped as OpenAI's (Ollama's `{"error": "..."}`,
        // Anthropic's `{"type":"error",...}`), status and message kept, so that SDKs show it;
        // for a `/v1/messages` client it is re-shaped once more, as Anthropic's, on the way out.
        let body = if !encoded.passthrough && config.wire != WireFormat::OpenAi {
            Bytes::from(super::egress::openai_error_body(status, &body))
        } else {
            body
        };
        let json = HeaderValue::from_static("application/json");
        let mut response = answer(InferBody::full(body), content_type.unwrap_or(json));
        *response.status_mut() = status;
        if encoded.passthrough {
            super::egress::mark_client_shaped(&mut response);
        }
        return Ok(response);
    }
    Err(ProviderError::new(
        ProviderErrorKind::BadResponse,
        format!("unexpected status {status} (redirects are not followed)"),
    ))
}

async fn success(
    config: &HttpProviderConfig,
    call: &ProviderCall,
    response: Response<UpstreamBody>,
) -> Result<Response<InferBody>, ProviderError> {
    if call.request.body.is_stream() {
        let body = Box::pin(config.wire.stream(
            call,
            response.into_body(),
            config.name.as_str(),
            config.timeout,
        ))
        .await?;
        return Ok(stream_answer(body));
    }
    let bytes = whole_body(response.into_body()).await.map_err(|e| {
        ProviderError::new(
            ProviderErrorKind::Connect,
            format!("response body broke: {e}"),
        )
    })?;
    let (json, usage) = config.wire.decode(call, &bytes).map_err(|error| {
        // An answer rejected after the provider produced (and billed) it.
        let reason = infermux_core::WasteReason::BadResponse;
        super::billed::mark(error, config.wire, &bytes, reason)
    })?;
    Ok(answer(
        InferBody::full_with_usage(json, usage),
        HeaderValue::from_static("application/json"),
    ))
}

/// Reads at most [`ERROR_BODY_LIMIT`] bytes of an error response.
async fn read_error_body(body: UpstreamBody) -> Bytes {
    match whole_body(Limited::new(body, ERROR_BODY_LIMIT)).await {
        Ok(bytes) => bytes,
        Err(_) => Bytes::new(),
    }
}

/// The provider's own explanation: `error.message` (OpenAI, Anthropic), `error` (Ollama), or
/// the start of the body.
fn error_message(body: &[u8]) -> String {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = json.as_ref().and_then(|v| {
        let error = v.get("error")?;
        error
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| error.as_str())
            .map(str::to_owned)
    });
    message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            "no error message".to_owned()
        } else {
            text.chars().take(200).collect()
        }
    })
}

/// Whether a 429 is about quota or billing rather than a momentary rate limit.
fn is_quota_error(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    ["insufficient_quota", "quota_exceeded", "billing"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// `Retry-After` as RFC 9110 writes it: whole seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`). Anything else (fractions, signs, exponents, text) is
/// ignored. The value is not trusted further: the breaker clamps it to `max_cooldown`.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    parse_retry_after(
        headers.get(header::RETRY_AFTER)?.to_str().ok()?,
        SystemTime::now(),
    )
}

/// [`retry_after`] of one header value, as of `now`; never panics.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and an overflowing wait is "very long".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error and its causes, joined: hyper's top-level errors say little on their own.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_each_providers_error_shape() {
        assert_eq!(
            error_message(br#"{"error":{"message":"overloaded","type":"server_error"}}"#),
            "overloaded"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#
            ),
            "busy"
        );
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(b""), "no error message");
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date_and_nothing_else() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").expect("date");
        let parse = |v: &str| parse_retry_after(v, now);
        assert_eq!(parse(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:30:00 GMT"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:00:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past asks for no wait"
        );
        assert_eq!(
            parse("99999999999999999999999999"),
            Some(Duration::from_secs(u64::MAX)),
            "an overflowing number is a very long wait, which the breaker clamps"
        );
        for hostile in [
            "",
            "-1",
            "1.5",
            "1e308",
            "inf",
            "NaN",
            "+5",
            "0x10",
            "5 s",
            "١٢",
            "18446744073709551616.0",
        ] {
            assert_eq!(parse(hostile), None, "{hostile:?} is ignored");
        }
    }

    #[test]
    fn quota_errors_are_told_from_rate_limits() {
        assert!(is_quota_error(
            br#"{"error":{"code":"insufficient_quota"}}"#
        ));
        assert!(!is_quota_error(
            br#"{"error":{"code":"rate_limit_exceeded"}}"#
        ));
    }
}
