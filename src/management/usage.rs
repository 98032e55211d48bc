//! `/_infermux/usage` (sums grouped by one key), and what the dashboard draws:
//! `/_infermux/usage/series` (cost per bucket, split by model or provider) and
//! `/_infermux/usage/summary` (the cards).

use std::collections::BTreeMap;

use http::Response;
use infermux_core::{InferBody, Money, Month, PriceTable, Usage};
use infermux_request_log::{Filter, Forecast, GroupBy, burn_window, month_start};

use super::{
    logapi::{Failure, answer, log},
    params::{self, Accepts, millis, rfc3339},
};
use crate::accounting::Accounting;

/// Buckets a series may hold.
const MAX_BUCKETS: i64 = 2_000;

/// The default range: the current month (the budget period) up to now.
fn range(filter: &mut Filter, accounting: &Accounting) -> (i64, i64) {
    let now = accounting.clock().now();
    let since = *filter
        .since_ms
        .get_or_insert_with(|| millis(month_start(Month::of(now))));
    let until = filter.until_ms.unwrap_or_else(|| millis(now));
    (since, until)
}

/// `GET /_infermux/usage`.
pub(super) async fn usage(accounting: &Accounting, query: Option<&str>) -> Response<InferBody> {
    answer(
        async {
            let accepts = Accepts {
                group_by: true,
                ..Accepts::default()
            };
            let mut p = params::parse(query, accounting.clock().now(), accepts)
                .map_err(Failure::BadQuery)?;
            let group_by = p.group_by.unwrap_or(GroupBy::Model);
            let (since, until) = range(&mut p.filter, accounting);
            let log = log(accounting).await?;
            let report = log.store().usage(&p.filter, group_by).await?;
            let rows: Vec<_> = report.rows.iter().map(|r| r.to_json(true)).collect();
            Ok(serde_json::json!({
                "since": rfc3339(since),
                "until": rfc3339(until),
                "group_by": group_by.as_str(),
                "rows": rows,
                "total": report.total.to_json(false),
            }))
        }
        .await,
    )
}

/// The width in ms of a bucket name.
pub(super) fn bucket_ms(bucket: &str) -> Option<i64> {
    Some(match bucket {
        "5m" => 300_000,
        "15m" => 900_000,
        "30m" => 1_800_000,
        "1h" => 3_600_000,
        "1d" => 86_400_000,
        _ => return None,
    })
}

/// `GET /_infermux/usage/series?bucket=1h|1d&by=model|provider`: cost per bucket from
/// `since` to now, oldest first, every bucket present, one series per key.
pub(super) async fn series(accounting: &Accounting, query: Option<&str>) -> Response<InferBody> {
    answer(
        async {
            let accepts = Accepts {
                series: true,
                ..Accepts::default()
            };
            let mut p = params::parse(query, accounting.clock().now(), accepts)
                .map_err(Failure::BadQuery)?;
            let bucket = p.bucket.clone().unwrap_or_else(|| "1d".to_owned());
            let width = bucket_ms(&bucket).ok_or_else(|| {
                Failure::BadQuery(format!(
                    "`bucket` must be 5m, 15m, 30m, 1h or 1d, not `{bucket}`"
                ))
            })?;
            let (since, until) = range(&mut p.filter, accounting);
            let first = since.div_euclid(width) * width;
            let count = ((until - first) / width + 1).clamp(1, MAX_BUCKETS);
            let first = first.max(until.div_euclid(width) * width - (count - 1) * width);
            let log = log(accounting).await?;
            let points = log.store().series(&p.filter, width, p.by).await?.points;
            let mut by_key: BTreeMap<String, Vec<Money>> = BTreeMap::new();
            let mut requests = vec![0u64; usize::try_from(count).unwrap_or(1)];
            for (start, key, cost, n) in points {
                let Ok(i) = usize::try_from((start - first) / width) else {
                    continue;
                };
                if i >= requests.len() {
                    continue;
                }
                requests[i] += n;
                let key = key.as_deref().unwrap_or("(none)").to_owned();
                let values = by_key
                    .entry(key)
                    .or_insert_with(|| vec![Money::ZERO; requests.len()]);
                values[i] = values[i].saturating_add(cost);
            }
            let starts: Vec<String> = (0..count).map(|i| rfc3339(first + i * width)).collect();
            let series: Vec<_> = by_key
                .into_iter()
                .map(|(key, values)| {
                    let cost: Vec<f64> = values.iter().map(|m| m.as_usd_f64()).collect();
                    serde_json::json!({"key": key, "cost_usd": cost})
                })
                .collect();
            Ok(serde_json::json!({
                "bucket": bucket,
                "by": p.by.map(GroupBy::as_str),
                "starts": starts,
                "requests": requests,
                "series": series,
            }))
        }
        .await,
    )
}

