//! [`Cost`]: captures who pays for a request before it goes down the stack.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use http::Response;
use infermux_core::{AttemptBilling, BoxError, InferBody, InferRequest, Protocol, RequestBody};
use tower::Service;

use crate::{
    ResponseFuture,
    bill::{Bill, Shared},
};

/// Accounts the responses of `S`; built by [`CostLayer`](crate::CostLayer).
#[derive(Clone, Debug)]
pub struct Cost<S> {
    inner: S,
    shared: Arc<Shared>,
    billing: AttemptBilling,
}

impl<S> Cost<S> {
    pub(crate) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        let billing = crate::attempts::billing(&shared);
        Self {
            inner,
            shared,
            billing,
        }
    }

    infermux_core::inner_service_accessors!();
}

impl<S> Service<InferRequest> for Cost<S>
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError>,
{
    type Response = Response<InferBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: InferRequest) -> Self::Future {
        let stream = request.body.is_stream();
        let wants_usage = matches!(&request.body, RequestBody::Chat(chat)
            if chat.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true));
        let bill = Bill {
            shared: self.shared.clone(),
            request_id: request.request_id.clone(),
            caller: request.caller.clone(),
            group: request.route.group.clone(),
            estimate: request.estimate,
            deferred_count: request.deferred_count.clone(),
            reservation: request.budget.take(),
            key: request.key.clone(),
            slot: infermux_core::SettledSlot::new(),
            strategy: request.route.strategy,
        };
        // Counting a prompt's tokens is answered by a provider but never billed.
        let protocol = request.protocol;
        if protocol != Protocol::AnthropicCountTokens {
            request.billed_attempts = Some(self.billing.clone());
        }
        ResponseFuture::new(
            self.inner.call(request),
            bill,
            stream,
            wants_usage,
            protocol,
        )
    }
}
