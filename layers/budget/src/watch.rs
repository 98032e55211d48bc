//! Watching budgets as spend settles: alerts, and the budget gauges.
//!
//! [`BudgetWatch`] wraps a [`SpendStore`]: after each settlement of a caller with a budget it
//! reads the caller's spend, publishes `infermux_budget_spend_usd` and
//! `infermux_budget_remaining_usd`, and, for `alert` callers, fires each threshold the spend
//! crossed — exactly once per caller, threshold and month: one warning log line, one
//! `infermux_budget_alerts_total` increment, and one [`BudgetAlert`] to the [`AlertSink`]
//! (which POSTs it to `budgets.alert_webhook`). Thresholds that the spend before this
//! process's first settlement of a caller had already crossed count as fired, so a restart
//! does not repeat them.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

// Looked up for every settlement of a budgeted caller: foldhash, not SipHash.
use hashbrown::HashMap;

use infermux_core::{
    Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SpendStore, SpendSummary,
    StoreFuture,
};

use crate::{BudgetAction, BudgetPolicies, BudgetPolicy};

/// One crossed alert threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetAlert {
    /// The caller.
    pub caller: Caller,
    /// The budget period.
    pub month: Month,
    /// The fraction of the budget crossed.
    pub fraction: f64,
    /// The amount that fraction stands for.
    pub threshold: Money,
    /// The monthly budget.
    pub budget: Money,
    /// The spend that crossed it.
    pub spent: Money,
    /// For a forecast alert: the projected month-end spend that reaches the budget (the
    /// spend itself has not crossed `threshold` yet).
    pub projected: Option<Money>,
}

/// Where alerts go besides the log and the metric (a webhook).
pub trait AlertSink: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers `alert`; must not block.
    fn deliver(&self, alert: BudgetAlert);
}

/// A [`SpendStore`] that watches budgets as spend settles; see the module docs.
pub struct BudgetWatch {
    inner: Arc<dyn SpendStore>,
    shared: Arc<Watched>,
}

impl std::fmt::Debug for BudgetWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetWatch")
            .field("policies", &self.shared.policies)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Watched {
    policies: BudgetPolicies,
    /// Each budgeted caller's gauges, registered at their first use (after the metrics
    /// recorder is installed) and kept.
    gauges: HashMap<Caller, OnceLock<Gauges>>,
    sink: Option<Arc<dyn AlertSink>>,
    fired: Mutex<Fired>,
}

/// The alerts already fired.
#[derive(Debug, Default)]
struct Fired {
    /// (caller, month, threshold index).
    thresholds: HashSet<(Caller, Month, usize)>,
    /// (caller, month) whose forecast alert fired.
    forecasts: HashSet<(Caller, Month)>,
    /// The callers and months this process has seen a settlement of.
    seen: HashSet<(Caller, Month)>,
}

impl BudgetWatch {
    /// Watches `policies` over `inner`, delivering alerts to `sink` besides the log and the
    /// metric.
    pub fn new(
        inner: Arc<dyn SpendStore>,
        policies: BudgetPolicies,
        sink: Option<Arc<dyn AlertSink>>,
    ) -> Self {
        let gauges = policies
            .iter()
            .map(|(caller, _)| (caller.clone(), OnceLock::new()))
            .collect();
        Self {
            inner,
            shared: Arc::new(Watched {
                gauges,
                policies,
                sink,
                fired: Mutex::new(Fired::default()),
            }),
        }
    }
}

impl BudgetWatch {
    /// Publishes every budgeted caller's gauges for `month` (at start-up, so that they show
    /// before the first settlement).
    pub async fn publish(&self, month: Month) -> Result<(), infermux_core::StoreError> {
        for (caller, policy) in self.shared.policies.iter() {
            let spent = self.inner.spent(caller, month).await?;
            self.shared.publish(caller, policy, spent);
        }
        Ok(())
    }
}

