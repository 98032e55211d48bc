//! The request log, configured: the store of `request_log` and the layer that feeds it.

use std::sync::Arc;

use infermux_core::SharedClock;
use infermux_request_log::{
    LogError, LogOptions, PostgresStore, RequestLog, RequestLogLayer, RequestStore, SqliteStore,
};

use crate::config::{RequestLogConfig, RequestLogStore};

/// Opens the store of `config`, its retention counted by `clock` (the accounting clock, which
/// dates the rows); `None` with `store: off`. Fails loudly when the file cannot be opened, or
/// the PostgreSQL URL is bad or its server cannot be reached (naming `request_log.url`, never
/// repeating it: it may hold a password).
pub fn open(config: &RequestLogConfig, clock: SharedClock) -> Result<Option<RequestLog>, LogError> {
    let store: Arc<dyn RequestStore> = match config.store {
        RequestLogStore::Off => return Ok(None),
        RequestLogStore::Sqlite => match &config.path {
            Some(path) => Arc::new(SqliteStore::open(path)?),
            None => Arc::new(SqliteStore::in_memory()?),
        },
        RequestLogStore::Postgres => {
            // The config check requires the URL with `store: postgres`.
            let url = config.url.as_ref().map_or("", |url| url.expose());
            let store = PostgresStore::open(url)
                .map_err(|e| LogError::new(format!("request_log.url: {}", e.message())))?;
            Arc::new(store)
        }
    };
    let options = LogOptions {
        retention: Some(config.retention),
        ..LogOptions::default()
    };
    Ok(Some(RequestLog::new(store, options, clock)))
}

/// The layer that logs every request into the log of `accounting` (dated by its clock),
/// rendering errors as the client sees them; `None` with `store: off`.
pub fn layer(accounting: &crate::accounting::Accounting) -> Option<RequestLogLayer> {
    let log = accounting.request_log()?;
    let classify: infermux_request_log::Classify = |error| {
        let class = crate::error::classify(error);
        (class.status.as_u16(), class.code)
    };
    Some(RequestLogLayer::new(
        log.clone(),
        classify,
        accounting.clock().clone(),
    ))
}

/// Alerts every `alert_on_forecast` caller whose month-end projection reaches its budget
/// (once per caller and month: the budget watch remembers). Runs every minute and whenever
/// `/_infermux/forecast` is asked.
pub async fn forecast_alerts(accounting: &crate::accounting::Accounting) -> Result<(), LogError> {
    use infermux_core::Month;
    use infermux_request_log::{Filter, Forecast, GroupBy, burn_window};

    let (Some(log), false) = (
        accounting.request_log(),
        accounting.forecast_alerts().is_empty(),
    ) else {
        return Ok(());
    };
    let now = accounting.clock().now();
    let month = Month::of(now);
    let window = burn_window(now);
    let since = now
        .checked_sub(window)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let recent = Filter {
        since_ms: Some(since),
        ..Filter::default()
    };
    let by_caller = log.store().usage(&recent, GroupBy::Caller).await?;
    for caller in accounting.forecast_alerts() {
        let spent = accounting
            .store()
            .spent(caller, month)
            .await
            .map_err(|e| LogError::new(e.to_string()))?;
        let recent = by_caller
            .rows
            .iter()
            .find(|r| r.key.as_str() == Some(caller.as_str()))
            .map(|r| r.cost)
            .unwrap_or_default();
        let forecast = Forecast::project(now, spent, recent, window, None);
        accounting
            .watch()
            .forecast(caller, month, spent, forecast.projected_month);
    }
    Ok(())
}

/// Checks [`forecast_alerts`] every minute until `stop`.
pub async fn forecast_upkeep(
    accounting: crate::accounting::Accounting,
    stop: tokio_util::sync::CancellationToken,
) {
    if accounting.forecast_alerts().is_empty() {
        return;
    }
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {
                if let Err(error) = forecast_alerts(&accounting).await {
                    tracing::warn!(%error, "could not check the budget forecasts");
                }
            }
        }
    }
}
