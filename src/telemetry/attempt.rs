//! [`AttemptSpans`]: a child span per provider attempt.

use std::task::{Context as TaskContext, Poll};

use futures_util::future::{BoxFuture, Either};
use infermux_core::{ProviderName, RequestBody};
use opentelemetry::{
    Context, KeyValue,
    context::FutureExt as _,
    trace::{SpanKind, Status, TraceContextExt as _, Tracer as _},
};
use opentelemetry_sdk::trace::SdkTracer;
use tower::Service;

use crate::provider::{ProviderCall, ProviderError};

/// The tracer of the request being served, kept in its OpenTelemetry context so that the
/// provider attempts under it are recorded with it too.
#[derive(Clone, Debug)]
pub(crate) struct Recording(SdkTracer);

impl Recording {
    pub(crate) fn new(tracer: SdkTracer) -> Self {
        Self(tracer)
    }
}

/// Wraps one provider's client: each call is a child span of the request's span (when the
/// request is recorded), `{operation} {model}` with `gen_ai.provider.name` and the model sent,
/// current while the call runs so that [`inject`](super::inject) sends it upstream.
#[derive(Clone, Debug)]
pub struct AttemptSpans<S> {
    inner: S,
    provider: ProviderName,
}

impl<S> AttemptSpans<S> {
    /// Records the calls of `inner`, the client of `provider`.
    pub fn new(inner: S, provider: ProviderName) -> Self {
        Self { inner, provider }
    }

    infermux_core::inner_service_accessors!();
}

impl<S, T> Service<ProviderCall> for AttemptSpans<S>
where
    S: Service<ProviderCall, Response = T, Error = ProviderError>,
    S::Future: Send + 'static,
    T: Send + 'static,
{
    type Response = T;
    type Error = ProviderError;
    type Future = Either<S::Future, BoxFuture<'static, Result<T, ProviderError>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), ProviderError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: ProviderCall) -> Self::Future {
        let parent = Context::current();
        let Some(Recording(tracer)) = parent.get::<Recording>() else {
            return Either::Left(self.inner.call(call));
        };
        let operation = match call.request.body {
            RequestBody::Embeddings(_) => "embeddings",
            _ => "chat",
        };
        let span = tracer
            .span_builder(format!("{operation} {}", call.upstream_model))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", operation),
                KeyValue::new("gen_ai.provider.name", self.provider.to_string()),
                KeyValue::new("gen_ai.request.model", call.upstream_model.to_string()),
            ])
            .start_with_context(tracer, &parent);
        let cx = parent.with_span(span);
        let future = {
            let _current = cx.clone().attach();
            self.inner.call(call)
        };
        Either::Right(Box::pin(async move {
            let result = future.with_context(cx.clone()).await;
            let span = cx.span();
            if let Err(error) = &result {
                span.set_attribute(KeyValue::new("error.type", error.label()));
                span.set_status(Status::error(error.to_string()));
            }
            span.end();
            result
        }))
    }
}
