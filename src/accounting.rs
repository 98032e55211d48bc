//! Money, configured: the spend store, the budgets, and the budget and cost layers, built
//! from `budgets`, `pricing` and the providers of the config.
//!
//! The store is the `file` store at `budgets.state_file` (durable), or, without a
//! `state_file`, an in-memory store whose spend starts from zero at every start (a log line
//! says so), or with `store: redis` a Redis shared by a fleet of replicas. Either way it is
//! wrapped in a [`BudgetWatch`], which fires `alert` callers'
//! thresholds and keeps the budget gauges as spend settles.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::Full;
use infermux_budget::{
    AlertSink, BudgetAlert, BudgetLayer, BudgetPolicies, BudgetPolicy, BudgetWatch, FileStore,
    MemoryStore, WorstCase,
};
use infermux_core::{Caller, ModelCatalog, Money, PriceTable, SharedClock, SpendStore, StoreError};
use infermux_cost::CostLayer;

use crate::{
    config::{BudgetAction, BudgetStoreKind, CallerBudgetConfig, Config},
    provider::HttpClient,
    tokens::BpeTokenCounter,
};

/// The spend store, the clock that dates spend, and every caller's budget: what the budget
/// and cost layers and the management API's cost reports share.
#[derive(Clone)]
pub struct Accounting {
    store: Arc<dyn SpendStore>,
    watch: Arc<BudgetWatch>,
    clock: SharedClock,
    policies: BudgetPolicies,
    keys: crate::key_access::KeyAccess,
    /// The bound on the metrics' `caller` label (`metrics.max_callers`; budgeted callers
    /// always keep their name).
    caller_labels: infermux_core::CallerLabels,
    request_log: Option<infermux_request_log::RequestLog>,
    /// `alert` callers whose month-end projection alerts too (`alert_on_forecast`).
    forecast_alerts: Arc<[Caller]>,
    /// Settlements and releases, detached from clients' connections; shutdown awaits them.
    settlements: tokio_util::task::TaskTracker,
}

impl fmt::Debug for Accounting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounting")
            .field("clock", &self.clock)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

/// Why the accounting could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The spend store (the state file, Redis) or the key store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request log (its SQLite file or PostgreSQL server).
    #[error(transparent)]
    RequestLog(#[from] infermux_request_log::LogError),
}

impl Accounting {
    /// Opens the spend store of `config` (replaying its journal) and reads its budgets;
    /// `client` posts alerts to `budgets.alert_webhook`.
    ///
    /// Fails loudly when the state file cannot be read or written: infermux never starts
    /// with budgets it cannot enforce.
    pub fn open(
        config: &Config,
        clock: SharedClock,
        client: &HttpClient,
    ) -> Result<Self, OpenError> {
        let budgets = &config.budgets;
        let store: Arc<dyn SpendStore> = match (budgets.store, &budgets.state_file) {
            (BudgetStoreKind::File, Some(path)) => Arc::new(FileStore::open(path)?),
            (BudgetStoreKind::File, None) => {
                if !budgets.callers.is_empty() {
                    tracing::warn!(
                        "budgets.state_file is not set: spend is kept in memory and starts from zero at every start"
                    );
                }
                Arc::new(MemoryStore::new())
            }
            (BudgetStoreKind::Redis, _) => {
                use infermux_spend_redis::{RedisSpendStore, RedisStoreOptions, UnavailablePolicy};
                // Validation requires `redis_url` with `store: redis`; it may hold a password,
                // and the store's errors never show it.
                let url = budgets.redis_url.as_ref().map_or("", |url| url.expose());
                let unavailable = match budgets.redis_unavailable {
                    crate::config::RedisUnavailable::FailClosed => UnavailablePolicy::FailClosed,
                    crate::config::RedisUnavailable::FailOpen => UnavailablePolicy::FailOpen,
                };
                let options = RedisStoreOptions::new(unavailable);
                Arc::new(
                    RedisSpendStore::open(url, options, clock.clone())
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                )
            }
        };
        let policies = policies(&budgets.callers);
        let sink = match &budgets.alert_webhook {
            Some(url) => {
                Some(Arc::new(WebhookSink::new(url, client.clone())?) as Arc<dyn AlertSink>)
            }
            None => None,
        };
        let watch = Arc::new(BudgetWatch::new(store, policies.clone(), sink));
        let keys = crate::key_access::KeyAccess::open(config, clock.clone())?;
        // Callers with a budget, and those of the keys declared in config, keep their names.
        let caller_labels = infermux_core::CallerLabels::new(
            config.metrics.max_callers,
            budgets
                .callers
                .iter()
                .map(|c| c.caller.as_str())
                .chain(config.keys.list.iter().map(|k| k.caller.as_str()))
                .map(infermux_core::Caller::new),
        );
        let request_log = crate::request_log::open(&config.request_log, clock.clone())?;
        Ok(Self {
            store: watch.clone(),
            watch,
            clock,
            policies,
            keys,
            caller_labels,
            request_log,
            forecast_alerts: budgets
                .callers
                .iter()
                .filter(|c| c.alert_on_forecast && c.action == BudgetAction::Alert)
                .map(|c| Caller::new(c.caller.as_str()))
                .collect(),
            settlements: tokio_util::task::TaskTracker::new(),
        })
    }

