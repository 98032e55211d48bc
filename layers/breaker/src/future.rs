//! [`ResponseFuture`]: reports a call's outcome to the breaker when it completes.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::{Classify, Pending, Permit, Settle};

pin_project! {
    /// The response future of [`CircuitBreaker`](crate::CircuitBreaker).
    ///
    /// An error is classified and recorded when it arrives; a response is handed to the
    /// [`Settle`] policy with the latency so far (the time to the first byte), which records
    /// it at once or carries it into the response's body.
    ///
    /// Dropped before it completes (the client went away, an outer timeout fired), it abandons
    /// its permit: a half-open probe slot is freed for the next caller.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C, W> {
        #[pin]
        inner: F,
        permit: Option<Permit>,
        classify: C,
        settle: W,
        start: Instant,
    }
}

impl<F, C, W> ResponseFuture<F, C, W> {
    pub(crate) fn new(inner: F, permit: Permit, classify: C, settle: W, start: Instant) -> Self {
        Self {
            inner,
            permit: Some(permit),
            classify,
            settle,
            start,
        }
    }
}

impl<F, C, W, T, E> Future for ResponseFuture<F, C, W>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<E>,
    W: Settle<T>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let Some(permit) = this.permit.take() else {
            return Poll::Ready(result);
        };
        Poll::Ready(match result {
            Ok(response) => {
                let pending = Pending::new(permit, this.start.elapsed());
                Ok(this.settle.settle(response, pending))
            }
            Err(error) => {
                permit.record(this.classify.classify(&error), this.start.elapsed());
                Err(error)
            }
        })
    }
}
