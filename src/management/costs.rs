//! The cost reports: `/_infermux/costs`, `/by-model`, `/by-caller`, `/by-group`,
//! `/timeseries`, `/waste`.
//!
//! Every report covers the current UTC calendar month (the budget period) and reads the
//! spend store, so it shows exactly what budgets are enforced against. Amounts are rendered
//! as exact decimals (`0.0000018`, never `1.8e-6`) from integer pico-USD, so
//! `total_usd` = Σ `by_provider` = Σ `by_model` = Σ callers, to the last digit.

use bytes::Bytes;
use http::{Response, StatusCode};
use infermux_core::{Hour, InferBody, Money, Month, SpendSummary, StoreError};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::json;
use crate::{
    accounting::Accounting,
    error::{self, ErrorClass},
};

/// Hours a time series may span: 31 days.
const MAX_HOURS: u32 = 31 * 24;

/// Hours of a time series when `hours` is not given.
const DEFAULT_HOURS: u32 = 24;

/// An exact amount of USD, rendered as a JSON number with at least one decimal.
pub(super) struct Usd(pub(super) Money);

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = self.0.to_plain_decimal();
        if !text.contains('.') {
            text.push_str(".0");
        }
        RawValue::from_string(text)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// Answers `path` (a path under `/_infermux/costs`) with `query`.
pub(super) async fn respond(
    accounting: &Accounting,
    path: &str,
    query: Option<&str>,
) -> Response<InferBody> {
    let result = match path {
        "/_infermux/costs" => totals(accounting).await,
        "/_infermux/costs/by-model" => by_model(accounting).await,
        "/_infermux/costs/by-caller" => by_caller(accounting).await,
        "/_infermux/costs/by-group" => by_group(accounting).await,
        "/_infermux/costs/timeseries" => match series_query(query) {
            // Finer or coarser buckets come from the request log.
            Ok((hours, bucket)) if bucket != "1h" => {
                return super::usage::fine_timeseries(accounting, hours, bucket).await;
            }
            _ => timeseries(accounting, query).await,
        },
        "/_infermux/costs/waste" => waste(accounting).await,
        _ => Err(Failure::NotFound(path.to_owned())),
    };
    match result {
        Ok(body) => json(StatusCode::OK, body),
        Err(failure) => failure.into_response(),
    }
}

/// Why a report could not be produced.
enum Failure {
    NotFound(String),
    BadQuery(String),
    Store(StoreError),
}

impl Failure {
    fn into_response(self) -> Response<InferBody> {
        let (status, code, message) = match self {
            Self::NotFound(path) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no management endpoint GET {path}"),
            ),
            Self::BadQuery(message) => (StatusCode::BAD_REQUEST, "invalid_request", message),
            Self::Store(error) => {
                tracing::error!(%error, "cost report: the spend store is unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "budget_store_unavailable",
                    "the spend store is unavailable; see the infermux logs".to_owned(),
                )
            }
        };
        error::response(ErrorClass { status, code }, &message)
    }
}

type Report = Result<Bytes, Failure>;

fn encode(value: &impl Serialize) -> Report {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Failure::Store(StoreError::Unavailable(e.to_string())))
}

async fn month_summary(accounting: &Accounting) -> Result<(Month, SpendSummary), Failure> {
    let month = Month::of(accounting.clock().now());
    let summary = accounting
        .store()
        .summary(month)
        .await
        .map_err(Failure::Store)?;
    Ok((month, summary))
}

fn amounts<'a, K: AsRef<str> + 'a>(
    map: impl IntoIterator<Item = (&'a K, &'a Money)>,
) -> Vec<(&'a str, Usd)> {
    map.into_iter()
        .map(|(k, v)| (k.as_ref(), Usd(*v)))
        .collect()
}

/// A JSON object from ordered pairs.
struct Object<'a>(Vec<(&'a str, Usd)>);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (*k, v)))
    }
}

