//! [`ResponseFuture`]: reports a call's outcome to the breaker when it completes.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::{Classify, Outcome, Permit};

pin_project! {
    /// The response future of [`CircuitBreaker`](crate::CircuitBreaker).
    ///
    /// Dropped before it completes (the client went away, an outer timeout fired), it abandons
    /// its permit: a half-open probe slot is freed for the next caller.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        permit: Option<Permit>,
        classify: C,
        start: Instant,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, permit: Permit, classify: C, start: Instant) -> Self {
        Self {
            inner,
            permit: Some(permit),
            classify,
            start,
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<E>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(permit) = this.permit.take() {
            let outcome = match &result {
                Ok(_) => Outcome::Success,
                Err(error) => this.classify.classify(error),
            };
            permit.record(outcome, this.start.elapsed());
        }
        Poll::Ready(result)
    }
}
