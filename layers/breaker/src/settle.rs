//! When a successful call's outcome is decided: at once, or when its answer has been read.
//!
//! A complete answer (a JSON body) is a success as soon as it arrives. A streamed answer is
//! only known to be good once it has ended: the provider may cut it, send an error event or
//! stall half-way. [`Settle`] lets the response carry the breaker's [`Pending`] report into its
//! body, which gives the outcome when the stream ends (see [`AtStreamEnd`](crate::AtStreamEnd)).

use std::time::Duration;

use crate::{Outcome, Permit};

/// A call's outcome still to be reported to its breaker: the permit it was sent with and its
/// latency (to the first byte, when the response future resolved).
///
/// Dropped without [`record`](Self::record), the call is abandoned: it counts neither way, and
/// a half-open probe slot is freed for the next caller.
#[derive(Debug)]
pub struct Pending {
    permit: Permit,
    latency: Duration,
}

impl Pending {
    pub(crate) fn new(permit: Permit, latency: Duration) -> Self {
        Self { permit, latency }
    }

    /// The latency the outcome is recorded with: the time to the first byte.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.permit.is_probe()
    }

    /// Reports how the call ended.
    pub fn record(self, outcome: Outcome) {
        self.permit.record(outcome, self.latency);
    }
}

/// Decides when a successful response's outcome is reported: `settle` records it through
/// `pending` at once, or hands `pending` to the response to record later.
pub trait Settle<T> {
    /// Returns `response`, its outcome recorded or carried.
    fn settle(&self, response: T, pending: Pending) -> T;
}

/// Every response is a success when it arrives: for services whose answers are complete
/// then (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct AtOnce;

impl<T> Settle<T> for AtOnce {
    fn settle(&self, response: T, pending: Pending) -> T {
        pending.record(Outcome::Success);
        response
    }
}
