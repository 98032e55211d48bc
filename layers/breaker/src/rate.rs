//! A provider's local rate limit: requests and tokens per minute (GCRA, via `governor`).

use std::{fmt, num::NonZeroU32};

use governor::{DefaultDirectRateLimiter, Quota};

/// Requests and tokens per minute; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per minute.
    pub rpm: Option<NonZeroU32>,
    /// Tokens per minute.
    pub tpm: Option<NonZeroU32>,
}

/// Enforces [`RateLimits`] locally, so that a burst spills to the next provider instead of
/// collecting 429s. Each limit allows its whole minute's worth at once, then refills evenly.
pub struct RateLimiter {
    requests: Option<DefaultDirectRateLimiter>,
    tokens: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

/// A provider at its local rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimited {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requests => "at its rpm limit",
            Self::Tokens => "at its tpm limit",
        })
    }
}

impl std::error::Error for RateLimited {}

impl RateLimiter {
    /// A limiter for `limits`.
    pub fn new(limits: RateLimits) -> Self {
        Self {
            requests: limits
                .rpm
                .map(|rpm| DefaultDirectRateLimiter::direct(Quota::per_minute(rpm))),
            tokens: limits.tpm.map(|tpm| {
                (
                    DefaultDirectRateLimiter::direct(Quota::per_minute(tpm)),
                    tpm,
                )
            }),
        }
    }

    /// Admits one request expected to use `tokens` tokens, or says which limit it is at.
    ///
    /// A request is admitted only when both limits have room; the token limit is charged
    /// first, so a request turned away for tokens costs no request slot. A request larger
    /// than the whole per-minute token budget is charged the whole budget: it waits for a
    /// full bucket rather than never being served.
    pub fn try_admit(&self, tokens: u64) -> Result<(), RateLimited> {
        if let Some((limiter, tpm)) = &self.tokens {
            let cost = u32::try_from(tokens).unwrap_or(u32::MAX).min(tpm.get());
            if let Some(cost) = NonZeroU32::new(cost) {
                match limiter.check_n(cost) {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => return Err(RateLimited::Tokens),
                }
            }
        }
        if let Some(limiter) = &self.requests {
            limiter.check().map_err(|_| RateLimited::Requests)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rpm", &self.requests.is_some())
            .field("tpm", &self.tokens.as_ref().map(|(_, tpm)| tpm))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_up_to_the_per_minute_limit() {
        let limiter = RateLimiter::new(RateLimits {
            rpm: NonZeroU32::new(3),
            tpm: None,
        });
        for _ in 0..3 {
            assert_eq!(limiter.try_admit(0), Ok(()));
        }
        assert_eq!(limiter.try_admit(0), Err(RateLimited::Requests));
    }

    #[test]
    fn tokens_are_charged_by_the_estimate_and_huge_requests_are_capped() {
        let limiter = RateLimiter::new(RateLimits {
            rpm: NonZeroU32::new(100),
            tpm: NonZeroU32::new(1000),
        });
        assert_eq!(limiter.try_admit(600), Ok(()));
        assert_eq!(limiter.try_admit(600), Err(RateLimited::Tokens));
        assert_eq!(limiter.try_admit(400), Ok(()));
        assert_eq!(
            limiter.try_admit(0),
            Ok(()),
            "a zero estimate is not charged"
        );
        let fresh = RateLimiter::new(RateLimits {
            rpm: None,
            tpm: NonZeroU32::new(1000),
        });
        assert_eq!(fresh.try_admit(1_000_000), Ok(()));
        assert_eq!(fresh.try_admit(1), Err(RateLimited::Tokens));
    }
}
