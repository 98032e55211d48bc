//! `GET /_infermux/forecast`: burn rate, projected month-end spend and exhaustion date for
//! every caller and key.

use std::collections::BTreeMap;

use http::Response;
use infermux_core::{InferBody, Money, Month};
use infermux_request_log::{Filter, Forecast, GroupBy, burn_window, month_start};

use super::{
    logapi::{Failure, answer, log},
    params::millis,
};
use crate::accounting::Accounting;

/// `GET /_infermux/forecast`.
pub(super) async fn respond(accounting: &Accounting) -> Response<InferBody> {
    answer(forecast(accounting).await)
}

/// Every caller's and key's forecast as JSON.
pub(super) async fn forecast(accounting: &Accounting) -> Result<serde_json::Value, Failure> {
    let log = log(accounting).await?;
    // Asking for the forecast also checks the forecast alerts.
    if let Err(error) = crate::request_log::forecast_alerts(accounting).await {
        tracing::warn!(%error, "could not check the budget forecasts");
    }
    let now = accounting.clock().now();
    let month = Month::of(now);
    let window = burn_window(now);
    let recent = Filter {
        since_ms: Some(millis(now) - i64::try_from(window.as_millis()).unwrap_or(0)),
        ..Filter::default()
    };
    let this_month = Filter {
        since_ms: Some(millis(month_start(month))),
        ..Filter::default()
    };
    let sums = |report: infermux_request_log::UsageReport| -> BTreeMap<String, Money> {
        report
            .rows
            .into_iter()
            .filter_map(|r| Some((r.key.as_str()?.to_owned(), r.cost)))
            .collect()
    };
    let recent_callers = sums(log.store().usage(&recent, GroupBy::Caller).await?);
    // Callers' spend is the ledger's, the amount their budgets are enforced against.
    let summary = accounting
        .store()
        .summary(month)
        .await
        .map_err(|e| Failure::Store(infermux_request_log::LogError::new(e.to_string())))?;
    let mut callers: BTreeMap<String, (Money, Option<Money>)> = summary
        .callers
        .iter()
        .map(|(c, t)| (c.as_str().to_owned(), (t.cost, None)))
        .collect();
    for (caller, policy) in accounting.policies().iter() {
        callers.entry(caller.as_str().to_owned()).or_default().1 = Some(policy.budget());
    }
    let entry = |name: &str, field: &str, f: Forecast| {
        let mut map = f.to_json();
        map.insert(field.into(), name.into());
        serde_json::Value::Object(map)
    };
    let caller_rows: Vec<_> = callers
        .iter()
        .map(|(caller, (spent, budget))| {
            let recent = recent_callers.get(caller).copied().unwrap_or_default();
            let f = Forecast::project(now, *spent, recent, window, *budget);
            (f.projected_month, entry(caller, "caller", f))
        })
        .collect();
    // Keys: this month's spend from the request log, or the key ledger (what key budgets are
    // enforced against) for keys in the key store; their monthly budgets from the store.
    let recent_keys = sums(log.store().usage(&recent, GroupBy::Key).await?);
    let mut keys: BTreeMap<String, (Money, Option<Money>)> =
        sums(log.store().usage(&this_month, GroupBy::Key).await?)
            .into_iter()
            .map(|(key, spent)| (key, (spent, None)))
            .collect();
    let key_store = accounting.keys();
    let ledger = match key_store.spend().summary(month).await {
        Ok(summary) => summary.callers,
        Err(error) => {
            tracing::warn!(%error, "the key spend store is unavailable; key spend from the log");
            BTreeMap::new()
        }
    };
    for key in key_store.ring().entries() {
        let record = &key.record;
        let budget = record.monthly_picos.map(Money::from_picos);
        let spent = ledger
            .get(&infermux_keys::month_account(&record.id))
            .map(|t| t.cost);
        if budget.is_none() && !keys.contains_key(&record.id) {
            continue;
        }
        let slot = keys.entry(record.id.clone()).or_default();
        slot.0 = spent.unwrap_or(slot.0);
        slot.1 = budget;
    }
    let key_rows: Vec<_> = keys
        .iter()
        .map(|(key, (spent, budget))| {
            let recent = recent_keys.get(key).copied().unwrap_or_default();
            let f = Forecast::project(now, *spent, recent, window, *budget);
            (f.projected_month, entry(key, "key", f))
        })
        .collect();
    let sorted = |mut rows: Vec<(Money, serde_json::Value)>| -> Vec<serde_json::Value> {
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        rows.into_iter().map(|(_, v)| v).collect()
    };
    Ok(serde_json::json!({
        "period": month.to_string(),
        "window_days": window.as_secs_f64() / 86_400.0,
        "callers": sorted(caller_rows),
        "keys": sorted(key_rows),
    }))
}