/// `/_infermux/costs/timeseries` with a bucket other than `1h`: `hours` hours back from
/// now, in buckets of `bucket`, from the request log.
pub(super) async fn fine_timeseries(
    accounting: &Accounting,
    hours: u32,
    bucket: &'static str,
) -> Response<InferBody> {
    answer(
        async {
            let width = bucket_ms(bucket).unwrap_or(3_600_000);
            let now = millis(accounting.clock().now());
            let last = now.div_euclid(width) * width;
            let count = (i64::from(hours) * 3_600_000 / width).max(1);
            let first = last - (count - 1) * width;
            let filter = Filter {
                since_ms: Some(first),
                ..Filter::default()
            };
            let log = log(accounting).await?;
            let points = log.store().series(&filter, width, None).await?.points;
            let mut buckets = vec![(Money::ZERO, 0u64); usize::try_from(count).unwrap_or(1)];
            for (start, _, cost, n) in points {
                if let Ok(i) = usize::try_from((start - first) / width)
                    && let Some(b) = buckets.get_mut(i)
                {
                    b.0 = b.0.saturating_add(cost);
                    b.1 += n;
                }
            }
            let buckets: Vec<_> = buckets
                .iter()
                .enumerate()
                .map(|(i, (cost, n))| {
                    serde_json::json!({
                        "start": rfc3339(first + i as i64 * width),
                        "total_usd": cost.as_usd_f64(),
                        "requests": n,
                    })
                })
                .collect();
            Ok(serde_json::json!({"hours": hours, "bucket": bucket, "buckets": buckets}))
        }
        .await,
    )
}

/// `GET /_infermux/usage/summary`: the dashboard's cards for the filtered range: spend,
/// requests, tokens, errors, and what routing saved (each requested model's list price for
/// the tokens used, minus what was paid).
pub(super) async fn summary(
    accounting: &Accounting,
    prices: &PriceTable,
    query: Option<&str>,
) -> Response<InferBody> {
    answer(
        async {
            let mut p = params::parse(query, accounting.clock().now(), Accepts::default())
                .map_err(Failure::BadQuery)?;
            let (since, until) = range(&mut p.filter, accounting);
            let log = log(accounting).await?;
            let by_requested = log
                .store()
                .usage(&p.filter, GroupBy::RequestedModel)
                .await?;
            let (mut would_have, mut paid) = (Money::ZERO, Money::ZERO);
            for row in &by_requested.rows {
                let Some(price) = row.key.as_str().and_then(|m| prices.list_price(m)) else {
                    continue;
                };
                let usage = Usage {
                    prompt_tokens: row.prompt_tokens,
                    completion_tokens: row.completion_tokens,
                    cached_prompt_tokens: row.cached_tokens,
                    cache_creation_tokens: row.cache_write_tokens,
                    reasoning_tokens: row.reasoning_tokens,
                    ..Usage::default()
                };
                would_have = would_have.saturating_add(price.cost(&usage));
                paid = paid.saturating_add(row.cost);
            }
            // The month-end projection of the same filters (whatever the range).
            let now = accounting.clock().now();
            let window = burn_window(now);
            let month = Filter {
                since_ms: Some(millis(month_start(Month::of(now)))),
                until_ms: None,
                ..p.filter.clone()
            };
            let recent = Filter {
                since_ms: Some(millis(now) - i64::try_from(window.as_millis()).unwrap_or(0)),
                until_ms: None,
                ..p.filter.clone()
            };
            let month_spend = log.store().usage(&month, GroupBy::Caller).await?.total.cost;
            let recent_spend = log
                .store()
                .usage(&recent, GroupBy::Caller)
                .await?
                .total
                .cost;
            let projection = Forecast::project(now, month_spend, recent_spend, window, None);
            let total = &by_requested.total;
            Ok(serde_json::json!({
                "month_spend_usd": month_spend.as_usd_f64(),
                "projected_month_usd": projection.projected_month.as_usd_f64(),
                "burn_usd_per_day": projection.burn_per_day.as_usd_f64(),
                "since": rfc3339(since),
                "until": rfc3339(until),
                "spend_usd": total.cost.as_usd_f64(),
                "requests": total.requests,
                "errors": total.errors,
                "prompt_tokens": total.prompt_tokens,
                "completion_tokens": total.completion_tokens,
                "tokens": total.prompt_tokens + total.completion_tokens,
                "saved_usd": would_have.as_usd_f64() - paid.as_usd_f64(),
            }))
        }
        .await,
    )
}
