//! What is known about each provider right now: circuit, health, latency, traffic.
//!
//! The [`ProviderBoard`] is written by the resilience side (dispatch, circuit breakers,
//! health checks) and read by routing (strategies) and the management API. Every field is an
//! atomic, so reading it on the hot path takes no lock.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

// Looked up for every candidate of every request: foldhash, not SipHash (see `pricing`).
use hashbrown::HashMap;

use crate::ProviderName;

/// The state of a provider's circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Requests flow.
    Closed,
    /// The provider is out of rotation until its recovery time has passed.
    Open,
    /// One probe request is allowed through to test recovery.
    HalfOpen,
}

impl CircuitState {
    /// The name used in reports: `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Open,
            2 => Self::HalfOpen,
            _ => Self::Closed,
        }
    }
}

/// Weight of the newest sample in the latency moving average.
const EWMA_ALPHA: f64 = 0.3;
/// Bits of an "unset" latency average.
const NO_LATENCY: u64 = u64::MAX;

/// One provider's live status.
#[derive(Debug)]
pub struct ProviderStatus {
    name: ProviderName,
    kind: &'static str,
    circuit: AtomicU8,
    healthy: AtomicBool,
    latency_ewma_micros: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    error_rate_bits: AtomicU64,
    /// Milliseconds since the Unix epoch until which a 429 cool-down keeps the provider out;
    /// 0 when none was ever set.
    cooldown_until_ms: AtomicU64,
}

impl ProviderStatus {
    /// A healthy provider with a closed circuit and no traffic yet; `kind` is its type name
    /// (`openai`, `anthropic`, ...), shown in reports.
    pub fn new(name: ProviderName, kind: &'static str) -> Self {
        Self {
            name,
            kind,
            circuit: AtomicU8::new(CircuitState::Closed.to_u8()),
            healthy: AtomicBool::new(true),
            latency_ewma_micros: AtomicU64::new(NO_LATENCY),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            error_rate_bits: AtomicU64::new(0.0_f64.to_bits()),
            cooldown_until_ms: AtomicU64::new(0),
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &ProviderName {
        &self.name
    }

    /// The provider's type name.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The circuit breaker's state.
    pub fn circuit(&self) -> CircuitState {
        CircuitState::from_u8(self.circuit.load(Ordering::Relaxed))
    }

    /// Publishes the circuit breaker's state.
    pub fn set_circuit(&self, state: CircuitState) {
        self.circuit.store(state.to_u8(), Ordering::Relaxed);
    }

    /// Whether the last health check passed (true until one fails).
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Publishes a health check result.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// Whether routing should consider the provider: healthy and its circuit not open.
    pub fn is_routable(&self) -> bool {
        self.healthy() && self.circuit() != CircuitState::Open
    }

    /// Records one response latency (time to first byte for streams) into the moving average.
    pub fn record_latency(&self, latency: Duration) {
        let sample = latency.as_secs_f64() * 1e6;
        let _ =
            self.latency_ewma_micros
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                    let next = if bits == NO_LATENCY {
                        sample
                    } else {
                        let previous = f64::from_bits(bits);
                        previous + EWMA_ALPHA * (sample - previous)
                    };
                    Some(next.to_bits())
                });
    }

    /// The moving average of recent latency, or `None` before the first response.
    pub fn latency_ewma(&self) -> Option<Duration> {
        let bits = self.latency_ewma_micros.load(Ordering::Relaxed);
        (bits != NO_LATENCY).then(|| Duration::from_secs_f64(f64::from_bits(bits) / 1e6))
    }

    /// Counts one request and whether it failed.
    pub fn record_outcome(&self, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests sent to this provider since start-up.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Failed requests since start-up.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The error rate over the circuit breaker's window, as of the provider's last outcome.
    pub fn error_rate(&self) -> f64 {
        f64::from_bits(self.error_rate_bits.load(Ordering::Relaxed))
    }

    /// Publishes until when a 429's `Retry-After` (or a quota error) keeps the provider out.
    pub fn set_cooldown_until(&self, until: Option<SystemTime>) {
        let ms = until
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
            });
        self.cooldown_until_ms.store(ms, Ordering::Relaxed);
    }

    /// Until when a cool-down keeps the provider out, if one still does now.
    pub fn cooldown_until(&self) -> Option<SystemTime> {
        let ms = self.cooldown_until_ms.load(Ordering::Relaxed);
        let until = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
        (ms != 0 && until > SystemTime::now()).then_some(until)
    }

    /// Publishes the error rate over the circuit breaker's window.
    pub fn set_error_rate(&self, rate: f64) {
        self.error_rate_bits
            .store(rate.to_bits(), Ordering::Relaxed);
    }
}

/// Every provider's status, in declared order.
#[derive(Clone, Debug, Default)]
pub struct ProviderBoard {
    providers: Arc<[Arc<ProviderStatus>]>,
    index: Arc<HashMap<ProviderName, usize>>,
}

impl ProviderBoard {
    /// A board of `providers`, in declared order.
    pub fn new(providers: impl IntoIterator<Item = ProviderStatus>) -> Self {
        let providers: Arc<[Arc<ProviderStatus>]> = providers.into_iter().map(Arc::new).collect();
        let index = providers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        Self {
            providers,
            index: Arc::new(index),
        }
    }

    /// The status of `provider`, if it is on the board.
    pub fn get(&self, provider: &ProviderName) -> Option<&Arc<ProviderStatus>> {
        self.index.get(provider).map(|&i| &self.providers[i])
    }

    /// Every provider's status, in declared order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ProviderStatus>> {
        self.providers.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_average_starts_at_the_first_sample_and_moves_toward_new_ones() {
        let status = ProviderStatus::new("openai".into(), "openai");
        assert_eq!(status.latency_ewma(), None);
        status.record_latency(Duration::from_millis(100));
        assert_eq!(status.latency_ewma(), Some(Duration::from_millis(100)));
        status.record_latency(Duration::from_millis(200));
        let ewma = status.latency_ewma().expect("set").as_secs_f64();
        assert!((ewma - 0.130).abs() < 1e-9, "{ewma}");
    }

    #[test]
    fn open_circuits_and_failed_health_checks_take_a_provider_out_of_routing() {
        let status = ProviderStatus::new("openai".into(), "openai");
        assert!(status.is_routable());
        status.set_circuit(CircuitState::Open);
        assert!(!status.is_routable());
        status.set_circuit(CircuitState::HalfOpen);
        assert!(status.is_routable());
        status.set_healthy(false);
        assert!(!status.is_routable());
    }

    #[test]
    fn board_finds_providers_by_name_in_declared_order() {
        let board = ProviderBoard::new([
            ProviderStatus::new("b".into(), "openai"),
            ProviderStatus::new("a".into(), "ollama"),
        ]);
        let names: Vec<&str> = board.iter().map(|p| p.name().as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(board.get(&"a".into()).map(|p| p.kind()), Some("ollama"));
        assert!(board.get(&"c".into()).is_none());
    }
}
