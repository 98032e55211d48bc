//! [`WasteLedger`]: spend that bought no answer the client received.
//!
//! A provider bills work even when it fails: an error answer that reports usage, a stream
//! cut off by the provider, a stream the client abandoned. That spend is charged to the
//! caller like any other (it is in the spend store and the cost reports), and also counted
//! here, by month, provider and reason, for `GET /_infermux/costs/waste`. The ledger is kept
//! in memory by each replica: it starts from zero at every start.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use infermux_core::{Money, Month, ProviderName};

/// Why billed work was wasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WasteReason {
    /// The provider answered with an error status and billed usage for it.
    ProviderError,
    /// The provider's stream broke before its end.
    StreamInterrupted,
    /// The client went away before the stream ended.
    ClientDisconnected,
}

impl WasteReason {
    /// The reason as the waste report names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProviderError => "provider_error",
            Self::StreamInterrupted => "stream_interrupted",
            Self::ClientDisconnected => "client_disconnected",
        }
    }
}

/// Wasted spend of one provider for one reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WasteTotals {
    /// Requests.
    pub requests: u64,
    /// What they cost.
    pub cost: Money,
}

/// Wasted spend by month, provider and reason.
#[derive(Debug, Default)]
pub struct WasteLedger {
    totals: Mutex<BTreeMap<(Month, ProviderName, WasteReason), WasteTotals>>,
}

impl WasteLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `cost` wasted at `provider` for `reason` in `month`.
    pub fn record(&self, month: Month, provider: &ProviderName, reason: WasteReason, cost: Money) {
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = totals.entry((month, provider.clone(), reason)).or_default();
        entry.requests += 1;
        entry.cost = entry.cost.saturating_add(cost);
    }

    /// The waste of `month`, by provider and reason.
    pub fn month(
        &self,
        month: Month,
    ) -> BTreeMap<ProviderName, BTreeMap<WasteReason, WasteTotals>> {
        let totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: BTreeMap<ProviderName, BTreeMap<WasteReason, WasteTotals>> = BTreeMap::new();
        for ((m, provider, reason), t) in totals.iter() {
            if *m == month {
                out.entry(provider.clone()).or_default().insert(*reason, *t);
            }
        }
        out
    }
}
