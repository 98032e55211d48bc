//! [`VirtualModel`]: the service that rewrites a virtual model to a real one.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderName, HeaderValue, Response};
use infermux_core::{BoxError, InferRequest, RequestBody, Strategy, VirtualRoute};
use tower::Service;

use crate::{
    ROUTE_REASON_HEADER, Resolution, TIER_HEADER, VIRTUAL_MODEL_HEADER, VirtualTable,
    future::ResponseFuture,
};

/// Resolves requests for a virtual model to a real model before `S`; passes every other
/// request through untouched. Built by [`VirtualModelLayer`](crate::VirtualModelLayer).
#[derive(Clone, Debug)]
pub struct VirtualModel<S> {
    inner: S,
    table: Arc<VirtualTable>,
}

impl<S> VirtualModel<S> {
    /// Resolves virtual models by `table` before `inner`.
    pub fn new(inner: S, table: VirtualTable) -> Self {
        Self::from_shared(inner, Arc::new(table))
    }

    pub(crate) fn from_shared(inner: S, table: Arc<VirtualTable>) -> Self {
        Self { inner, table }
    }

    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<InferRequest> for VirtualModel<S>
where
    S: Service<InferRequest, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: InferRequest) -> Self::Future {
        match self.table.resolve(&request, Instant::now()) {
            None => ResponseFuture::called(self.inner.call(request), Vec::new(), None),
            Some(Err(error)) => ResponseFuture::refused(error),
            Some(Ok(resolution)) => {
                let headers = apply(&mut request, resolution);
                let route = request.virtual_model.clone();
                ResponseFuture::called(self.inner.call(request), headers, route)
            }
        }
    }
}

/// Rewrites `request` to the resolved model; the response headers that explain it.
fn apply(request: &mut InferRequest, resolution: Resolution) -> Vec<(HeaderName, HeaderValue)> {
    let name: Arc<str> = request.body.model().into();
    match &mut request.body {
        RequestBody::Chat(chat) => {
            resolution.model.as_ref().clone_into(&mut chat.model);
            if let Some(max) = resolution.clamp_output {
                if chat.max_completion_tokens.is_some() {
                    chat.max_completion_tokens = Some(max);
                }
                if chat.max_tokens.is_some() {
                    chat.max_tokens = Some(max);
                }
                request.estimate.max_completion_tokens = Some(max);
            }
        }
        RequestBody::Embeddings(embeddings) => {
            resolution.model.as_ref().clone_into(&mut embeddings.model);
        }
    }
    if resolution.by_cost && request.strategy_override.is_none() {
        request.strategy_override = Some(Strategy::CostWeighted);
    }
    if let Some(group) = &resolution.group {
        // The route-group layer routes a request whose group is already set in that group.
        request.route.group = Some(group.clone());
    }
    let mut headers = Vec::with_capacity(3);
    let mut push = |header: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.push((header, value));
        }
    };
    push(VIRTUAL_MODEL_HEADER, &name);
    if let Some(tier) = &resolution.tier {
        push(TIER_HEADER, tier);
    }
    push(ROUTE_REASON_HEADER, &resolution.reason);
    request.virtual_model = Some(VirtualRoute {
        name,
        tier: resolution.tier,
        model: resolution.model,
    });
    headers
}
