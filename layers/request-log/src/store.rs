//! [`RequestStore`]: where request rows are kept and queried.

use std::{future::Future, pin::Pin};

use crate::{Bucketed, Cursor, Filter, GroupBy, Page, RequestRecord, UsageReport};

/// A boxed future of a store operation.
pub type LogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LogError>> + Send + 'a>>;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[error("request log store: {0}")]
pub struct LogError(pub(crate) String);

impl LogError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// What went wrong, without the `request log store:` prefix.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Where the request log keeps its rows: SQLite embedded, PostgreSQL for a fleet.
///
/// Every store answers the same queries with the same results: the usage sums are exact
/// integers (pico-USD), so they equal the cost ledger's to the last digit.
pub trait RequestStore: Send + Sync + 'static {
    /// Appends `rows` in one transaction. They are given, not lent: an embedded store writes
    /// them on a blocking thread, and copying every row's strings for it costs more than the
    /// write.
    fn insert(&self, rows: Vec<RequestRecord>) -> LogFuture<'_, ()>;

    /// Up to `limit` rows matching `filter`, newest first, after `cursor`.
    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> LogFuture<'a, Page>;

    /// Sums of the rows matching `filter`, grouped by `group_by`.
    fn usage<'a>(&'a self, filter: &'a Filter, group_by: GroupBy) -> LogFuture<'a, UsageReport>;

    /// Cost and requests of the rows matching `filter`, in buckets of `bucket_ms` and, when
    /// `by` is given, split by that key.
    fn series<'a>(
        &'a self,
        filter: &'a Filter,
        bucket_ms: i64,
        by: Option<GroupBy>,
    ) -> LogFuture<'a, Bucketed>;

    /// Deletes rows older than `before_ms`; returns how many.
    fn prune(&self, before_ms: i64) -> LogFuture<'_, u64>;
}

/// The WHERE clause of `filter` with `?`-style placeholders numbered from 1 (`$1` when
/// `dollar`), and its parameters in order.
pub(crate) fn where_clause(filter: &Filter, dollar: bool) -> (String, Vec<SqlParam>) {
    let mut parts = Vec::new();
    let mut params = Vec::new();
    let mut push = |sql: &str, values: Vec<SqlParam>| {
        let mut pieces = sql.split('?');
        let mut out = pieces.next().unwrap_or_default().to_owned();
        for (value, piece) in values.into_iter().zip(pieces) {
            params.push(value);
            if dollar {
                out.push('$');
            } else {
                out.push('?');
            }
            out.push_str(&params.len().to_string());
            out.push_str(piece);
        }
        parts.push(out);
    };
    if let Some(since) = filter.since_ms {
        push("at_ms >= ?", vec![SqlParam::Int(since)]);
    }
    if let Some(until) = filter.until_ms {
        push("at_ms < ?", vec![SqlParam::Int(until)]);
    }
    if let Some(caller) = &filter.caller {
        push("caller = ?", vec![SqlParam::Text(caller.clone())]);
    }
    if let Some(key) = &filter.key {
        push("key_id = ?", vec![SqlParam::Text(key.clone())]);
    }
    if let Some(model) = &filter.model {
        push(
            "COALESCE(model, requested_model) = ?",
            vec![SqlParam::Text(model.clone())],
        );
    }
    if let Some(provider) = &filter.provider {
        push("provider = ?", vec![SqlParam::Text(provider.clone())]);
    }
    if let Some(status) = filter.status {
        push(
            "status BETWEEN ? AND ?",
            vec![
                SqlParam::Int(i64::from(status.min)),
                SqlParam::Int(i64::from(status.max)),
            ],
        );
    }
    if parts.is_empty() {
        (String::from("1=1"), params)
    } else {
        (parts.join(" AND "), params)
    }
}

/// A query parameter.
#[derive(Clone, Debug)]
pub(crate) enum SqlParam {
    Int(i64),
    Text(String),
}

/// The columns of a row, in the order every store writes and reads them.
pub(crate) const COLUMNS: &str = "at_ms, request_id, protocol, caller, key_id, requested_model, virtual_model, tier, route_group, provider, model, strategy, status, error_code, attempts, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_picos, estimated, latency_ms, ttft_ms, stream, client";

/// How many [`COLUMNS`] there are: the values of one row.
pub(crate) const COLUMN_COUNT: usize = {
    let names = COLUMNS.as_bytes();
    let (mut i, mut commas) = (0, 0);
    while i < names.len() {
        if names[i] == b',' {
            commas += 1;
        }
        i += 1;
    }
    commas + 1
};

/// The sums every usage query computes, after the group key.
pub(crate) const SUMS: &str = "COUNT(*), COALESCE(SUM(cost_picos),0), COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0), COALESCE(SUM(cached_tokens),0), COALESCE(SUM(cache_write_tokens),0), COALESCE(SUM(reasoning_tokens),0), COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END),0)";