    /// Publishes the budget gauges of every budgeted caller for the current month.
    pub async fn publish_budgets(&self) {
        let month = infermux_core::Month::of(self.clock.now());
        if let Err(error) = self.watch.publish(month).await {
            tracing::error!(%error, "the spend store is unavailable; budget gauges are not set");
        }
    }

    /// The spend store.
    pub fn store(&self) -> &Arc<dyn SpendStore> {
        &self.store
    }

    /// The clock that dates spend.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Client API keys and their spend accounts.
    pub fn keys(&self) -> &crate::key_access::KeyAccess {
        &self.keys
    }

    /// Every caller's budget.
    pub fn policies(&self) -> &BudgetPolicies {
        &self.policies
    }

    /// The budget watch, which fires alerts (thresholds and forecasts).
    pub fn watch(&self) -> &BudgetWatch {
        &self.watch
    }

    /// The `alert` callers with `alert_on_forecast: true`.
    pub fn forecast_alerts(&self) -> &[Caller] {
        &self.forecast_alerts
    }

    /// The request log, unless `request_log.store` is `off`.
    pub fn request_log(&self) -> Option<&infermux_request_log::RequestLog> {
        self.request_log.as_ref()
    }

    /// Waits until every settlement and reservation release started so far is done: the
    /// spend of a client that went away, or of a connection the drain timeout cut, is
    /// recorded before the store is flushed.
    pub async fn settled(&self) {
        self.settlements.close();
        self.settlements.wait().await;
        self.settlements.reopen();
    }

    /// The budget layer: `catalog` and `prices` price each request's worst case.
    pub fn budget_layer(&self, catalog: &ModelCatalog, prices: &PriceTable) -> BudgetLayer {
        BudgetLayer::new(
            self.store.clone(),
            self.clock.clone(),
            self.policies.clone(),
            WorstCase::new(catalog.clone(), prices.clone()),
        )
        .with_settlements(self.settlements.clone())
    }

    /// The bound on the metrics' `caller` label (`metrics.max_callers`; budgeted callers keep
    /// their name): every metric labelled by caller should name callers through it.
    pub fn caller_labels(&self) -> &infermux_core::CallerLabels {
        &self.caller_labels
    }

    /// The cost layer, pricing with `prices` and counting aborted streams with the BPE
    /// tokenizers.
    pub fn cost_layer(&self, prices: &PriceTable) -> CostLayer {
        CostLayer::new(self.store.clone(), prices.clone(), self.clock.clone())
            .with_token_counter(Arc::new(BpeTokenCounter::new()))
            .with_caller_labels(self.caller_labels.clone())
            .with_settlements(self.settlements.clone())
    }
}

/// `budgets.callers` as budget policies. Validation already refused negative amounts and a
/// `model_override` action without its model.
fn policies(callers: &[CallerBudgetConfig]) -> BudgetPolicies {
    BudgetPolicies::new(callers.iter().map(|c| {
        let budget = Money::from_usd(c.monthly_usd).unwrap_or_default();
        let policy = match (c.action, &c.model_override) {
            (BudgetAction::HardStop, _) => BudgetPolicy::hard_stop(budget),
            (BudgetAction::Alert, _) => BudgetPolicy::alert(budget, &c.alert_at),
            (BudgetAction::ModelOverride, Some(model)) => {
                BudgetPolicy::model_override(budget, model.as_str(), c.override_at)
            }
            (BudgetAction::ModelOverride, None) => BudgetPolicy::hard_stop(budget),
        };
        (Caller::new(c.caller.as_str()), policy)
    }))
}

/// POSTs each alert as JSON to `budgets.alert_webhook`.
struct WebhookSink {
    url: Uri,
    client: HttpClient,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a token in its query: never shown.
        f.debug_struct("WebhookSink").finish_non_exhaustive()
    }
}

impl WebhookSink {
    fn new(url: &str, client: HttpClient) -> Result<Self, StoreError> {
        let url = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("budgets.alert_webhook is not a URL: {e}"))
        })?;
        Ok(Self { url, client })
    }
}

/// The JSON body of an alert POST.
fn alert_json(alert: &BudgetAlert) -> serde_json::Value {
    if let Some(projected) = alert.projected {
        return serde_json::json!({
            "type": "budget_forecast_alert",
            "caller": alert.caller.as_str(),
            "period": alert.month.to_string(),
            "budget_usd": alert.budget.as_usd_f64(),
            "spent_usd": alert.spent.as_usd_f64(),
            "projected_month_usd": projected.as_usd_f64(),
        });
    }
    serde_json::json!({
        "type": "budget_alert",
        "caller": alert.caller.as_str(),
        "period": alert.month.to_string(),
        "threshold": alert.fraction,
        "threshold_usd": alert.threshold.as_usd_f64(),
        "budget_usd": alert.budget.as_usd_f64(),
        "spent_usd": alert.spent.as_usd_f64(),
    })
}

impl AlertSink for WebhookSink {
    fn deliver(&self, alert: BudgetAlert) {
        let body = Bytes::from(alert_json(&alert).to_string());
        let request = Request::post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body));
        let Ok(request) = request else {
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            match client.request(request).await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(
                    caller = %alert.caller, status = response.status().as_u16(),
                    "the budget alert webhook refused the alert"
                ),
                Err(error) => tracing::warn!(
                    caller = %alert.caller, %error,
                    "the budget alert webhook could not be reached"
                ),
            }
        });
    }
}
