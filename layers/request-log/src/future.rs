//! The response future of [`LogRequests`](crate::LogRequests).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::Response;
use infermux_core::{BoxError, InferBody, KeyHold, Routed, Served, SettledSlot, VirtualRoute};

use crate::{
    Classify, Decided,
    body::{LoggedBody, Pending},
};

pin_project_lite::pin_project! {
    /// The response future of [`LogRequests`](crate::LogRequests): logs a refusal or
    /// failure at once, a complete answer when it is returned, and a stream when it ends.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
        classify: Classify,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, pending: Pending, classify: Classify) -> Self {
        Self {
            inner,
            pending: Some(pending),
            classify,
        }
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<InferBody>, BoxError>>,
{
    type Output = Result<Response<InferBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(mut pending) = this.pending.take() else {
            return Poll::Ready(result);
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                let (status, code) = (this.classify)(&*error);
                pending.record.status = status;
                pending.record.error_code = Some(code.into());
                pending.finish();
                return Poll::Ready(Err(error));
            }
        };
        let slot = response.extensions().get::<SettledSlot>().cloned();
        pending.record.status = response.status().as_u16();
        pending.record.served(
            response.extensions().get::<Served>(),
            response.extensions().get::<Routed>(),
            slot.as_ref().and_then(SettledSlot::get),
            Decided {
                key: response.extensions().get::<KeyHold>(),
                virtual_route: response.extensions().get::<VirtualRoute>(),
            },
        );
        let settled = slot.as_ref().is_some_and(|s| s.get().is_some());
        if !response.status().is_success() || settled || slot.is_none() {
            // Complete: refused, a provider's error, or a body already priced.
            pending.finish();
            return Poll::Ready(Ok(response));
        }
        let response = response.map(|body| {
            let usage = body.usage_slot().clone();
            InferBody::new(LoggedBody::new(body, pending, slot), usage)
        });
        Poll::Ready(Ok(response))
    }
}
