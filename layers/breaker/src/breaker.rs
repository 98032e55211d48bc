//! The shared handle of one provider's circuit: the state machine behind a lock, publishing
//! every transition to the provider board, the metrics and the log.

use std::{
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use infermux_core::{CircuitState, ProviderName, ProviderStatus};
use tokio::{sync::Notify, time::Instant};

use crate::{
    BreakerParams, Outcome, WindowStats,
    machine::{Machine, Rejection, Ticket, Transition},
};

/// One provider's circuit breaker, shared by every clone of its
/// [`CircuitBreaker`](crate::CircuitBreaker) service.
///
/// When the circuit opens, a timer task turns it half-open after `recovery` even if no request
/// asks, so that routing, which skips open circuits, sees it come back.
#[derive(Clone, Debug)]
pub struct Breaker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    name: ProviderName,
    machine: Mutex<Machine>,
    status: Option<Arc<ProviderStatus>>,
    state_gauge: metrics::Gauge,
    /// Bumped, and `changed` notified, whenever admission may have become possible: a state
    /// change or a freed probe slot. Callers waiting for the circuit are woken by it instead of
    /// sleeping until the recovery time.
    epoch: AtomicU64,
    changed: Notify,
}

impl Breaker {
    /// A closed breaker for provider `name`.
    pub fn new(name: ProviderName, params: BreakerParams) -> Self {
        Self::build(name, params, None)
    }

    /// A closed breaker that publishes its state and window error rate to `status`.
    pub fn with_status(params: BreakerParams, status: Arc<ProviderStatus>) -> Self {
        Self::build(status.name().clone(), params, Some(status))
    }

    fn build(
        name: ProviderName,
        params: BreakerParams,
        status: Option<Arc<ProviderStatus>>,
    ) -> Self {
        let state_gauge = metrics::gauge!("infermux_circuit_state", "provider" => name.to_string());
        state_gauge.set(0.0);
        if let Some(status) = &status {
            status.set_circuit(CircuitState::Closed);
            status.set_error_rate(0.0);
        }
        Self {
            shared: Arc::new(Shared {
                name,
                machine: Mutex::new(Machine::new(params, Instant::now())),
                status,
                state_gauge,
                epoch: AtomicU64::new(0),
                changed: Notify::new(),
            }),
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &ProviderName {
        &self.shared.name
    }

    /// The circuit's state now.
    pub fn state(&self) -> CircuitState {
        self.tick();
        self.shared.lock().state()
    }

    /// The window's counts now.
    pub fn stats(&self) -> WindowStats {
        self.shared.lock().stats(Instant::now())
    }

    /// Asks to send one request now. The [`Permit`] must be given its outcome with
    /// [`Permit::record`]; dropped without one, it is abandoned (a probe slot is freed).
    pub fn admit(&self) -> Result<Permit, Rejection> {
        let (admission, transition) = self.shared.lock().admit(Instant::now());
        self.publish(transition);
        admission.map(|ticket| Permit {
            breaker: self.clone(),
            ticket: Some(ticket),
        })
    }

    /// When a caller rejected with `rejection` should ask again at the latest (it is woken
    /// earlier by [`changed_since`](Self::changed_since) when the state changes).
    pub(crate) fn retry_at(&self, rejection: Rejection) -> Instant {
        match rejection {
            Rejection::Open { until } | Rejection::Cooldown { until } => until,
            Rejection::ProbeInFlight => Instant::now() + self.shared.lock().params().recovery,
        }
    }

    /// A counter that moves whenever admission may have become possible; read it before
    /// [`admit`](Self::admit) and wait on [`changed_since`](Self::changed_since).
    pub(crate) fn epoch(&self) -> u64 {
        self.shared.epoch.load(Ordering::Acquire)
    }

    /// Resolves once the epoch has moved past `seen`. No change is missed: the waiter is
    /// registered before the epoch is compared.
    pub(crate) fn changed_since(
        &self,
        seen: u64,
    ) -> impl Future<Output = ()> + Send + Sync + 'static {
        let shared = self.shared.clone();
        async move {
            loop {
                let notified = shared.changed.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                if shared.epoch.load(Ordering::Acquire) != seen {
                    return;
                }
                notified.await;
            }
        }
    }

    fn wake_waiters(&self) {
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        self.shared.changed.notify_waiters();
    }

    fn tick(&self) {
        let transition = self.shared.lock().tick(Instant::now());
        self.publish(transition);
    }

    fn record(&self, ticket: Ticket, outcome: Outcome, latency: Duration) {
        let now = Instant::now();
        let (transition, stats, cooldown) = {
            let mut machine = self.shared.lock();
            let transition = machine.record(now, ticket, outcome, latency);
            (transition, machine.stats(now), machine.cooldown_until(now))
        };
        if let Some(status) = &self.shared.status {
            status.set_error_rate(stats.error_rate());
            if let Some(until) = cooldown {
                status.set_cooldown_until(Some(SystemTime::now() + (until - now)));
            }
        }
        self.publish(transition);
    }

    /// Until when a 429 cool-down keeps the provider out, if one does now.
    pub fn cooldown_until(&self) -> Option<Instant> {
        self.shared.lock().cooldown_until(Instant::now())
    }

    fn abandon(&self, ticket: Ticket) {
        let freed = self.shared.lock().abandon(ticket);
        if freed {
            self.wake_waiters();
        }
    }

    fn publish(&self, transition: Option<Transition>) {
        let Some(Transition { from, to }) = transition else {
            return;
        };
        self.wake_waiters();
        let shared = &self.shared;
        if let Some(status) = &shared.status {
            status.set_circuit(to);
        }
        shared.state_gauge.set(match to {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        });
        metrics::counter!("infermux_circuit_transitions_total",
            "provider" => shared.name.to_string(), "from" => from.as_str(), "to" => to.as_str())
        .increment(1);
        if to == CircuitState::Open {
            tracing::warn!(provider = %shared.name, from = from.as_str(), to = to.as_str(),
                "circuit opened; provider out of rotation");
            self.schedule_half_open();
        } else {
            tracing::info!(provider = %shared.name, from = from.as_str(), to = to.as_str(),
                "circuit state changed");
        }
    }

    /// Turns the circuit half-open when its recovery has elapsed, without waiting for a
    /// request. Holds the breaker weakly: a dropped stack ends the timer.
    fn schedule_half_open(&self) {
        let Some(until) = self.shared.lock().open_until() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        runtime.spawn(async move {
            tokio::time::sleep_until(until).await;
            if let Some(shared) = weak.upgrade() {
                Breaker { shared }.tick();
            }
        });
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Machine> {
        // The machine is left consistent at every step, so a panic elsewhere does not
        // invalidate it.
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Leave to send one request through a [`Breaker`].
#[derive(Debug)]
pub struct Permit {
    breaker: Breaker,
    ticket: Option<Ticket>,
}

impl Permit {
    /// Whether this request is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.is_some_and(Ticket::is_probe)
    }

    /// Reports how the request ended, `latency` after it was sent.
    pub fn record(mut self, outcome: Outcome, latency: Duration) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.record(ticket, outcome, latency);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.breaker.abandon(ticket);
        }
    }
}
