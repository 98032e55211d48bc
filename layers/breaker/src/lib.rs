//! Per-provider circuit breaking and local rate limits for the infermux stack.
//!
//! Each provider's client service is wrapped in a [`CircuitBreakerLayer`] inside dispatch. The
//! breaker watches the provider's outcomes over a sliding `window` and takes it out of rotation
//! when it degrades:
//!
//! * **closed → open** when the window holds at least `min_requests` outcomes and either the
//!   error rate reaches `error_rate` or the 95th percentile latency reaches `p95_latency`;
//! * **open → half-open** once `recovery` has passed (a timer does it, so routing sees the
//!   provider come back without a request having to ask);
//! * **half-open**: exactly one probe request is let through, however many callers there are;
//!   success closes the circuit (with a fresh window), failure (or a probe slower than
//!   `p95_latency`) re-opens it, for twice as long after each failed probe in a row (up to
//!   `max_recovery`), and a probe that is dropped without an outcome frees the slot for the
//!   next caller. Callers waiting on the circuit are woken as soon as it changes (the probe
//!   closed it, or its slot was freed), not at the next recovery time.
//!
//! Latency is what the wrapped service's future takes: infermux's provider services resolve
//! when the first byte of the answer is in (for streams, the first decoded chunk: time to
//! first token), so a provider that writes long answers at a steady pace is not "slow".
//!
//! A streamed answer's outcome is decided when the stream ends, not when it starts
//! ([`AtStreamEnd`]): the breaker's permit travels in the response body, which records a
//! success when the stream completes (still with the time to first byte as its latency), a
//! failure when the provider cuts it, sends an error event or stalls, and nothing when the
//! client goes away first (a half-open probe slot is then freed). A half-open probe that is a
//! stream therefore holds the probe slot until the stream ends.
//!
//! Independently of the circuit, a 429 with `Retry-After` keeps the provider out for that
//! long, and a quota 429 for `recovery` (a *cooldown*), either at most `max_cooldown`.
//!
//! What counts as a failure is decided by a [`Classify`] implementation that turns the
//! service's error into an [`Outcome`]: connect errors, timeouts, 5xx and 429 are failures;
//! responses (including a provider's 4xx about the caller's own request) are successes.
//!
//! An open circuit or a cooldown is not an error: the [`CircuitBreaker`] service is simply
//! *not ready*, and dispatch skips providers that are not ready. The state machine itself is
//! plain code driven by `tokio::time::Instant`, so it is tested with a paused clock.
//!
//! [`RateLimiter`] enforces a provider's `rate_limit: {rpm, tpm}` locally, so a burst spills to
//! the next provider instead of collecting 429s.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use infermux_breaker::{Breaker, BreakerParams, CircuitBreakerLayer, Failure, Outcome};
//! use infermux_core::CircuitState;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let params = BreakerParams { min_requests: 2, ..BreakerParams::default() };
//! let breaker = Breaker::new("openai".into(), params);
//! let classify = |_: &&str| Outcome::Failure(Failure::ServerError);
//! let layer = CircuitBreakerLayer::new(breaker.clone(), classify);
//! let failing = layer.layer(service_fn(|_: ()| async { Err::<(), _>("HTTP 500") }));
//!
//! for _ in 0..2 {
//!     assert!(failing.clone().oneshot(()).await.is_err());
//! }
//! assert_eq!(breaker.state(), CircuitState::Open);
//! assert!(breaker.admit().is_err(), "an open circuit admits nothing");
//! # }
//! ```

mod breaker;
mod future;
mod layer;
mod machine;
mod outcome;
mod params;
mod rate;
mod service;
mod settle;
mod stream;
mod window;

pub use breaker::{Breaker, Permit};
pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use machine::Rejection;
pub use outcome::{Classify, Failure, Outcome};
pub use params::BreakerParams;
pub use rate::{RateLimited, RateLimiter, RateLimits};
pub use service::CircuitBreaker;
pub use settle::{AtOnce, Pending, Settle};
pub use stream::{AtStreamEnd, SettledBody};
pub use window::WindowStats;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
