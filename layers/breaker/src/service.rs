//! [`CircuitBreaker`]: the thin gate around a provider's service.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::time::{Instant, Sleep};
use tower::Service;

use crate::{AtOnce, Breaker, Classify, Permit, Settle, future::ResponseFuture};

/// A service behind a circuit breaker.
///
/// `poll_ready` asks the [`Breaker`] for a [`Permit`]: while the circuit is open, its probe is
/// in flight, or the provider is cooling down after a 429, the service is not ready (and wakes
/// the task when it is worth asking again). `call` consumes the permit, and the response future
/// reports the outcome: an error classified by `C` when it arrives, a response when `W` says
/// (at once by default, at the end of its stream with [`AtStreamEnd`](crate::AtStreamEnd)).
pub struct CircuitBreaker<S, C, W = AtOnce> {
    inner: S,
    breaker: Breaker,
    classify: C,
    settle: W,
    permit: Option<Permit>,
    wait: Option<Wait>,
}

/// What a rejected caller waits on: the time admission is due at the latest, or a change of
/// the circuit (the probe closed it, a probe slot was freed), whichever comes first.
struct Wait {
    until: Pin<Box<Sleep>>,
    changed: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
}

impl<S, C> CircuitBreaker<S, C> {
    /// Gates `inner` on `breaker`; every response is a success when it arrives.
    pub const fn new(inner: S, breaker: Breaker, classify: C) -> Self {
        Self::with_settle(inner, breaker, classify, AtOnce)
    }
}

impl<S, C, W> CircuitBreaker<S, C, W> {
    /// Gates `inner` on `breaker`, deciding responses' outcomes with `settle`.
    pub const fn with_settle(inner: S, breaker: Breaker, classify: C, settle: W) -> Self {
        Self {
            inner,
            breaker,
            classify,
            settle,
            permit: None,
            wait: None,
        }
    }

    /// The breaker this service gates on.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    infermux_core::inner_service_accessors!();
}

// A clone shares the breaker but not the permit: each clone must be made ready itself.
impl<S: Clone, C: Clone, W: Clone> Clone for CircuitBreaker<S, C, W> {
    fn clone(&self) -> Self {
        Self::with_settle(
            self.inner.clone(),
            self.breaker.clone(),
            self.classify.clone(),
            self.settle.clone(),
        )
    }
}

impl<S: fmt::Debug, C, W> fmt::Debug for CircuitBreaker<S, C, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}

impl<S, C, W, R> Service<R> for CircuitBreaker<S, C, W>
where
    S: Service<R>,
    C: Classify<S::Error> + Clone,
    W: Settle<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C, W>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        while self.permit.is_none() {
            if let Some(wait) = &mut self.wait {
                let changed = wait.changed.as_mut().poll(cx).is_ready();
                if !changed && wait.until.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.wait = None;
            }
            // Read before asking, so that a change between the rejection and the wait below
            // is not missed.
            let seen = self.breaker.epoch();
            match self.breaker.admit() {
                Ok(permit) => self.permit = Some(permit),
                Err(rejection) => {
                    let at = self.breaker.retry_at(rejection);
                    self.wait = Some(Wait {
                        until: Box::pin(tokio::time::sleep_until(at)),
                        changed: Box::pin(self.breaker.changed_since(seen)),
                    });
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let permit = self
            .permit
            .take()
            .expect("CircuitBreaker::call without poll_ready returning Ready first");
        ResponseFuture::new(
            self.inner.call(request),
            permit,
            self.classify.clone(),
            self.settle.clone(),
            Instant::now(),
        )
    }
}
