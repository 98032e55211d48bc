//! The resilience side of a provider, from its config: circuit breaker parameters, the local
//! rate limit, and what counts as a provider failure.
//!
//! The breaker crate knows nothing of infermux's error types; [`classify`] maps a
//! [`ProviderError`] into its [`Outcome`].

use std::{num::NonZeroU32, time::Duration};

use infermux_breaker::{
    AtStreamEnd, Breaker, BreakerParams, CircuitBreakerLayer, Failure, Outcome, RateLimiter,
    RateLimits,
};
use infermux_core::{ProviderBoard, ProviderName};
use tower::{Layer, util::Either};

use crate::{
    config::{CircuitBreakerConfig, ProviderConfig, RateLimitConfig},
    provider::{DispatchTarget, ProviderClient, ProviderError, ProviderErrorKind},
};

/// `service`, the client of `provider`, behind its circuit breaker (publishing to the
/// provider's status on `board`) and with its local rate limit: what dispatch tries.
pub fn target(
    provider: &ProviderConfig,
    service: ProviderClient,
    board: &ProviderBoard,
) -> (ProviderName, DispatchTarget) {
    let name = ProviderName::new(provider.name.as_str());
    let params = breaker_params(&provider.circuit_breaker, provider.max_cooldown);
    let breaker = match board.get(&name) {
        Some(status) => Breaker::with_status(params, status.clone()),
        None => Breaker::new(name.clone(), params),
    };
    // Each attempt is a child span of the request's, inside the breaker: a skipped provider
    // is no attempt.
    let traced = crate::telemetry::AttemptSpans::new(service, name.clone());
    // A stream's outcome is decided when it ends (completed, cut, or abandoned by the client).
    let gated = CircuitBreakerLayer::new(breaker, classify as fn(&ProviderError) -> Outcome)
        .settle_with(AtStreamEnd)
        .layer(traced);
    let target = DispatchTarget {
        service: Either::Left(gated),
        limiter: rate_limiter(provider.rate_limit.as_ref()),
    };
    (name, target)
}

/// The breaker parameters of `config`, with cool-downs clamped to `max_cooldown`.
pub fn breaker_params(config: &CircuitBreakerConfig, max_cooldown: Duration) -> BreakerParams {
    BreakerParams {
        window: config.window,
        min_requests: config.min_requests,
        error_rate: config.error_rate,
        p95_latency: config.p95_latency,
        recovery: config.recovery,
        max_recovery: config.max_recovery,
        max_cooldown,
    }
}

/// The local rate limiter of `config`, if the provider has one.
pub fn rate_limiter(config: Option<&RateLimitConfig>) -> Option<RateLimiter> {
    let config = config?;
    let limits = RateLimits {
        rpm: config.rpm.and_then(NonZeroU32::new),
        tpm: config
            .tpm
            .and_then(|tpm| NonZeroU32::new(u32::try_from(tpm).unwrap_or(u32::MAX))),
    };
    (limits != RateLimits::default()).then(|| RateLimiter::new(limits))
}

/// What a failed provider call tells the breaker: connect errors, timeouts, 5xx, 429 and
/// malformed answers count against the provider; a request its API cannot express does not.
/// (A provider's 4xx about the caller's request is a response, so a success.)
pub fn classify(error: &ProviderError) -> Outcome {
    let failure = match error.kind() {
        ProviderErrorKind::Connect => Failure::Connect,
        ProviderErrorKind::Timeout => Failure::Timeout,
        ProviderErrorKind::Status {
            status,
            retry_after,
            quota,
        } if *status == http::StatusCode::TOO_MANY_REQUESTS => Failure::RateLimited {
            retry_after: *retry_after,
            quota: *quota,
        },
        ProviderErrorKind::Status { .. } => Failure::ServerError,
        ProviderErrorKind::BadResponse => Failure::BadResponse,
        ProviderErrorKind::Unsupported => return Outcome::Neutral,
    };
    Outcome::Failure(failure)
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    fn status(status: StatusCode, retry_after: Option<Duration>, quota: bool) -> ProviderError {
        ProviderError::new(
            ProviderErrorKind::Status {
                status,
                retry_after,
                quota,
            },
            "x",
        )
    }

    #[test]
    fn provider_faults_are_failures_and_unsupported_requests_are_neutral() {
        let error = |kind| ProviderError::new(kind, "x");
        assert_eq!(
            classify(&error(ProviderErrorKind::Connect)),
            Outcome::Failure(Failure::Connect)
        );
        assert_eq!(
            classify(&error(ProviderErrorKind::Timeout)),
            Outcome::Failure(Failure::Timeout)
        );
        assert_eq!(
            classify(&status(StatusCode::BAD_GATEWAY, None, false)),
            Outcome::Failure(Failure::ServerError)
        );
        let wait = Some(Duration::from_secs(3));
        assert_eq!(
            classify(&status(StatusCode::TOO_MANY_REQUESTS, wait, true)),
            Outcome::Failure(Failure::RateLimited {
                retry_after: wait,
                quota: true
            })
        );
        assert_eq!(
            classify(&error(ProviderErrorKind::Unsupported)),
            Outcome::Neutral
        );
    }

    #[test]
    fn rate_limits_are_built_only_when_configured() {
        assert!(rate_limiter(None).is_none());
        let limiter = rate_limiter(Some(&RateLimitConfig {
            rpm: Some(1),
            tpm: None,
        }))
        .expect("limited");
        assert!(limiter.try_admit(0).is_ok());
        assert!(limiter.try_admit(0).is_err());
    }
}
