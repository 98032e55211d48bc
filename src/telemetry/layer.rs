//! [`RequestSpanLayer`]: one span per request, ended with the response body.

use std::{
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use futures_util::future::{BoxFuture, Either};
use http::Response;
use http_body::{Body, Frame, SizeHint};
use infermux_core::{
    BoxError, InferBody, InferRequest, PriceTable, RequestBody, Served, Usage, UsageSlot,
};
use opentelemetry::{
    Context, KeyValue,
    context::FutureExt as _,
    trace::{SpanKind, Status, TraceContextExt as _, Tracer as _},
};
use opentelemetry_sdk::trace::SdkTracer;
use tower::{Layer, Service};

use super::attempt::Recording;

/// The virtual model names (routed by infermux itself, not by a provider).
const VIRTUAL_MODELS: &[&str] = &["economy", "auto", "smart-select"];

/// Opens a span per request (`chat {model}`, `embeddings {model}`) as a child of the current
/// OpenTelemetry context (the client's `traceparent`, when it sent one), keeps it current
/// while the stack works, and ends it when the response body ends (or is dropped), with the
/// provider's usage and its cost. Without a tracer it adds nothing.
#[derive(Clone, Debug)]
pub struct RequestSpanLayer {
    tracer: Option<SdkTracer>,
    prices: PriceTable,
}

impl RequestSpanLayer {
    /// Records spans with `tracer` (none: no spans), pricing usage with `prices`.
    pub fn new(tracer: Option<SdkTracer>, prices: PriceTable) -> Self {
        Self { tracer, prices }
    }
}

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;

    fn layer(&self, inner: S) -> RequestSpan<S> {
        RequestSpan {
            inner,
            tracer: self.tracer.clone(),
            prices: self.prices.clone(),
        }
    }
}

/// The service of [`RequestSpanLayer`].
#[derive(Clone, Debug)]
pub struct RequestSpan<S> {
    inner: S,
    tracer: Option<SdkTracer>,
    prices: PriceTable,
}

impl<S> RequestSpan<S> {
    infermux_core::inner_service_accessors!();
}

impl<S> Service<InferRequest> for RequestSpan<S>
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<InferBody>;
    type Error = BoxError;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response<InferBody>, BoxError>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: InferRequest) -> Self::Future {
        let Some(tracer) = &self.tracer else {
            return Either::Left(self.inner.call(request));
        };
        let operation = match &request.body {
            RequestBody::Embeddings(_) => "embeddings",
            _ => "chat",
        };
        let model = request.body.model().to_owned();
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", operation),
            KeyValue::new("gen_ai.request.model", model.clone()),
            KeyValue::new("infermux.caller", request.caller.to_string()),
        ];
        if VIRTUAL_MODELS.contains(&model.as_str()) {
            attributes.push(KeyValue::new("infermux.virtual_model", model.clone()));
        }
        let parent = Context::current();
        let span = tracer
            .span_builder(format!("{operation} {model}"))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        let cx = parent
            .with_span(span)
            .with_value(Recording::new(tracer.clone()));
        let future = {
            let _current = cx.clone().attach();
            self.inner.call(request)
        };
        let prices = self.prices.clone();
        Either::Right(Box::pin(async move {
            let result = future.with_context(cx.clone()).await;
            match result {
                Ok(response) => Ok(finish_on_body_end(response, cx, prices)),
                Err(error) => {
                    let span = cx.span();
                    span.set_attribute(KeyValue::new(
                        "error.type",
                        crate::error::classify(error.as_ref()).code,
                    ));
                    span.set_status(Status::error(error.to_string()));
                    span.end();
                    Err(error)
                }
            }
        }))
    }
}

/// Records what the response says (provider, model, group), then hands the span to the body.
fn finish_on_body_end(
    response: Response<InferBody>,
    cx: Context,
    prices: PriceTable,
) -> Response<InferBody> {
    let span = cx.span();
    let served = response.extensions().get::<Served>().cloned();
    if let Some(served) = &served {
        span.set_attribute(KeyValue::new(
            "gen_ai.provider.name",
            served.provider.to_string(),
        ));
        span.set_attribute(KeyValue::new(
            "gen_ai.response.model",
            served.upstream_model.to_string(),
        ));
    }
    if let Some(group) = response
        .headers()
        .get(infermux_route_group::ROUTE_GROUP_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        span.set_attribute(KeyValue::new("infermux.route_group", group.to_owned()));
    }
    let status = response.status();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_client_error() || status.is_server_error() {
        span.set_attribute(KeyValue::new("error.type", status.as_str().to_owned()));
    }
    let (parts, body) = response.into_parts();
    let usage = UsageSlot::new();
    let body = SpanBody {
        inner: body,
        usage: usage.clone(),
        end: Some(SpanEnd { cx, served, prices }),
    };
    Response::from_parts(parts, InferBody::new(body, usage))
}

/// What ends the request's span: the context holding it and how to price the usage.
struct SpanEnd {
    cx: Context,
    served: Option<Served>,
    prices: PriceTable,
}

impl SpanEnd {
    fn end(self, usage: Option<Usage>, failure: Option<String>) {
        let span = self.cx.span();
        if let Some(usage) = usage {
            let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            span.set_attributes([
                KeyValue::new("gen_ai.usage.input_tokens", tokens(usage.prompt_tokens)),
                KeyValue::new(
                    "gen_ai.usage.output_tokens",
                    tokens(usage.completion_tokens),
                ),
                KeyValue::new(
                    "gen_ai.usage.cache_read.input_tokens",
                    tokens(usage.cached_prompt_tokens),
                ),
                KeyValue::new(
                    "gen_ai.usage.cache_creation.input_tokens",
                    tokens(usage.cache_creation_tokens),
                ),
            ]);
            if let Some(served) = &self.served
                && let Some(price) = self.prices.price(&served.provider, &served.upstream_model)
            {
                // Floats only for rendering: the exact amount is in the spend ledger.
                let usd = price.cost(&usage).picos() as f64 / 1e12;
                span.set_attribute(KeyValue::new("infermux.cost_usd", usd));
            }
        }
        if let Some(failure) = failure {
            span.set_status(Status::error(failure));
        }
        span.end();
    }
}

pin_project_lite::pin_project! {
    /// The response body, ending the request's span when it ends, fails or is dropped.
    struct SpanBody {
        #[pin]
        inner: InferBody,
        usage: UsageSlot,
        end: Option<SpanEnd>,
    }

    impl PinnedDrop for SpanBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(end) = this.end.take() {
                let usage = this.inner.usage();
                end.end(usage, Some("the client went away before the end of the body".to_owned()));
            }
        }
    }
}

impl Body for SpanBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        // A complete body may never be polled past its last frame.
        let ended = matches!(&frame, Some(Ok(_))) && this.inner.is_end_stream();
        match &frame {
            _ if ended => {
                let usage = this.inner.usage();
                if let Some(usage) = usage {
                    this.usage.set(usage);
                }
                if let Some(end) = this.end.take() {
                    end.end(usage, None);
                }
            }
            None | Some(Err(_)) => {
                let usage = this.inner.usage();
                if let Some(usage) = usage {
                    this.usage.set(usage);
                }
                if let Some(end) = this.end.take() {
                    let failure = match &frame {
                        Some(Err(error)) => Some(error.to_string()),
                        _ => None,
                    };
                    end.end(usage, failure);
                }
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
