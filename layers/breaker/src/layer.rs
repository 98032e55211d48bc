//! [`CircuitBreakerLayer`]: wraps a provider's service in its [`Breaker`].

use tower::Layer;

use crate::{AtOnce, Breaker, CircuitBreaker};

/// Wraps a service in a [`CircuitBreaker`] gate over `breaker`, classifying its errors with
/// `classify` and settling its responses with `W` (at once by default; streams at their end
/// with [`AtStreamEnd`](crate::AtStreamEnd)).
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C, W = AtOnce> {
    breaker: Breaker,
    classify: C,
    settle: W,
}

impl<C> CircuitBreakerLayer<C> {
    /// A layer gating on `breaker`; every response is a success when it arrives.
    pub const fn new(breaker: Breaker, classify: C) -> Self {
        Self {
            breaker,
            classify,
            settle: AtOnce,
        }
    }
}

impl<C, W> CircuitBreakerLayer<C, W> {
    /// The same layer, deciding responses' outcomes with `settle` (for instance at the end of
    /// their stream).
    pub fn settle_with<W2>(self, settle: W2) -> CircuitBreakerLayer<C, W2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classify: self.classify,
            settle,
        }
    }
}

impl<S, C: Clone, W: Clone> Layer<S> for CircuitBreakerLayer<C, W> {
    type Service = CircuitBreaker<S, C, W>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::with_settle(
            inner,
            self.breaker.clone(),
            self.classify.clone(),
            self.settle.clone(),
        )
    }
}
