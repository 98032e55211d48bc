//! The edge: the tower-http layers every request of the proxy port passes first.
//!
//! Outermost first:
//!
//! 1. [`SetSensitiveRequestHeadersLayer`]: `Authorization`, `x-api-key`, `Cookie` and
//!    `Proxy-Authorization` are marked sensitive, so no `Debug` of a request (a trace, a log
//!    line) prints a client's credentials.
//! 2. [`CatchPanicLayer`]: a panic while serving one request becomes a 500 with the OpenAI
//!    error shape for that request, not a dropped connection.
//! 3. [`TraceContextLayer`]: an incoming W3C `traceparent` becomes the current OpenTelemetry
//!    context, so the request's spans continue the client's trace (see [`crate::telemetry`]).
//! 4. [`CallerCheckLayer`]: `X-Infermux-Caller` is bounded (at most
//!    [`MAX_CALLER_LEN`] visible ASCII characters); anything else is refused with 400
//!    `invalid_request` before it can reach a log line or a metric label.
//! 5. [`BodyDeadlineLayer`]: the whole request body must arrive within
//!    `body_read_timeout`; a body still trickling in after it gets 408 `request_timeout`.
//!
//! Then [`Ingress`] (the body limit of `max_request_body` is enforced there, with 413, while
//! the body is read; it is the one place that reads it). Ingress also takes the request's id:
//! the client's `X-Request-Id`, or a fresh UUID when it sent none (or an unusable one); every
//! answer echoes it as `X-Infermux-Request-Id`, the caller check's refusals included.
//!
//! Header read and idle timeouts are properties of the connection, not of a request: the
//! server applies them ([`crate::server::serve`]).
//!
//! [`edge`] is the one function that composes these; `infermux serve` and the library face
//! ([`crate::Infermux::proxy`]) both call it, so an application that mounts the proxy gets the
//! same protection as the binary.

use std::{
    any::Any,
    convert::Infallible,
    fmt,
    future::{Ready, ready},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::future::Either;
use http::{HeaderName, HeaderValue, Request, Response, header};
use infermux_core::InferBody;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::{
    catch_panic::{CatchPanic, CatchPanicLayer},
    sensitive_headers::{SetSensitiveRequestHeaders, SetSensitiveRequestHeadersLayer},
};

use crate::{
    body_deadline::{BodyDeadline, BodyDeadlineLayer},
    error::{self, ErrorClass},
    ingress::{CALLER_HEADER, Ingress},
    telemetry::{TraceContext, TraceContextLayer},
};

/// The longest `X-Infermux-Caller` accepted.
pub const MAX_CALLER_LEN: usize = 128;

/// The edge around a service `S` (the proxy's [`Ingress`]): what [`edge`] returns.
pub type Edge<S> = SetSensitiveRequestHeaders<
    CatchPanic<TraceContext<CallerCheck<BodyDeadline<S>>>, PanicResponse>,
>;

/// Wraps the proxy `ingress` in the edge layers, bounding request bodies to `body_read_timeout`.
pub fn edge<S: crate::InferStack>(
    ingress: Ingress<S>,
    body_read_timeout: Duration,
) -> Edge<Ingress<S>> {
    let service = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::PROXY_AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("x-api-key"),
        ]))
        .layer(CatchPanicLayer::custom(PanicResponse))
        .layer(TraceContextLayer)
        .layer(CallerCheckLayer)
        .layer(BodyDeadlineLayer::new(body_read_timeout))
        .service(ingress);
    check_edge::<_, http_body_util::Empty<Bytes>>(&service);
    service
}

/// Compile-time checkpoint: the edge serves HTTP requests with any body hyper or axum hands
/// it, never fails, and can be cloned per connection and shared across threads.
fn check_edge<S, B>(_: &S)
where
    S: Service<Request<B>, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
}

// === impl PanicResponse ===

/// A panic while serving a request becomes a 500 for that request.
#[derive(Clone, Copy, Debug, Default)]
pub struct PanicResponse;

impl tower_http::catch_panic::ResponseForPanic for PanicResponse {
    type ResponseBody = InferBody;

    fn response_for_panic(&mut self, _panic: Box<dyn Any + Send + 'static>) -> Response<InferBody> {
        // The payload may quote request data; it is not logged.
        tracing::error!("a request handler panicked");
        let class = ErrorClass {
            status: http::StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error",
        };
        error::response(class, "internal error; see the infermux logs")
    }
}

// === impl CallerCheck ===

/// Refuses requests whose `X-Infermux-Caller` is too long or has characters other than
/// visible ASCII.
///
/// A rejection is a response (400 `invalid_request`, with the request id), not an error: the
/// edge never fails. The message says what is wrong without quoting the value, so a hostile
/// header reaches neither the logs nor the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallerCheckLayer;

impl<S> Layer<S> for CallerCheckLayer {
    type Service = CallerCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallerCheck { inner }
    }
}

/// The service of [`CallerCheckLayer`].
#[derive(Clone, Debug)]
pub struct CallerCheck<S> {
    inner: S,
}

impl<S> CallerCheck<S> {
    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for CallerCheck<S>
where
    S: Service<Request<B>, Response = Response<InferBody>>,
{
    type Response = Response<InferBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<InferBody>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match request.headers().get(CALLER_HEADER).map(check_caller) {
            Some(Err(problem)) => Either::Left(ready(Ok(refuse(&request, &problem)))),
            _ => Either::Right(self.inner.call(request)),
        }
    }
}

/// Why a caller header is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct BadCaller {
    len: usize,
    too_long: bool,
}

impl fmt::Display for BadCaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.too_long {
            write!(
                f,
                "X-Infermux-Caller is {} bytes long; at most {MAX_CALLER_LEN} are accepted",
                self.len
            )
        } else {
            write!(
                f,
                "X-Infermux-Caller may hold only visible ASCII characters \
                 (letters, digits, punctuation; no spaces inside, no control characters)"
            )
        }
    }
}

/// Whether `value` is an acceptable caller: after trimming, at most [`MAX_CALLER_LEN`]
/// characters, each visible ASCII. An empty value means `anonymous` and passes.
pub fn check_caller(value: &HeaderValue) -> Result<(), BadCaller> {
    let bytes = value.as_bytes().trim_ascii();
    if bytes.len() > MAX_CALLER_LEN {
        return Err(BadCaller {
            len: bytes.len(),
            too_long: true,
        });
    }
    if !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(BadCaller {
            len: bytes.len(),
            too_long: false,
        });
    }
    Ok(())
}

fn refuse<B>(request: &Request<B>, problem: &BadCaller) -> Response<InferBody> {
    tracing::info!(
        endpoint = request.uri().path(),
        "refused a malformed X-Infermux-Caller"
    );
    let class = ErrorClass {
        status: http::StatusCode::BAD_REQUEST,
        code: "invalid_request",
    };
    let mut response = error::response(class, &problem.to_string());
    let id = crate::ingress::request_id(request.headers());
    crate::ingress::echo_request_id(&mut response, &id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_are_bounded_in_length_and_characters() {
        let ok = |v: &str| check_caller(&HeaderValue::from_str(v).expect("header")).is_ok();
        assert!(ok("free-tier"));
        assert!(ok("team/alpha@example.com"));
        assert!(ok(" padded "));
        assert!(ok(""));
        assert!(ok(&"a".repeat(MAX_CALLER_LEN)));
        assert!(!ok(&"a".repeat(MAX_CALLER_LEN + 1)));
        assert!(!ok("two words"));
        assert!(!ok("tab\there"));
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").expect("obs-text is a valid header");
        assert!(check_caller(&latin1).is_err());
    }
}
