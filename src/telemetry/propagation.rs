//! W3C trace context: continued from the client ([`TraceContextLayer`]) and passed to the
//! provider ([`inject`]).

use std::task::{Context as TaskContext, Poll};

use futures_util::future::Either;
use http::{HeaderMap, Request};
use opentelemetry::{
    Context,
    context::{FutureExt as _, WithContext},
    propagation::TextMapPropagator,
    trace::TraceContextExt as _,
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower::{Layer, Service};

/// `traceparent`, the W3C trace context header.
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// Makes a request's incoming `traceparent` (and `tracestate`) the current OpenTelemetry
/// context while the request is served, so that its spans continue the client's trace and
/// the provider is sent the trace on.
///
/// A request without `traceparent` passes untouched, at no cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextLayer;

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> TraceContext<S> {
        TraceContext { inner }
    }
}

/// The service of [`TraceContextLayer`].
#[derive(Clone, Debug)]
pub struct TraceContext<S> {
    inner: S,
}

impl<S> TraceContext<S> {
    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for TraceContext<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, WithContext<S::Future>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !request.headers().contains_key(TRACEPARENT) {
            return Either::Left(self.inner.call(request));
        }
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
        let future = {
            let _current = parent.clone().attach();
            self.inner.call(request)
        };
        Either::Right(future.with_context(parent))
    }
}

/// Adds the current trace context (the provider attempt's span, or the client's trace when
/// no span is recorded) to `headers` as `traceparent` and `tracestate`. Without a trace, it
/// adds nothing.
pub fn inject(headers: &mut HeaderMap) {
    Context::map_current(|cx| {
        if cx.span().span_context().is_valid() {
            TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
        }
    });
}
