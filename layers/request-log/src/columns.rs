//! Reading the `requests` table's rows and usage sums, once for both stores: each store's
//! driver only says how it reads one column ([`ReadRow`]).

use std::sync::Arc;

use infermux_core::Money;

use crate::{GroupBy, RequestRecord, query::UsageSums};

/// One row of a query's answer, as a store's driver reads its columns (counted from 0).
pub(crate) trait ReadRow {
    /// The driver's error.
    type Error;

    /// A text column; `None` for `NULL`.
    fn text(&self, column: usize) -> Result<Option<String>, Self::Error>;

    /// An integer column; `None` for `NULL`.
    fn int(&self, column: usize) -> Result<Option<i64>, Self::Error>;

    /// A yes/no column (an integer in SQLite, a boolean in PostgreSQL).
    fn flag(&self, column: usize) -> Result<bool, Self::Error>;

    /// An integer column read as a count: `NULL` and negative values as 0.
    fn count(&self, column: usize) -> Result<u64, Self::Error> {
        Ok(self.int(column)?.map_or(0, uint))
    }
}

/// `v` as an `INTEGER` / `BIGINT` value (saturated).
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An `INTEGER` / `BIGINT` value read back as a count (a negative one as 0).
pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Reads `id` and then a row written in [`COLUMNS`](crate::store::COLUMNS) order. The
/// `NOT NULL` columns read as empty or 0 if a driver ever gave `NULL`.
pub(crate) fn record<C: ReadRow>(row: &C) -> Result<(i64, RequestRecord), C::Error> {
    let text = |i| -> Result<Option<Arc<str>>, C::Error> { Ok(row.text(i)?.map(Arc::from)) };
    let name = |i| -> Result<Arc<str>, C::Error> { Ok(text(i)?.unwrap_or_default()) };
    Ok((
        row.int(0)?.unwrap_or_default(),
        RequestRecord {
            at_ms: row.int(1)?.unwrap_or_default(),
            request_id: name(2)?,
            protocol: name(3)?,
            caller: name(4)?,
            key_id: text(5)?,
            requested_model: name(6)?,
            virtual_model: text(7)?,
            tier: text(8)?,
            route_group: text(9)?,
            provider: text(10)?,
            model: text(11)?,
            strategy: text(12)?,
            status: u16::try_from(row.count(13)?).unwrap_or(0),
            error_code: text(14)?,
            attempts: u32::try_from(row.count(15)?).unwrap_or(0),
            prompt_tokens: row.count(16)?,
            completion_tokens: row.count(17)?,
            cached_tokens: row.count(18)?,
            cache_write_tokens: row.count(19)?,
            reasoning_tokens: row.count(20)?,
            cost: Money::from_picos(row.count(21)?),
            estimated: row.flag(22)?,
            latency_ms: row.count(23)?,
            ttft_ms: row.int(24)?.map(uint),
            stream: row.flag(25)?,
            client: text(26)?,
        },
    ))
}

/// Reads a row of a cost series: bucket start (ms), series key, cost, requests.
pub(crate) fn point<C: ReadRow>(row: &C) -> Result<SeriesPoint, C::Error> {
    Ok((
        row.int(0)?.unwrap_or_default(),
        row.text(1)?.map(Arc::from),
        Money::from_picos(row.count(2)?),
        row.count(3)?,
    ))
}

/// One point of [`Bucketed`](crate::Bucketed).
type SeriesPoint = (i64, Option<Arc<str>>, Money, u64);

/// Reads a usage row: its group key (when grouped by `group_by`) and then the
/// [`SUMS`](crate::store::SUMS).
pub(crate) fn sums<C: ReadRow>(row: &C, group_by: Option<GroupBy>) -> Result<UsageSums, C::Error> {
    let (key, offset) = match group_by {
        Some(group_by) => (group_by.render(row.text(0)?), 1),
        None => (serde_json::Value::Null, 0),
    };
    let count = |i: usize| row.count(offset + i);
    Ok(UsageSums {
        key,
        requests: count(0)?,
        cost: Money::from_picos(count(1)?),
        prompt_tokens: count(2)?,
        completion_tokens: count(3)?,
        cached_tokens: count(4)?,
        cache_write_tokens: count(5)?,
        reasoning_tokens: count(6)?,
        errors: count(7)?,
    })
}