impl BudgetWatch {
    /// `caller`'s month-end spend is projected at `projected` (having spent `spent`): when
    /// that reaches its `alert` budget, alerts once per caller and month, through the same
    /// log line, metric (`threshold="forecast"`) and sink as the thresholds. Returns whether
    /// it fired.
    pub fn forecast(&self, caller: &Caller, month: Month, spent: Money, projected: Money) -> bool {
        let shared = &self.shared;
        let Some(policy) = shared.policies.get(caller) else {
            return false;
        };
        if *policy.action() != BudgetAction::Alert || projected < policy.budget() {
            return false;
        }
        let mut fired = shared.fired.lock().unwrap_or_else(PoisonError::into_inner);
        if !fired.forecasts.insert((caller.clone(), month)) {
            return false;
        }
        drop(fired);
        tracing::warn!(
            caller = %caller,
            month = %month,
            budget = %policy.budget(),
            spent = %spent,
            projected = %projected,
            "budget alert: {caller} is projected to reach its monthly budget by the end of the month",
        );
        metrics::counter!("infermux_budget_alerts_total",
            "caller" => caller.to_string(), "threshold" => "forecast")
        .increment(1);
        if let Some(sink) = &shared.sink {
            sink.deliver(BudgetAlert {
                caller: caller.clone(),
                month,
                fraction: 1.0,
                threshold: policy.budget(),
                budget: policy.budget(),
                spent,
                projected: Some(projected),
            });
        }
        true
    }
}

/// The budget gauges of one caller.
#[derive(Debug)]
struct Gauges {
    spend: metrics::Gauge,
    remaining: metrics::Gauge,
    budget: Money,
}

impl Gauges {
    /// Registers `caller`'s gauges and sets its limit.
    fn register(caller: &Caller, policy: &BudgetPolicy) -> Self {
        let label = caller.to_string();
        metrics::gauge!("infermux_budget_limit_usd", "caller" => label.clone())
            .set(policy.budget().as_usd_f64());
        Self {
            spend: metrics::gauge!("infermux_budget_spend_usd", "caller" => label.clone()),
            remaining: metrics::gauge!("infermux_budget_remaining_usd", "caller" => label),
            budget: policy.budget(),
        }
    }

    /// Shows `spent`. Gauges are floats by nature; the exact amounts are in the reports.
    fn publish(&self, spent: Money) {
        let usd = |amount: Money| amount.picos() as f64 / 1_000_000_000_000.0;
        self.spend.set(usd(spent));
        self.remaining.set(usd(self.budget.saturating_sub(spent)));
    }
}

impl Watched {
    /// Shows `caller`'s spend in its gauges.
    fn publish(&self, caller: &Caller, policy: &BudgetPolicy, spent: Money) {
        if let Some(gauges) = self.gauges.get(caller) {
            gauges
                .get_or_init(|| Gauges::register(caller, policy))
                .publish(spent);
        }
    }

    /// `caller` spent `cost` more in `month`, and has spent `spent` in all.
    fn settled(&self, caller: &Caller, month: Month, cost: Money, spent: Money) {
        let Some(policy) = self.policies.get(caller) else {
            return;
        };
        self.publish(caller, policy, spent);
        if *policy.action() != BudgetAction::Alert {
            return;
        }
        let mut fired = self.fired.lock().unwrap_or_else(PoisonError::into_inner);
        if fired.seen.insert((caller.clone(), month)) {
            // The first settlement this process sees: what was spent before it was alerted
            // on already (by this process before a restart).
            let before = spent.saturating_sub(cost);
            for (i, threshold) in policy.alerts().iter().enumerate() {
                if before >= threshold.amount {
                    fired.thresholds.insert((caller.clone(), month, i));
                }
            }
        }
        let crossed: Vec<usize> = (0..policy.alerts().len())
            .filter(|&i| {
                spent >= policy.alerts()[i].amount
                    && fired.thresholds.insert((caller.clone(), month, i))
            })
            .collect();
        drop(fired);
        for threshold in crossed.into_iter().map(|i| policy.alerts()[i]) {
            tracing::warn!(
                caller = %caller,
                month = %month,
                threshold = threshold.fraction,
                budget = %policy.budget(),
                spent = %spent,
                "budget alert: {caller} crossed {}% of its monthly budget",
                threshold.fraction * 100.0,
            );
            metrics::counter!("infermux_budget_alerts_total",
                "caller" => caller.to_string(), "threshold" => threshold.fraction.to_string())
            .increment(1);
            if let Some(sink) = &self.sink {
                sink.deliver(BudgetAlert {
                    caller: caller.clone(),
                    month,
                    fraction: threshold.fraction,
                    threshold: threshold.amount,
                    budget: policy.budget(),
                    spent,
                    projected: None,
                });
            }
        }
    }
}

