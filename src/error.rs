//! The one place where typed errors become OpenAI-shaped HTTP error responses.
//!
//! Every layer reports failures as small typed errors (inside a [`BoxError`]); the edge walks
//! the source chain, finds the first error it knows, and renders
//! `{"error": {"message", "type": "infermux_error", "code"}}` with the matching status and an
//! `X-Infermux-Error: <code>` header. Anything unknown is a 500 `internal_error` whose message
//! is generic: internal details stay in the logs.

use std::{error::Error as StdError, fmt};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use infermux_core::{BoxError, InferBody, Protocol};
use serde::Serialize;

/// Header naming the error code of an error response.
pub const ERROR_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-error");

/// The request could not be understood: malformed JSON, a missing field, a bad value.
#[derive(Debug)]
pub struct InvalidRequest {
    message: String,
}

impl InvalidRequest {
    /// An invalid request described by `message` (lower case, names the field).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for InvalidRequest {}

/// The request body is larger than `max_request_body`.
#[derive(Debug)]
pub struct PayloadTooLarge {
    limit: u64,
}

impl PayloadTooLarge {
    /// A body over `limit` bytes.
    pub const fn new(limit: u64) -> Self {
        Self { limit }
    }
}

impl fmt::Display for PayloadTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request body exceeds the limit of {} bytes (max_request_body)",
            self.limit
        )
    }
}

impl StdError for PayloadTooLarge {}

/// No configured provider can serve the requested model.
#[derive(Debug)]
pub struct ModelNotFound {
    model: String,
}

impl ModelNotFound {
    /// No provider serves `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
        }
    }
}

impl fmt::Display for ModelNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the model `{}` does not exist or no provider serves it; GET /v1/models lists the models you can request",
            self.model
        )
    }
}

impl StdError for ModelNotFound {}

/// A path or method the proxy does not serve.
#[derive(Debug)]
pub struct RouteNotFound {
    method: http::Method,
    path: String,
}

impl RouteNotFound {
    /// `method path` is not served.
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
        }
    }
}

impl fmt::Display for RouteNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no route for {} {}; infermux serves POST /v1/chat/completions, POST /v1/embeddings, POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models",
            self.method, self.path
        )
    }
}

impl StdError for RouteNotFound {}

/// A served path asked with the wrong method (`GET /v1/chat/completions`).
#[derive(Debug)]
pub struct MethodNotAllowed {
    method: http::Method,
    path: String,
    allowed: http::Method,
}

impl MethodNotAllowed {
    /// `method path` is served, but only with `allowed`.
    pub fn new(method: http::Method, path: impl Into<String>, allowed: http::Method) -> Self {
        Self {
            method,
            path: path.into(),
            allowed,
        }
    }
}

impl fmt::Display for MethodNotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} is not served; use {}",
            self.method, self.path, self.allowed
        )
    }
}

impl StdError for MethodNotAllowed {}

/// How an error is shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorClass {
    /// HTTP status.
    pub status: StatusCode,
    /// The `code` field and `X-Infermux-Error` header.
    pub code: &'static str,
}

