//! [`KeyMetrics`]: the key accounts' store, recording each key's spend as a metric.
//!
//! `infermux_key_request_cost_usd{key}`: the cost of each request made with a key (its
//! `_sum` is the key's spend, its `_count` its requests), labelled by the key's name. The
//! label set is bounded: keys beyond the first [`MAX_KEY_SERIES`] are counted as `other`.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
};

use infermux_core::{
    Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SpendStore, SpendSummary,
    StoreFuture,
};
use metrics::Histogram;

use crate::KeyRing;

/// Keys with their own series; the rest share `other`.
pub const MAX_KEY_SERIES: usize = 100;

/// Wraps the key accounts' store, recording the spend of each settled key request.
pub struct KeyMetrics {
    inner: Arc<dyn SpendStore>,
    ring: Arc<KeyRing>,
    series: RwLock<HashMap<Caller, Histogram>>,
}

impl std::fmt::Debug for KeyMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMetrics").finish_non_exhaustive()
    }
}

impl KeyMetrics {
    /// Records the spend settled in `inner`, naming keys from `ring`.
    pub fn new(inner: Arc<dyn SpendStore>, ring: Arc<KeyRing>) -> Self {
        Self {
            inner,
            ring,
            series: RwLock::default(),
        }
    }

    fn record(&self, entry: &LedgerEntry) {
        // Day accounts (`id@day`) repeat the month account's spend.
        if entry.caller.as_str().contains('@') {
            return;
        }
        let usd = entry.cost.picos() as f64 / 1_000_000_000_000.0;
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&entry.caller)
        {
            series.record(usd);
            return;
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let label = match self.ring.get(entry.caller.as_str()) {
            Some(key) if series.len() < MAX_KEY_SERIES => key.record.name.clone(),
            _ => "other".to_owned(),
        };
        let histogram = metrics::histogram!("infermux_key_request_cost_usd", "key" => label);
        histogram.record(usd);
        series.insert(entry.caller.clone(), histogram);
    }
}

impl SpendStore for KeyMetrics {
    fn reserve(
        &self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreFuture<Admission> {
        self.inner.reserve(caller, month, amount, cap)
    }

    fn settle(&self, entry: LedgerEntry, reserved: Money) -> StoreFuture<()> {
        self.record(&entry);
        self.inner.settle(entry, reserved)
    }

    fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()> {
        self.inner.release(caller, month, reserved)
    }

    fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money> {
        self.inner.spent(caller, month)
    }

    fn summary(&self, month: Month) -> StoreFuture<SpendSummary> {
        self.inner.summary(month)
    }

    fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>> {
        self.inner.hourly(first, hours)
    }

    fn flush(&self) -> StoreFuture<()> {
        self.inner.flush()
    }

    fn groups_writes(&self) -> bool {
        self.inner.groups_writes()
    }
}