impl SpendStore for BudgetWatch {
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
        if self.shared.policies.get(&entry.caller).is_none() {
            return self.inner.settle(entry, reserved);
        }
        let (caller, month, cost) = (entry.caller.clone(), entry.month(), entry.cost);
        // The spend after this settlement, in one step where the store can (one Redis round
        // trip, not two).
        let settled = self.inner.clone().settle_and_spent(entry, reserved);
        let shared = self.shared.clone();
        Box::pin(async move {
            let spent = settled.await?;
            shared.settled(&caller, month, cost, spent);
            Ok(())
        })
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use infermux_core::Usage;

    use super::*;
    use crate::MemoryStore;

    #[derive(Debug, Default)]
    struct Collect(Mutex<Vec<BudgetAlert>>);

    impl AlertSink for Collect {
        fn deliver(&self, alert: BudgetAlert) {
            self.0.lock().expect("lock").push(alert);
        }
    }

    fn entry(cost: u64, at: SystemTime) -> LedgerEntry {
        LedgerEntry {
            request_id: "r".into(),
            at,
            caller: "pro".into(),
            group: None,
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            usage: Usage::default(),
            cost: Money::from_picos(cost),
            priced: true,
            estimated: false,
            waste: None,
        }
    }

    #[tokio::test]
    async fn each_threshold_fires_once_per_month_and_not_again_after_a_restart() {
        let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
        let policies = BudgetPolicies::new([(
            "pro".into(),
            BudgetPolicy::alert(Money::from_picos(100), &[0.5, 1.0]),
        )]);
        let march = humantime::parse_rfc3339("2026-03-14T10:00:00Z").expect("time");
        let sink = Arc::new(Collect::default());
        let watch = BudgetWatch::new(store.clone(), policies.clone(), Some(sink.clone()));
        for _ in 0..4 {
            watch
                .settle(entry(40, march), Money::ZERO)
                .await
                .expect("settle");
        }
        // 40, 80 (crosses 50), 120 (crosses 100), 160.
        let fired: Vec<(f64, u64)> = sink
            .0
            .lock()
            .expect("lock")
            .iter()
            .map(|a| (a.fraction, a.spent.picos()))
            .collect();
        assert_eq!(fired, [(0.5, 80), (1.0, 120)]);

        // A restart in the same month: nothing fires again.
        let sink2 = Arc::new(Collect::default());
        let restarted = BudgetWatch::new(store.clone(), policies, Some(sink2.clone()));
        restarted
            .settle(entry(40, march), Money::ZERO)
            .await
            .expect("settle");
        assert!(sink2.0.lock().expect("lock").is_empty());

        // A new month starts from zero and fires again.
        let april = march + Duration::from_secs(31 * 24 * 3600);
        for _ in 0..2 {
            restarted
                .settle(entry(40, april), Money::ZERO)
                .await
                .expect("settle");
        }
        assert_eq!(sink2.0.lock().expect("lock").len(), 1);
    }

    /// The memory store, which learns a caller's spend as it settles, with the separate
    /// reads of that spend counted.
    #[derive(Debug, Default)]
    struct OneStep {
        inner: Arc<MemoryStore>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl SpendStore for OneStep {
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
            self.inner.settle(entry, reserved)
        }

        fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()> {
            self.inner.release(caller, month, reserved)
        }

        fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.spent(caller, month)
        }

        fn summary(&self, month: Month) -> StoreFuture<SpendSummary> {
            self.inner.summary(month)
        }

        fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>> {
            self.inner.hourly(first, hours)
        }

        fn settle_and_spent(
            self: Arc<Self>,
            entry: LedgerEntry,
            reserved: Money,
        ) -> StoreFuture<Money> {
            self.inner.clone().settle_and_spent(entry, reserved)
        }
    }

    #[tokio::test]
    async fn a_store_that_reports_spend_as_it_settles_is_not_asked_again() {
        let store = Arc::new(OneStep::default());
        let policies = BudgetPolicies::new([(
            "pro".into(),
            BudgetPolicy::alert(Money::from_picos(100), &[0.5]),
        )]);
        let march = humantime::parse_rfc3339("2026-03-14T10:00:00Z").expect("time");
        let sink = Arc::new(Collect::default());
        let watch = BudgetWatch::new(store.clone(), policies, Some(sink.clone()));
        for _ in 0..2 {
            watch
                .settle(entry(40, march), Money::ZERO)
                .await
                .expect("settle");
        }
        let fired: Vec<u64> = sink
            .0
            .lock()
            .expect("lock")
            .iter()
            .map(|a| a.spent.picos())
            .collect();
        assert_eq!(fired, [80]);
        assert_eq!(store.reads.load(std::sync::atomic::Ordering::Relaxed), 0);
    }
}
