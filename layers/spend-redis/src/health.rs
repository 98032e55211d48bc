//! Whether Redis answers, and the log lines and metrics that make an outage visible.
//!
//! Every failed operation counts in `infermux_spend_store_errors_total{operation}`; the
//! gauge `infermux_spend_store_available` is 1 while Redis answers; one warning is logged
//! when Redis becomes unreachable and one info line when it is back, so an outage is never
//! silent and never floods the log.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::UnavailablePolicy;

/// Metric: operations that failed to reach Redis, by operation.
pub(crate) const ERRORS_TOTAL: &str = "infermux_spend_store_errors_total";
/// Metric: 1 while Redis answers, 0 while it does not.
pub(crate) const AVAILABLE: &str = "infermux_spend_store_available";
/// Metric: settlements, releases and cancellations queued in this replica, waiting for Redis.
pub(crate) const PENDING: &str = "infermux_spend_store_pending";
/// Metric: queued operations replayed into Redis.
pub(crate) const REPLAYED_TOTAL: &str = "infermux_spend_store_replayed_total";
/// Metric: requests admitted without Redis under `fail_open`.
pub(crate) const FAIL_OPEN_ADMISSIONS_TOTAL: &str =
    "infermux_spend_store_fail_open_admissions_total";
/// Metric: reservations refused because Redis was unreachable under `fail_closed`.
pub(crate) const FAIL_CLOSED_REFUSALS_TOTAL: &str =
    "infermux_spend_store_fail_closed_refusals_total";

/// The store's view of Redis.
#[derive(Debug)]
pub(crate) struct Health {
    available: AtomicBool,
    policy: UnavailablePolicy,
}

impl Health {
    /// Starts out assuming Redis answers.
    pub(crate) fn new(policy: UnavailablePolicy) -> Self {
        metrics::gauge!(AVAILABLE).set(1.0);
        Self {
            available: AtomicBool::new(true),
            policy,
        }
    }

    /// Records a failed operation; logs once when Redis becomes unreachable.
    pub(crate) fn failed(&self, operation: &'static str, error: &redis::RedisError) {
        metrics::counter!(ERRORS_TOTAL, "operation" => operation).increment(1);
        if self.available.swap(false, Ordering::Relaxed) {
            metrics::gauge!(AVAILABLE).set(0.0);
            tracing::warn!(
                operation,
                %error,
                redis_unavailable = self.policy.as_str(),
                "redis spend store unreachable: {}; settlements are queued in this replica \
                 and replayed when redis is back",
                self.policy.consequence(),
            );
        }
    }

    /// Records a successful operation; logs once when Redis is back.
    pub(crate) fn succeeded(&self, pending: usize) {
        if !self.available.swap(true, Ordering::Relaxed) {
            metrics::gauge!(AVAILABLE).set(1.0);
            tracing::info!(
                pending,
                "redis spend store reachable again; replaying queued settlements"
            );
        }
    }
}