/// Finds how to show `error` by walking its source chain for an error infermux knows.
pub fn classify(error: &(dyn StdError + 'static)) -> ErrorClass {
    let mut next = Some(error);
    while let Some(err) = next {
        if let Some(class) = classify_one(err) {
            return class;
        }
        next = err.source();
    }
    ErrorClass {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal_error",
    }
}

fn classify_one(err: &(dyn StdError + 'static)) -> Option<ErrorClass> {
    use crate::provider::{AllProvidersFailed, NoHealthyProvider};
    let (status, code) = if err.is::<InvalidRequest>() {
        (StatusCode::BAD_REQUEST, "invalid_request")
    } else if err.is::<PayloadTooLarge>() {
        (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request")
    } else if err.is::<crate::body_deadline::BodyTimedOut>() {
        // The request body did not arrive within `body_read_timeout`.
        (StatusCode::REQUEST_TIMEOUT, "request_timeout")
    } else if err.is::<ModelNotFound>() || err.is::<infermux_route_group::ModelNotServed>() {
        (StatusCode::NOT_FOUND, "model_not_found")
    } else if err.is::<infermux_virtual_model::NoCapableModel>() {
        (StatusCode::BAD_REQUEST, "no_capable_model")
    } else if err.is::<infermux_strategy::UnpricedModel>() {
        (StatusCode::BAD_REQUEST, "unpriced_model")
    } else if err.is::<infermux_budget::BudgetExceeded>() {
        (StatusCode::TOO_MANY_REQUESTS, "budget_exceeded")
    } else if err.is::<infermux_budget::BudgetStoreUnavailable>() {
        (StatusCode::SERVICE_UNAVAILABLE, "budget_store_unavailable")
    } else if err.is::<infermux_keys::InvalidApiKey>() {
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    } else if err.is::<infermux_keys::ModelNotAllowed>() {
        (StatusCode::FORBIDDEN, "model_not_allowed")
    } else if err.is::<infermux_keys::KeyBudgetExceeded>() {
        (StatusCode::TOO_MANY_REQUESTS, "key_budget_exceeded")
    } else if err.is::<infermux_keys::KeyRateLimited>() {
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    } else if err.is::<RouteNotFound>() {
        (StatusCode::NOT_FOUND, "not_found")
    } else if err.is::<MethodNotAllowed>() {
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    } else if err.is::<NoHealthyProvider>() {
        (StatusCode::SERVICE_UNAVAILABLE, "no_healthy_provider")
    } else if let Some(failed) = err.downcast_ref::<AllProvidersFailed>() {
        if failed.all_rejected_request() {
            (StatusCode::BAD_REQUEST, "invalid_request")
        } else {
            (StatusCode::BAD_GATEWAY, "all_providers_failed")
        }
    } else {
        return None;
    };
    Some(ErrorClass { status, code })
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorObject<'a>,
}

/// The OpenAI-shaped error object, also used for SSE error events.
#[derive(Serialize)]
pub struct ErrorObject<'a> {
    /// Human-readable message.
    pub message: &'a str,
    /// Always `infermux_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Machine-readable code.
    pub code: &'a str,
}

/// The JSON bytes of an OpenAI-shaped error body.
pub fn error_json(message: &str, code: &str) -> Bytes {
    let envelope = ErrorEnvelope {
        error: ErrorObject {
            message,
            kind: "infermux_error",
            code,
        },
    };
    // Serialising a struct of strings cannot fail.
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// Renders any stack error as the client's response, in the shape of the client's protocol:
/// Anthropic's `{"type":"error","error":{"type","message"}}` on `/v1/messages`, OpenAI's
/// otherwise. Status and `X-Infermux-Error` are the same either way.
pub fn into_response_for(protocol: Protocol, error: &BoxError) -> Response<InferBody> {
    if !protocol.is_anthropic() {
        return into_response(error);
    }
    let class = classify(error.as_ref());
    let message = message_of(class, error);
    let kind = infermux_wire::messages::error_type(class.status.as_u16());
    let body = infermux_wire::messages::error_body(kind, &message);
    with_retry_after(
        with_class(Response::new(InferBody::full(body)), class),
        error,
    )
}

fn message_of(class: ErrorClass, error: &BoxError) -> String {
    if class.code == "internal_error" {
        tracing::error!(error = %error, "internal error");
        "internal error; see the infermux logs".to_owned()
    } else {
        error.to_string()
    }
}

/// Renders any stack error as the client's response.
pub fn into_response(error: &BoxError) -> Response<InferBody> {
    let class = classify(error.as_ref());
    let message = message_of(class, error);
    with_retry_after(response(class, &message), error)
}

/// Adds `Retry-After` to a response for an error that says when to come back.
fn with_retry_after(mut response: Response<InferBody>, error: &BoxError) -> Response<InferBody> {
    if let Some(limited) = find::<infermux_keys::KeyRateLimited>(error.as_ref()) {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(limited.retry_after_secs()),
        );
    }
    response
}

/// The first error of type `E` in `error`'s source chain.
fn find<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// An error response of `class` with `message`.
pub fn response(class: ErrorClass, message: &str) -> Response<InferBody> {
    with_class(
        Response::new(InferBody::full(error_json(message, class.code))),
        class,
    )
}

/// Sets the status, JSON content type and `X-Infermux-Error` of an error response.
fn with_class(mut response: Response<InferBody>, class: ErrorClass) -> Response<InferBody> {
    *response.status_mut() = class.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(ERROR_HEADER, HeaderValue::from_static(class.code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_errors_are_found_behind_wrappers() {
        #[derive(Debug)]
        struct Wrapper(BoxError);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(self.0.as_ref())
            }
        }
        let err = Wrapper(Box::new(ModelNotFound::new("gpt-9")));
        assert_eq!(classify(&err).code, "model_not_found");
        assert_eq!(classify(&err).status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn unknown_errors_are_internal_and_do_not_leak_details() {
        let err: BoxError = "secret detail".into();
        let response = into_response(&err);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[ERROR_HEADER], "internal_error");
    }

    #[test]
    fn anthropic_requests_get_anthropic_shaped_errors() {
        let err: BoxError = Box::new(ModelNotFound::new("claude-9"));
        let response = into_response_for(Protocol::AnthropicMessages, &err);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[ERROR_HEADER], "model_not_found");
    }

    #[test]
    fn error_bodies_are_openai_shaped() {
        let body: serde_json::Value =
            serde_json::from_slice(&error_json("bad", "invalid_request")).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"error": {"message": "bad", "type": "infermux_error", "code": "invalid_request"}})
        );
    }
}
