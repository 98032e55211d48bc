//! The cost metrics, recorded once per settled request.
//!
//! * `infermux_request_cost_usd{provider,model,caller,group}` — the cost of each request
//!   (its `_sum` is the spend in USD, its `_count` the requests);
//! * `infermux_tokens_total{provider,model,caller,group,type}` — `type` is `prompt`,
//!   `completion` or `cached` (prompt tokens read from a cache, part of `prompt`);
//! * `infermux_unpriced_requests_total{provider,model}` — requests served by a model with
//!   no known price, recorded at $0;
//! * `infermux_estimated_usage_total{provider,model}` — requests whose usage the provider did
//!   not report (or reported only in part), counted by infermux and charged as counted.
//!
//! Registering a labelled metric allocates its label strings and hashes its key; the handles
//! of each (provider, model, caller, group) are therefore registered once and kept, so a
//! settled request only bumps atomics.
//!
//! The `caller` label is bounded by a [`CallerLabels`]: callers beyond its bound are counted
//! as `other`, so clients inventing callers cannot grow the registry without end.

use std::sync::{Arc, PoisonError, RwLock};

// Looked up for every settled request: foldhash, not SipHash, over four names.
use hashbrown::HashMap;

use infermux_core::{Caller, CallerLabels, LedgerEntry, ProviderName};
use metrics::{Counter, Histogram};

/// The labels of one series family.
type SeriesKey = (ProviderName, Arc<str>, Caller, Option<Arc<str>>);

/// The metric handles of one (provider, model, caller, group).
#[derive(Debug)]
struct Series {
    cost: Histogram,
    prompt: Counter,
    completion: Counter,
    cached: Counter,
    unpriced: Counter,
    estimated: Counter,
}

impl Series {
    fn register((provider, model, caller, group): &SeriesKey) -> Self {
        let provider = provider.to_string();
        let model = model.to_string();
        let caller = caller.to_string();
        let group = group.as_deref().unwrap_or_default().to_owned();
        let tokens = |kind: &'static str| {
            metrics::counter!("infermux_tokens_total",
                "provider" => provider.clone(), "model" => model.clone(),
                "caller" => caller.clone(), "group" => group.clone(), "type" => kind)
        };
        Self {
            cost: metrics::histogram!("infermux_request_cost_usd",
                "provider" => provider.clone(), "model" => model.clone(),
                "caller" => caller.clone(), "group" => group.clone()),
            prompt: tokens("prompt"),
            completion: tokens("completion"),
            cached: tokens("cached"),
            unpriced: metrics::counter!("infermux_unpriced_requests_total",
                "provider" => provider.clone(), "model" => model.clone()),
            estimated: metrics::counter!("infermux_estimated_usage_total",
                "provider" => provider.clone(), "model" => model.clone()),
        }
    }
}

/// The registered series, by labels.
#[derive(Debug, Default)]
pub(crate) struct CostMetrics {
    series: RwLock<HashMap<SeriesKey, Arc<Series>>>,
    callers: CallerLabels,
}

impl CostMetrics {
    /// Metrics whose `caller` label is bounded by `callers`.
    pub(crate) fn new(callers: CallerLabels) -> Self {
        Self {
            series: RwLock::default(),
            callers,
        }
    }

    /// The bound on the `caller` label.
    pub(crate) fn callers(&self) -> &CallerLabels {
        &self.callers
    }

    /// Records `entry`; `estimated` when its usage was counted by infermux.
    pub(crate) fn record(&self, entry: &LedgerEntry, estimated: bool) {
        let series = self.series(entry);
        // Metrics are floats by nature; the exact amount is in the ledger.
        series
            .cost
            .record(entry.cost.picos() as f64 / 1_000_000_000_000.0);
        let usage = &entry.usage;
        series.prompt.increment(usage.prompt_tokens);
        series.completion.increment(usage.completion_tokens);
        series.cached.increment(usage.cached_prompt_tokens);
        if !entry.priced {
            series.unpriced.increment(1);
        }
        if estimated {
            series.estimated.increment(1);
        }
    }

    fn series(&self, entry: &LedgerEntry) -> Arc<Series> {
        let key: SeriesKey = (
            entry.provider.clone(),
            entry.model.clone(),
            self.callers.label(&entry.caller),
            entry.group.clone(),
        );
        if let Some(series) = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return series.clone();
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        series
            .entry(key)
            .or_insert_with_key(|key| Arc::new(Series::register(key)))
            .clone()
    }
}
