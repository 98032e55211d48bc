//! Work that could not reach Redis, kept in this replica until Redis is back.
//!
//! Settlements and releases that fail are queued here in order and replayed by one task at a
//! time. A settlement replays with its request id, and the settle script's marker makes a
//! replay of one that had in fact landed (its reply was lost) count nothing; a reservation
//! whose reply was lost is cancelled through its hold marker, once, if it landed. The backlog
//! also tracks reservations admitted locally under `fail_open` ("unbacked": Redis never saw
//! them), so that releasing them does not release another request's Redis reservation.
//!
//! The queue lives in memory: a replica that dies while Redis is down loses its queued
//! settlements (see docs/operations.md).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, MutexGuard, PoisonError},
};

use infermux_core::{Caller, LedgerEntry, Money, Month};

use crate::commands::Reservation;

/// One operation waiting for Redis.
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    /// Record an entry and release part of its reservation.
    Settle {
        /// The entry.
        entry: LedgerEntry,
        /// The part of its reservation that Redis holds.
        release: Money,
    },
    /// Cancel a reservation whose reply was lost, if it landed.
    Cancel(Reservation),
    /// Release part of a reservation.
    Release {
        /// Whose.
        caller: Caller,
        /// Of which month.
        month: Month,
        /// How much.
        amount: Money,
    },
}

/// The replica-local state of a Redis spend store.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Operations to replay, oldest first.
    queue: VecDeque<Pending>,
    /// Cost of queued settlements per caller and month.
    queued_cost: HashMap<(Caller, Month), Money>,
    /// Reservations admitted without Redis (`fail_open`).
    unbacked: HashMap<(Caller, Month), Money>,
    /// The settled spend Redis last reported, per caller and month.
    last_spent: HashMap<(Caller, Month), Money>,
}

impl Backlog {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic: every update is a single map operation.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an operation; returns the queue's new length.
    pub(crate) fn push(&self, pending: Pending) -> usize {
        let mut state = self.state();
        if let Pending::Settle { entry, .. } = &pending {
            let cost = state
                .queued_cost
                .entry((entry.caller.clone(), entry.month()))
                .or_default();
            *cost = cost.saturating_add(entry.cost);
        }
        state.queue.push_back(pending);
        state.queue.len()
    }

    /// The oldest queued operation, left in the queue until [`Self::done`].
    pub(crate) fn front(&self) -> Option<Pending> {
        self.state().queue.front().cloned()
    }

    /// Removes the oldest queued operation once Redis has it; returns the queue's new length.
    pub(crate) fn done(&self) -> usize {
        let mut state = self.state();
        if let Some(Pending::Settle { entry, .. }) = state.queue.pop_front() {
            let key = (entry.caller.clone(), entry.month());
            if let Some(cost) = state.queued_cost.get_mut(&key) {
                *cost = cost.saturating_sub(entry.cost);
                if *cost == Money::ZERO {
                    state.queued_cost.remove(&key);
                }
            }
        }
        state.queue.len()
    }

    /// Operations waiting for Redis.
    pub(crate) fn len(&self) -> usize {
        self.state().queue.len()
    }

    /// Notes a reservation admitted without Redis.
    pub(crate) fn add_unbacked(&self, caller: &Caller, month: Month, amount: Money) {
        let mut state = self.state();
        let held = state.unbacked.entry((caller.clone(), month)).or_default();
        *held = held.saturating_add(amount);
    }

    /// Takes up to `amount` from the caller's unbacked reservations; returns the rest, which
    /// is the part that Redis holds and must release.
    ///
    /// Which request's reservation an amount came from is not tracked, only the sums, so a
    /// Redis-backed release may briefly be taken from the unbacked pool; once every request
    /// has settled or released, Redis has released exactly what it reserved.
    pub(crate) fn take_unbacked(&self, caller: &Caller, month: Month, amount: Money) -> Money {
        let mut state = self.state();
        let key = (caller.clone(), month);
        let Some(held) = state.unbacked.get_mut(&key) else {
            return amount;
        };
        let taken = amount.min(*held);
        *held = held.saturating_sub(taken);
        if *held == Money::ZERO {
            state.unbacked.remove(&key);
        }
        amount.saturating_sub(taken)
    }

    /// Remembers the settled spend Redis reported.
    pub(crate) fn saw_spent(&self, caller: &Caller, month: Month, spent: Money) {
        self.state()
            .last_spent
            .insert((caller.clone(), month), spent);
    }

    /// The best local estimate of the caller's settled spend while Redis is away: what Redis
    /// last reported plus the settlements queued since.
    pub(crate) fn estimate_spent(&self, caller: &Caller, month: Month) -> Money {
        let state = self.state();
        let key = (caller.clone(), month);
        let seen = state.last_spent.get(&key).copied().unwrap_or_default();
        seen.saturating_add(state.queued_cost.get(&key).copied().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbacked_reservations_balance_once_everything_is_released() {
        let backlog = Backlog::default();
        let caller = Caller::new("a");
        let month = Month::parse("2026-03").expect("valid");
        backlog.add_unbacked(&caller, month, Money::from_picos(5));
        // A Redis-backed request of 3 releases first and takes from the unbacked pool...
        assert_eq!(
            backlog.take_unbacked(&caller, month, Money::from_picos(3)),
            Money::ZERO
        );
        // ...so the unbacked one of 5 hands 3 to Redis: Redis releases the 3 it reserved.
        assert_eq!(
            backlog.take_unbacked(&caller, month, Money::from_picos(5)),
            Money::from_picos(3)
        );
        assert_eq!(
            backlog.take_unbacked(&caller, month, Money::from_picos(7)),
            Money::from_picos(7)
        );
    }

    #[test]
    fn the_estimate_adds_queued_settlements_to_the_last_seen_spend() {
        let backlog = Backlog::default();
        let caller = Caller::new("a");
        let month = Month::parse("2026-03").expect("valid");
        backlog.saw_spent(&caller, month, Money::from_picos(10));
        let entry = LedgerEntry {
            request_id: "r1".into(),
            at: humantime::parse_rfc3339("2026-03-02T00:00:00Z").expect("valid"),
            caller: caller.clone(),
            group: None,
            provider: "p".into(),
            model: "m".into(),
            usage: Default::default(),
            cost: Money::from_picos(4),
            priced: true,
            estimated: false,
            waste: None,
        };
        assert_eq!(
            backlog.push(Pending::Settle {
                entry,
                release: Money::ZERO
            }),
            1
        );
        assert_eq!(
            backlog.estimate_spent(&caller, month),
            Money::from_picos(14)
        );
        assert_eq!(backlog.done(), 0);
        assert_eq!(
            backlog.estimate_spent(&caller, month),
            Money::from_picos(10)
        );
    }
}