/// `GET /_infermux/costs/waste`: billed spend that delivered no answer this month, by
/// provider and reason. It is part of the spend in the other reports, read from the same
/// store: durable with a state file, fleet-wide with Redis.
async fn waste(accounting: &Accounting) -> Report {
    #[derive(Serialize)]
    struct Amount {
        total_usd: Usd,
        requests: u64,
    }
    #[derive(Serialize)]
    struct ProviderWaste {
        total_usd: Usd,
        requests: u64,
        by_reason: std::collections::BTreeMap<&'static str, Amount>,
    }
    #[derive(Serialize)]
    struct Waste {
        period: String,
        total_usd: Usd,
        requests: u64,
        by_provider: std::collections::BTreeMap<String, ProviderWaste>,
    }
    let (month, summary) = month_summary(accounting).await?;
    let (mut total, mut requests) = (Money::ZERO, 0);
    let mut by_provider = std::collections::BTreeMap::new();
    for (provider, reasons) in summary.waste {
        let (mut cost, mut count) = (Money::ZERO, 0);
        let mut by_reason = std::collections::BTreeMap::new();
        for (reason, totals) in reasons {
            cost = cost.saturating_add(totals.cost);
            count += totals.requests;
            by_reason.insert(
                reason.as_str(),
                Amount {
                    total_usd: Usd(totals.cost),
                    requests: totals.requests,
                },
            );
        }
        total = total.saturating_add(cost);
        requests += count;
        by_provider.insert(
            provider.to_string(),
            ProviderWaste {
                total_usd: Usd(cost),
                requests: count,
                by_reason,
            },
        );
    }
    encode(&Waste {
        period: month.to_string(),
        total_usd: Usd(total),
        requests,
        by_provider,
    })
}

async fn totals(accounting: &Accounting) -> Report {
    #[derive(Serialize)]
    struct Totals<'a> {
        period: String,
        total_usd: Usd,
        by_provider: Object<'a>,
        requests: u64,
        unpriced_requests: u64,
        /// The part of `total_usd` charged from usage infermux counted itself.
        estimated_usd: Usd,
        estimated_requests: u64,
    }
    let (month, summary) = month_summary(accounting).await?;
    encode(&Totals {
        period: month.to_string(),
        total_usd: Usd(summary.total),
        by_provider: Object(amounts(&summary.by_provider)),
        requests: summary.requests,
        unpriced_requests: summary.unpriced_requests,
        estimated_usd: Usd(summary.estimated),
        estimated_requests: summary.estimated_requests,
    })
}

async fn by_model(accounting: &Accounting) -> Report {
    #[derive(Serialize)]
    struct ByModel<'a> {
        period: String,
        by_model: Object<'a>,
    }
    let (month, summary) = month_summary(accounting).await?;
    encode(&ByModel {
        period: month.to_string(),
        by_model: Object(amounts(&summary.by_model)),
    })
}

async fn by_group(accounting: &Accounting) -> Report {
    #[derive(Serialize)]
    struct ByGroup<'a> {
        period: String,
        by_group: Object<'a>,
    }
    let (month, summary) = month_summary(accounting).await?;
    encode(&ByGroup {
        period: month.to_string(),
        by_group: Object(amounts(&summary.by_group)),
    })
}

