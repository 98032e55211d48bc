//! The key layer's refusals, as small typed errors that the edge renders (401, 403, 429).
//!
//! No message ever contains a key or any piece of one: they name the key by its name.

use std::{fmt, time::Duration};

use infermux_core::Money;

/// Why a presented key was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No key was presented and keys are required.
    Missing,
    /// No key has this hash.
    Unknown,
    /// The key was revoked (or its rotation grace ended).
    Revoked,
    /// The key is past its expiry.
    Expired,
}

/// 401 `invalid_api_key`: missing (when required), unknown, revoked or expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidApiKey {
    refusal: Refusal,
}

impl InvalidApiKey {
    /// A key refused for `refusal`.
    pub const fn new(refusal: Refusal) -> Self {
        Self { refusal }
    }

    /// Why.
    pub const fn refusal(&self) -> Refusal {
        self.refusal
    }
}

impl fmt::Display for InvalidApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.refusal {
            Refusal::Missing => {
                "an API key is required: send `Authorization: Bearer <key>` or `x-api-key: <key>`"
            }
            Refusal::Unknown => "the API key is not valid",
            Refusal::Revoked => "the API key was revoked",
            Refusal::Expired => "the API key has expired",
        })
    }
}

impl std::error::Error for InvalidApiKey {}

/// 403 `model_not_allowed`: the key's `models` list does not name the requested model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelNotAllowed {
    key: String,
    model: String,
}

impl ModelNotAllowed {
    /// Key `key` (its name) may not request `model`.
    pub fn new(key: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            model: model.into(),
        }
    }
}

impl fmt::Display for ModelNotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the key {} may not use the model `{}`",
            self.key, self.model
        )
    }
}

impl std::error::Error for ModelNotAllowed {}

/// Which of a key's caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapWindow {
    /// The calendar month (UTC).
    Monthly,
    /// The day (UTC).
    Daily,
}

/// 429 `key_budget_exceeded`: the key's spend plus in-flight reservations is at its cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyBudgetExceeded {
    window: CapWindow,
    key: String,
    cap: Money,
    spent: Money,
}

impl KeyBudgetExceeded {
    /// Key `key` (its name) is at its `window` cap `cap`, having spent `spent`.
    pub fn new(window: CapWindow, key: impl Into<String>, cap: Money, spent: Money) -> Self {
        Self {
            window,
            key: key.into(),
            cap,
            spent,
        }
    }
}

impl fmt::Display for KeyBudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window = match self.window {
            CapWindow::Monthly => "monthly",
            CapWindow::Daily => "daily",
        };
        write!(
            f,
            "{window} budget of {} for key {} exceeded; current spend: {}",
            self.cap.to_dollars(),
            self.key,
            self.spent.to_dollars()
        )
    }
}

impl std::error::Error for KeyBudgetExceeded {}

/// 429 `rate_limited`: the key is over its `rpm`; `Retry-After` says when to come back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRateLimited {
    key: String,
    rpm: u32,
    retry_after: Duration,
}

impl KeyRateLimited {
    /// Key `key` (its name) is over `rpm`; the next request fits after `retry_after`.
    pub fn new(key: impl Into<String>, rpm: u32, retry_after: Duration) -> Self {
        Self {
            key: key.into(),
            rpm,
            retry_after,
        }
    }

    /// Whole seconds to wait (at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

impl fmt::Display for KeyRateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the key {} is over its limit of {} requests per minute; retry after {} s",
            self.key,
            self.rpm,
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for KeyRateLimited {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_message_is_the_contracts() {
        let error = KeyBudgetExceeded::new(
            CapWindow::Monthly,
            "acme-prod",
            Money::from_usd(50.0).expect("amount"),
            Money::from_picos(50_001_200_000_000),
        );
        assert_eq!(
            error.to_string(),
            "monthly budget of $50.00 for key acme-prod exceeded; current spend: $50.0012"
        );
    }
}
