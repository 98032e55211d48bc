//! A spend store that lives and dies with the process.

use std::sync::{Arc, Mutex, PoisonError};

use infermux_core::{
    Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SpendStore, SpendSummary,
    StoreFuture,
};

use super::state::SpendState;

/// Budgets and the cost ledger in memory only: exact and atomic like the others, but
/// forgotten on restart. infermux uses it when `budgets.state_file` is not configured.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<SpendState>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut SpendState) -> T) -> T {
        // A panic while holding the lock cannot leave the sums half-updated in a way that
        // matters more than refusing service would, so a poisoned lock is used as is.
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Records `entry` and releases `reserved` of its caller's reservations.
fn settle(state: &mut SpendState, entry: &LedgerEntry, reserved: Money) {
    state.release(&entry.caller, entry.month(), reserved);
    state.apply(entry);
}

fn done<T: Send + 'static>(value: T) -> StoreFuture<T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl SpendStore for MemoryStore {
    fn reserve(
        &self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreFuture<Admission> {
        done(self.with(|s| s.reserve(caller, month, amount, cap)))
    }

    fn settle(&self, entry: LedgerEntry, reserved: Money) -> StoreFuture<()> {
        self.with(|s| settle(s, &entry, reserved));
        done(())
    }

    fn settle_and_spent(
        self: Arc<Self>,
        entry: LedgerEntry,
        reserved: Money,
    ) -> StoreFuture<Money> {
        done(self.with(|s| {
            settle(s, &entry, reserved);
            s.spent(&entry.caller, entry.month())
        }))
    }

    fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()> {
        self.with(|s| s.release(caller, month, reserved));
        done(())
    }

    fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money> {
        done(self.with(|s| s.spent(caller, month)))
    }

    fn summary(&self, month: Month) -> StoreFuture<SpendSummary> {
        done(self.with(|s| s.summary(month)))
    }

    fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>> {
        done(self.with(|s| s.hourly(first, hours)))
    }
}
