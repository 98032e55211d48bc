//! The response future of [`Cost`](crate::Cost).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderValue, Response};
use infermux_core::{BoxError, InferBody, Served, StoreFuture, UsageSlot};

use crate::{
    bill::{Bill, log_settled},
    body::{Meter, ResponseBody},
};

/// Header carrying the cost of a response in USD: exact for complete responses, the
/// prompt estimate for streams.
pub const COST_HEADER: &str = "x-infermux-cost";

pin_project_lite::pin_project! {
    /// The response future of [`Cost`](crate::Cost).
    ///
    /// A complete response is priced at once and returned after its cost is durable in the
    /// store; a stream is returned at once with its body wrapped in a [`ResponseBody`] that
    /// records the cost when the stream ends.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        bill: Option<Bill>,
        stream: bool,
        wants_usage: bool,
        settling: Option<(StoreFuture<()>, Response<InferBody>)>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, bill: Bill, stream: bool, wants_usage: bool) -> Self {
        Self {
            inner,
            bill: Some(bill),
            stream,
            wants_usage,
            settling: None,
        }
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<InferBody>, BoxError>>,
{
    type Output = Result<Response<InferBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some((settle, _)) = this.settling.as_mut() {
                log_settled(ready!(settle.as_mut().poll(cx)));
                if let Some((_, response)) = this.settling.take() {
                    return Poll::Ready(Ok(response));
                }
            }
            // An error drops the bill, which releases the reservation.
            let mut response = ready!(this.inner.as_mut().poll(cx))?;
            let Some(bill) = this.bill.take() else {
                return Poll::Ready(Ok(response));
            };
            response.extensions_mut().insert(infermux_core::Routed {
                group: bill.group.clone(),
                strategy: bill.strategy,
            });
            let served = response.extensions().get::<Served>().cloned();
            let Some(served) = served.filter(|_| response.status().is_success()) else {
                // Not served by a provider, or a provider's error: nothing to charge.
                return Poll::Ready(Ok(response));
            };
            response.extensions_mut().insert(bill.slot.clone());
            match response.body().usage() {
                Some(usage) if !*this.stream => {
                    let (cost, settle) = bill.settle(&served, usage, false);
                    set_cost(&mut response, cost);
                    *this.settling = Some((settle, response));
                }
                _ => {
                    let estimate = bill.estimate(bill.price(&served).as_ref());
                    set_cost(&mut response, estimate);
                    let meter = Meter::new(bill, served, *this.wants_usage);
                    let response = response.map(|body| {
                        let out = UsageSlot::new();
                        InferBody::new(ResponseBody::new(body, meter, out.clone()), out)
                    });
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

fn set_cost(response: &mut Response<InferBody>, cost: infermux_core::Money) {
    if let Ok(value) = HeaderValue::from_str(&cost.to_plain_decimal()) {
        response.headers_mut().insert(COST_HEADER, value);
    }
}
