//! What counts as a failure: the classification the breaker learns from.

use std::time::Duration;

/// How one call through the breaker ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered, including with a 4xx about the caller's own request.
    Success,
    /// The provider failed.
    Failure(Failure),
    /// Nothing is learned about the provider (the request was one it cannot express): the
    /// call neither counts nor, as a probe, decides the circuit.
    Neutral,
}

/// A provider failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made or broke before a response.
    Connect,
    /// No response in time.
    Timeout,
    /// A 5xx answer.
    ServerError,
    /// An answer that is not valid for the provider's API.
    BadResponse,
    /// A streamed answer that began but did not complete: the provider cut it, sent an error
    /// event, or went quiet past its idle timeout.
    StreamBroken,
    /// A 429.
    RateLimited {
        /// The provider's `Retry-After`: the provider stays out of rotation that long.
        retry_after: Option<Duration>,
        /// The account is out of quota: the provider stays out for the breaker's `recovery`.
        quota: bool,
    },
}

/// Classifies a service's errors into [`Outcome`]s; `Ok` responses are always
/// [`Outcome::Success`].
pub trait Classify<E> {
    /// The outcome `error` stands for.
    fn classify(&self, error: &E) -> Outcome;
}

impl<E, F> Classify<E> for F
where
    F: Fn(&E) -> Outcome,
{
    fn classify(&self, error: &E) -> Outcome {
        self(error)
    }
}
