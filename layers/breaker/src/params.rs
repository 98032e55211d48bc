//! The plain parameters of one provider's circuit breaker.

use std::time::Duration;

/// When a circuit opens, and when it is tried again.
///
/// The defaults are those of the config file: a 30 s window, at least 10 requests, an error
/// rate of 0.5, a p95 latency of 10 s and a recovery of 30 s.
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
}

impl Default for BreakerParams {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_requests: 10,
            error_rate: 0.5,
            p95_latency: Duration::from_secs(10),
            recovery: Duration::from_secs(30),
        }
    }
}
