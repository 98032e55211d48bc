//! The circuit state machine: plain code, no I/O, no clock of its own.
//!
//! ```text
//!            error rate or p95 reached            recovery elapsed
//!  Closed ─────────────────────────────▶ Open ─────────────────────▶ HalfOpen
//!    ▲        (min_requests in window)    ▲                            │  │
//!    │                                    └──── probe failed ──────────┘  │
//!    └────────────────────────── probe succeeded ─────────────────────────┘
//! ```
//!
//! Each failed probe in a row doubles the next open period (`recovery`, `2 × recovery`, ...,
//! at most `max_recovery`), so a provider that stays down is probed less and less often; a
//! successful probe resets it. Cool-downs asked for by a 429 are clamped to `max_cooldown`.
//!
//! Every caller passes `now`, so tests drive it with a paused tokio clock. A ticket records
//! the generation it was issued in; every transition starts a new generation, so the late
//! outcome of a request admitted before the circuit changed cannot move it again.

use std::time::Duration;

use infermux_core::CircuitState;
use tokio::time::Instant;

use crate::{BreakerParams, Failure, Outcome, WindowStats, window::Window};

/// Where the circuit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Leave to send one request, issued by [`Machine::admit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    generation: u64,
    probe: bool,
}

impl Ticket {
    /// Whether this request is the half-open probe.
    pub(crate) fn is_probe(self) -> bool {
        self.probe
    }
}

/// Why a request may not be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The circuit is open until `until`.
    Open {
        /// When the circuit turns half-open.
        until: Instant,
    },
    /// The circuit is half-open and its one probe is in flight.
    ProbeInFlight,
    /// A 429 asked for a pause (`Retry-After`, or the recovery after a quota error).
    Cooldown {
        /// When the pause ends.
        until: Instant,
    },
}

/// A change of circuit state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: CircuitState,
    pub(crate) to: CircuitState,
}

/// One provider's circuit.
#[derive(Debug)]
pub(crate) struct Machine {
    params: BreakerParams,
    state: State,
    window: Window,
    generation: u64,
    cooldown_until: Option<Instant>,
    /// Failed probes since the circuit last closed: the exponent of the next open period.
    failed_probes: u32,
}

impl Machine {
    pub(crate) fn new(params: BreakerParams, now: Instant) -> Self {
        Self {
            params,
            state: State::Closed,
            window: Window::new(params.window, now),
            generation: 0,
            cooldown_until: None,
            failed_probes: 0,
        }
    }

    pub(crate) fn params(&self) -> &BreakerParams {
        &self.params
    }

    /// The state as of `now`, without changing it.
    pub(crate) fn state(&self) -> CircuitState {
        match self.state {
            State::Closed => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// When an open circuit turns half-open.
    pub(crate) fn open_until(&self) -> Option<Instant> {
        match self.state {
            State::Open { until } => Some(until),
            _ => None,
        }
    }

    /// Until when a 429 keeps the provider out, if it does at `now`.
    pub(crate) fn cooldown_until(&self, now: Instant) -> Option<Instant> {
        self.cooldown_until.filter(|until| *until > now)
    }

    /// The window's counts as of `now`.
    pub(crate) fn stats(&mut self, now: Instant) -> WindowStats {
        self.window.stats(now)
    }

    /// Turns an open circuit half-open once its recovery has elapsed.
    pub(crate) fn tick(&mut self, now: Instant) -> Option<Transition> {
        match self.state {
            State::Open { until } if now >= until => {
                Some(self.enter(State::HalfOpen { probing: false }))
            }
            _ => None,
        }
    }

    /// Asks to send one request at `now`. In half-open, exactly one ticket (the probe) is
    /// issued until it is recorded or abandoned.
    pub(crate) fn admit(
        &mut self,
        now: Instant,
    ) -> (Result<Ticket, Rejection>, Option<Transition>) {
        let transition = self.tick(now);
        if let Some(until) = self.cooldown_until {
            if now < until {
                return (Err(Rejection::Cooldown { until }), transition);
            }
            self.cooldown_until = None;
        }
        let admission = match &mut self.state {
            State::Closed => Ok(self.ticket(false)),
            State::Open { until } => Err(Rejection::Open { until: *until }),
            State::HalfOpen { probing: true } => Err(Rejection::ProbeInFlight),
            State::HalfOpen { probing } => {
                *probing = true;
                Ok(self.ticket(true))
            }
        };
        (admission, transition)
    }

    fn ticket(&self, probe: bool) -> Ticket {
        Ticket {
            generation: self.generation,
            probe,
        }
    }

    /// Records how the request of `ticket` ended, `latency` after it was sent.
    pub(crate) fn record(
        &mut self,
        now: Instant,
        ticket: Ticket,
        outcome: Outcome,
        latency: Duration,
    ) -> Option<Transition> {
        if let Outcome::Failure(Failure::RateLimited { retry_after, quota }) = outcome {
            let pause = if quota {
                Some(self.params.recovery)
            } else {
                retry_after
            };
            if let Some(pause) = pause {
                // Clamped: neither a huge `Retry-After` nor a long recovery can keep the
                // provider out for longer than `max_cooldown`.
                let until = now + pause.min(self.params.max_cooldown);
                self.cooldown_until = Some(self.cooldown_until.map_or(until, |u| u.max(until)));
            }
        }
        if ticket.generation != self.generation {
            return None;
        }
        let slow = latency >= self.params.p95_latency;
        if ticket.probe {
            return match outcome {
                Outcome::Neutral => {
                    self.state = State::HalfOpen { probing: false };
                    None
                }
                Outcome::Success if !slow => {
                    self.window.reset();
                    self.failed_probes = 0;
                    Some(self.enter(State::Closed))
                }
                _ => {
                    self.failed_probes = self.failed_probes.saturating_add(1);
                    Some(self.open(now))
                }
            };
        }
        let failed = match outcome {
            Outcome::Neutral => return None,
            Outcome::Success => false,
            Outcome::Failure(_) => true,
        };
        self.window.record(now, failed, slow);
        let stats = self.window.stats(now);
        let trip = stats.requests >= self.params.min_requests
            && (stats.error_rate() >= self.params.error_rate || stats.p95_reached());
        trip.then(|| {
            self.failed_probes = 0;
            self.open(now)
        })
    }

    /// Gives back the ticket of a request that ended without an outcome (dropped, cancelled):
    /// an abandoned probe lets the next caller probe instead.
    pub(crate) fn abandon(&mut self, ticket: Ticket) -> bool {
        let freed = ticket.probe
            && ticket.generation == self.generation
            && self.state == (State::HalfOpen { probing: true });
        if freed {
            self.state = State::HalfOpen { probing: false };
        }
        freed
    }

    fn open(&mut self, now: Instant) -> Transition {
        self.enter(State::Open {
            until: now + self.params.recovery_after(self.failed_probes),
        })
    }

    fn enter(&mut self, state: State) -> Transition {
        let from = self.state();
        self.state = state;
        self.generation += 1;
        Transition {
            from,
            to: self.state(),
        }
    }
}