async fn by_caller(accounting: &Accounting) -> Report {
    #[derive(Serialize)]
    struct ByCaller<'a> {
        period: String,
        callers: Vec<CallerRow<'a>>,
    }
    #[derive(Serialize)]
    struct CallerRow<'a> {
        caller: &'a str,
        total_usd: Usd,
        #[serde(skip_serializing_if = "Option::is_none")]
        budget_usd: Option<Usd>,
        #[serde(skip_serializing_if = "Option::is_none")]
        budget_remaining_usd: Option<Usd>,
        requests: u64,
        prompt_tokens: u64,
        completion_tokens: u64,
        cached_prompt_tokens: u64,
        /// The part of `total_usd` charged from usage infermux counted itself; left out when
        /// none was.
        #[serde(skip_serializing_if = "Option::is_none")]
        estimated_usd: Option<Usd>,
    }
    let (month, summary) = month_summary(accounting).await?;
    let mut rows: Vec<CallerRow<'_>> = summary
        .callers
        .iter()
        .map(|(caller, totals)| {
            let budget = accounting.policies().get(caller).map(|p| p.budget());
            CallerRow {
                caller: caller.as_str(),
                total_usd: Usd(totals.cost),
                budget_usd: budget.map(Usd),
                budget_remaining_usd: budget.map(|b| Usd(b.saturating_sub(totals.cost))),
                requests: totals.requests,
                prompt_tokens: totals.prompt_tokens,
                completion_tokens: totals.completion_tokens,
                cached_prompt_tokens: totals.cached_prompt_tokens,
                estimated_usd: (totals.estimated > Money::ZERO).then_some(Usd(totals.estimated)),
            }
        })
        .collect();
    // The biggest spenders first.
    rows.sort_by(|a, b| {
        b.total_usd
            .0
            .cmp(&a.total_usd.0)
            .then(a.caller.cmp(b.caller))
    });
    encode(&ByCaller {
        period: month.to_string(),
        callers: rows,
    })
}

/// `hours` and `bucket` of a time series query.
fn series_query(query: Option<&str>) -> Result<(u32, &'static str), Failure> {
    let mut hours = DEFAULT_HOURS;
    let mut bucket = "1h";
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "hours" => {
                hours = value
                    .parse()
                    .ok()
                    .filter(|h| (1..=MAX_HOURS).contains(h))
                    .ok_or_else(|| {
                        Failure::BadQuery(format!(
                            "`hours` must be a whole number from 1 to {MAX_HOURS}, not `{value}`"
                        ))
                    })?;
            }
            "bucket" => {
                bucket = ["5m", "15m", "30m", "1h", "1d"]
                    .into_iter()
                    .find(|b| *b == value)
                    .ok_or_else(|| {
                        Failure::BadQuery(format!(
                            "`bucket` must be 5m, 15m, 30m, 1h or 1d, not `{value}`"
                        ))
                    })?;
            }
            _ => {
                return Err(Failure::BadQuery(format!(
                    "unknown parameter `{key}`; use `hours` and `bucket`"
                )));
            }
        }
    }
    Ok((hours, bucket))
}

async fn timeseries(accounting: &Accounting, query: Option<&str>) -> Report {
    #[derive(Serialize)]
    struct Series {
        hours: u32,
        bucket: &'static str,
        buckets: Vec<Bucket>,
    }
    #[derive(Serialize)]
    struct Bucket {
        start: String,
        total_usd: Usd,
        requests: u64,
    }
    let (hours, _) = series_query(query)?;
    let now = Hour::of(accounting.clock().now());
    let first = Hour(now.0.saturating_sub(u64::from(hours) - 1));
    let totals = accounting
        .store()
        .hourly(first, hours)
        .await
        .map_err(Failure::Store)?;
    let buckets = totals
        .into_iter()
        .enumerate()
        .map(|(i, t)| Bucket {
            start: Hour(first.0 + i as u64).to_rfc3339(),
            total_usd: Usd(t.cost),
            requests: t.requests,
        })
        .collect();
    encode(&Series {
        hours,
        bucket: "1h",
        buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_render_as_exact_decimals() {
        let render = |picos| serde_json::to_string(&Usd(Money::from_picos(picos))).expect("json");
        assert_eq!(render(1_800_000), "0.0000018");
        assert_eq!(render(0), "0.0");
        assert_eq!(render(1_000_000_000_000), "1.0");
        assert_eq!(render(84_200_000), "0.0000842");
    }

    #[test]
    fn time_series_queries_are_checked() {
        assert!(matches!(series_query(None), Ok((24, "1h"))));
        assert!(matches!(
            series_query(Some("hours=3&bucket=1h")),
            Ok((3, "1h"))
        ));
        assert!(series_query(Some("hours=0")).is_err());
        assert!(series_query(Some("hours=745")).is_err());
        assert!(matches!(series_query(Some("bucket=5m")), Ok((24, "5m"))));
        assert!(series_query(Some("bucket=2m")).is_err());
    }
}
