//! The plain parameters of one provider's circuit breaker.

use std::time::Duration;

/// When a circuit opens, and when it is tried again.
///
/// The defaults are those of the config file: a 30 s window, at least 10 requests, an error
/// rate of 0.5, a p95 latency of 10 s, a recovery of 30 s that doubles after each failed
/// probe up to 5 minutes, and cool-downs of at most 5 minutes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerParams {
    /// The sliding window error rate and latency are measured over.
    pub window: Duration,
    /// Outcomes needed in the window before the circuit may open.
    pub min_requests: u32,
    /// Open when failures / outcomes in the window reach this.
    pub error_rate: f64,
    /// Open when the window's 95th percentile latency reaches this.
    pub p95_latency: Duration,
    /// How long an open circuit stays open before one probe is let through; also how long a
    /// quota 429 keeps the provider out.
    pub recovery: Duration,
    /// The longest an open circuit stays open: each failed half-open probe doubles the next
    /// recovery (`recovery`, `2 × recovery`, `4 × recovery`, ...) up to this. Never below
    /// `recovery`.
    pub max_recovery: Duration,
    /// The longest a provider's `Retry-After` (or a quota 429) keeps it out of rotation: a
    /// hostile or broken provider cannot push itself out indefinitely.
    pub max_cooldown: Duration,
}

impl BreakerParams {
    /// How long the circuit stays open after `failed_probes` consecutive failed probes:
    /// `recovery × 2^failed_probes`, at most `max_recovery` (and never below `recovery`).
    pub fn recovery_after(&self, failed_probes: u32) -> Duration {
        let cap = self.max_recovery.max(self.recovery);
        self.recovery
            .checked_mul(1u32.checked_shl(failed_probes.min(31)).unwrap_or(u32::MAX))
            .map_or(cap, |d| d.min(cap))
    }
}

impl Default for BreakerParams {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_requests: 10,
            error_rate: 0.5,
            p95_latency: Duration::from_secs(10),
            recovery: Duration::from_secs(30),
            max_recovery: Duration::from_secs(300),
            max_cooldown: Duration::from_secs(300),
        }
    }
}
