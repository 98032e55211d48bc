//! [`CircuitBreakerLayer`]: wraps a provider's service in its [`Breaker`].

use tower::Layer;

use crate::{Breaker, CircuitBreaker};

/// Wraps a service in a [`CircuitBreaker`] gate over `breaker`, classifying its errors with
/// `classify`.
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C> {
    breaker: Breaker,
    classify: C,
}

impl<C> CircuitBreakerLayer<C> {
    /// A layer gating on `breaker`.
    pub const fn new(breaker: Breaker, classify: C) -> Self {
        Self { breaker, classify }
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(inner, self.breaker.clone(), self.classify.clone())
    }
}
