//! What the usage queries ask: [`Filter`], [`GroupBy`], cursors, and the shapes they return.

use std::{fmt, str::FromStr, sync::Arc};

use infermux_core::Money;

use crate::RequestRecord;

/// Which rows a query covers; every field narrows it, `None` means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Rows at or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Rows before this time (ms since the Unix epoch).
    pub until_ms: Option<i64>,
    /// Only this caller.
    pub caller: Option<String>,
    /// Only this API key id.
    pub key: Option<String>,
    /// Only this model: the model sent, or the one asked for when none was sent.
    pub model: Option<String>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only these statuses.
    pub status: Option<StatusFilter>,
}

/// A status filter: one code (`429`), a class (`4xx`), `ok` (2xx) or `error` (>= 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusFilter {
    /// The lowest status matched.
    pub min: u16,
    /// The highest status matched.
    pub max: u16,
}

impl FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let range = |min, max| Ok(Self { min, max });
        match s {
            "ok" | "success" => range(200, 299),
            "error" | "failed" => range(400, 599),
            _ if s.len() == 3 && s.ends_with("xx") => match s.as_bytes()[0] {
                d @ b'1'..=b'5' => {
                    let base = u16::from(d - b'0') * 100;
                    range(base, base + 99)
                }
                _ => Err(format!(
                    "`status={s}`: use a code (429), a class (4xx), ok or error"
                )),
            },
            _ => match s.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => range(code, code),
                _ => Err(format!(
                    "`status={s}`: use a code (429), a class (4xx), ok or error"
                )),
            },
        }
    }
}

/// What usage rows are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// The model sent (or asked for, when none was sent).
    Model,
    /// The provider that answered.
    Provider,
    /// The caller.
    Caller,
    /// The API key id.
    Key,
    /// The route group.
    Group,
    /// The virtual model asked for.
    VirtualModel,
    /// The hour of the day, 0–23 UTC.
    HourOfDay,
    /// The UTC day (`2026-03-14`).
    Day,
    /// The UTC hour (`2026-03-14T10:00:00Z`).
    Hour,
    /// The model the client asked for (before routing, aliases and overrides).
    RequestedModel,
}

impl GroupBy {
    /// Every grouping, by its query name.
    pub const ALL: [(&'static str, Self); 10] = [
        ("model", Self::Model),
        ("provider", Self::Provider),
        ("caller", Self::Caller),
        ("key", Self::Key),
        ("group", Self::Group),
        ("virtual_model", Self::VirtualModel),
        ("hour_of_day", Self::HourOfDay),
        ("day", Self::Day),
        ("hour", Self::Hour),
        ("requested_model", Self::RequestedModel),
    ];

    /// The query name (`hour_of_day`).
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("model", |(name, _)| name)
    }

    /// The SQL expression of the group key (the same in SQLite and PostgreSQL).
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Model => "COALESCE(model, requested_model)",
            Self::Provider => "provider",
            Self::Caller => "caller",
            Self::Key => "key_id",
            Self::Group => "route_group",
            Self::VirtualModel => "virtual_model",
            Self::HourOfDay => "CAST(((at_ms / 3600000) % 24) AS TEXT)",
            Self::Day => "CAST((at_ms / 86400000) AS TEXT)",
            Self::Hour => "CAST((at_ms / 3600000) AS TEXT)",
            Self::RequestedModel => "requested_model",
        }
    }

    /// Renders a group key from its SQL form.
    pub(crate) fn render(self, raw: Option<String>) -> serde_json::Value {
        let Some(raw) = raw else {
            return serde_json::Value::Null;
        };
        let number = raw.parse::<u64>().unwrap_or(0);
        let time = |secs| {
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            )
            .to_string()
        };
        match self {
            Self::HourOfDay => serde_json::Value::from(number),
            Self::Day => serde_json::Value::from(time(number * 86_400)[..10].to_owned()),
            Self::Hour => serde_json::Value::from(time(number * 3_600)),
            _ => serde_json::Value::from(raw),
        }
    }
}

impl FromStr for GroupBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, g)| *g)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!("`group_by={s}`: use one of {}", names.join(", "))
            })
    }
}

/// Where a page of `/requests` ends: the last row's time and id; the next page starts
/// strictly after it (older).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The last row's time (ms).
    pub at_ms: i64,
    /// The last row's store id.
    pub id: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.at_ms, self.id)
    }
}

impl FromStr for Cursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`cursor={s}` is not a cursor from `next_cursor`");
        let (at, id) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            at_ms: at.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// One page of `/requests`, newest first.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The rows.
    pub rows: Vec<RequestRecord>,
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
}

impl Page {
    /// The page of a query that asked for `limit + 1` rows (each with its row id, newest
    /// first): the first `limit`, and a cursor after the last of them when there were more.
    pub(crate) fn from_rows(mut rows: Vec<(i64, RequestRecord)>, limit: usize) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|(id, r)| Cursor {
                at_ms: r.at_ms,
                id: *id,
            })
        } else {
            None
        };
        Self {
            rows: rows.into_iter().map(|(_, r)| r).collect(),
            next,
        }
    }
}

/// Sums over a set of rows: one usage row, or the total.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageSums {
    /// The group key (null for rows without one; the total has none).
    pub key: serde_json::Value,
    /// Exact cost.
    pub cost: Money,
    /// Requests.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Cache-write tokens.
    pub cache_write_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Requests that failed or were refused (status >= 400).
    pub errors: u64,
}

impl UsageSums {
    /// The JSON object of a usage row (`key` included unless it is the total).
    pub fn to_json(&self, with_key: bool) -> serde_json::Value {
        let mut value = serde_json::json!({
            "cost_usd": self.cost.as_usd_f64(),
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "errors": self.errors,
        });
        if with_key && let Some(map) = value.as_object_mut() {
            map.insert("key".into(), self.key.clone());
        }
        value
    }
}

/// The answer to a usage query: rows by group (highest cost first) and their total.
#[derive(Clone, Debug, Default)]
pub struct UsageReport {
    /// One row per group key.
    pub rows: Vec<UsageSums>,
    /// The sums over every row; equal to the sum of `rows`.
    pub total: UsageSums,
}

/// Rows of one group for a cost time series, bucketed by `bucket_ms`.
#[derive(Clone, Debug, Default)]
pub struct Bucketed {
    /// (bucket start in ms, series key, cost, requests).
    pub points: Vec<(i64, Option<Arc<str>>, Money, u64)>,
}
