//! The key layout: every key of a month carries the month, in a hash tag, and expires after it.
//!
//! ```text
//! infermux:{2026-03}:reserved             hash  caller -> pico-USD held by in-flight requests
//! infermux:{2026-03}:totals               hash  cost, requests, unpriced
//! infermux:{2026-03}:provider             hash  provider -> pico-USD
//! infermux:{2026-03}:model                hash  model sent upstream -> pico-USD
//! infermux:{2026-03}:group                hash  route group -> pico-USD
//! infermux:{2026-03}:caller:cost          hash  caller -> pico-USD (the budgets read this)
//! infermux:{2026-03}:caller:requests      hash  caller -> requests
//! infermux:{2026-03}:caller:prompt        hash  caller -> prompt tokens
//! infermux:{2026-03}:caller:completion    hash  caller -> completion tokens
//! infermux:{2026-03}:caller:cached        hash  caller -> cached prompt tokens
//! infermux:{2026-03}:hour:<hours since epoch>  hash  cost, requests
//! infermux:{2026-03}:settled:<at>:<request id>  string, marks one settlement as counted
//! infermux:{2026-03}:hold:<reservation>          string, one reservation's amount
//! ```
//!
//! The hash tag `{2026-03}` would put a month's keys in one Redis Cluster slot, so that each
//! Lua script touches keys of a single slot; the store talks to one Redis primary today. Month keys live until [`MONTH_RETENTION`] after the month
//! ends; hour buckets until [`HOUR_RETENTION`] after the hour starts (the timeseries report
//! reaches back at most 31 days).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use infermux_core::{Hour, Month};

/// How long a month's keys outlive the month, so last month's report stays readable.
pub(crate) const MONTH_RETENTION: Duration = Duration::from_secs(35 * 86_400);

/// How long an hour bucket lives after the hour starts (at least the 31 days a report shows).
pub(crate) const HOUR_RETENTION: Duration = Duration::from_secs(35 * 86_400);

/// The shortest expiry given to any key, for entries replayed long after their month.
const MIN_TTL: Duration = Duration::from_secs(86_400);

/// The keys of one month.
#[derive(Clone, Debug)]
pub(crate) struct MonthKeys {
    /// `infermux:{2026-03}:`
    prefix: String,
}

impl MonthKeys {
    /// The keys of `month`.
    pub(crate) fn new(namespace: &str, month: Month) -> Self {
        Self {
            prefix: format!("{namespace}:{{{month}}}:"),
        }
    }

    /// The key `infermux:{month}:<name>`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The idempotency marker of one settlement: its request id and the instant its cost
    /// became known (nanoseconds since the epoch). A replay of the entry carries both and
    /// finds the marker; another request that reuses a client's `X-Request-Id` does not, and
    /// is counted, since it cost money too.
    pub(crate) fn settled(&self, request_id: &str, at: SystemTime) -> String {
        let nanos = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        format!("{}settled:{nanos}:{request_id}", self.prefix)
    }

    /// The hold marker of one reservation.
    pub(crate) fn hold(&self, reservation: &str) -> String {
        format!("{}hold:{reservation}", self.prefix)
    }

    /// The bucket of `hour` (which must fall in this month).
    pub(crate) fn hour(&self, hour: Hour) -> String {
        format!("{}hour:{}", self.prefix, hour.0)
    }
}

/// The bucket key of `hour`, under the month it falls in.
pub(crate) fn hour_key(namespace: &str, hour: Hour) -> String {
    MonthKeys::new(namespace, Month::of(hour.start())).hour(hour)
}

/// Seconds until the keys of `month` expire, counted from `now`.
pub(crate) fn month_ttl(month: Month, now: SystemTime) -> u64 {
    ttl_until(month_end(month) + MONTH_RETENTION, now)
}

/// Seconds until the bucket of `hour` expires, counted from `now`.
pub(crate) fn hour_ttl(hour: Hour, now: SystemTime) -> u64 {
    ttl_until(hour.start() + HOUR_RETENTION, now)
}

fn ttl_until(expiry: SystemTime, now: SystemTime) -> u64 {
    expiry
        .duration_since(now)
        .unwrap_or_default()
        .max(MIN_TTL)
        .as_secs()
}

/// The first instant after `month`.
fn month_end(month: Month) -> SystemTime {
    let (year, next) = match month.month() {
        12 => (month.year() + 1, 1),
        m => (month.year(), m + 1),
    };
    // A valid month always renders a valid timestamp; the fallback keeps the keys a while.
    humantime::parse_rfc3339(&format!("{year:04}-{next:02}-01T00:00:00Z"))
        .unwrap_or_else(|_| SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).expect("valid time")
    }

    #[test]
    fn keys_carry_the_month_in_a_hash_tag() {
        let march = Month::parse("2026-03").expect("valid");
        let keys = MonthKeys::new("infermux", march);
        assert_eq!(keys.key("reserved"), "infermux:{2026-03}:reserved");
        let settled_at = UNIX_EPOCH + Duration::new(1_773_446_400, 5);
        assert_eq!(
            keys.settled("req-1", settled_at),
            "infermux:{2026-03}:settled:1773446400000000005:req-1"
        );
        let hour = Hour::of(at("2026-03-31T23:30:00Z"));
        assert_eq!(
            hour_key("infermux", hour),
            format!("infermux:{{2026-03}}:hour:{}", hour.0)
        );
        let next = Hour(hour.0 + 1);
        assert!(hour_key("infermux", next).starts_with("infermux:{2026-04}:hour:"));
    }

    #[test]
    fn month_keys_expire_after_the_month_and_hours_after_31_days() {
        let march = Month::parse("2026-03").expect("valid");
        let mid_march = at("2026-03-15T00:00:00Z");
        // 17 days left in March, then the retention.
        assert_eq!(month_ttl(march, mid_march), (17 + 35) * 86_400);
        let december = Month::parse("2026-12").expect("valid");
        assert_eq!(
            month_ttl(december, at("2026-12-31T00:00:00Z")),
            (1 + 35) * 86_400
        );
        let hour = Hour::of(mid_march);
        assert!(hour_ttl(hour, mid_march) >= 31 * 86_400);
        // A replay long after the month still gets a positive expiry.
        assert_eq!(month_ttl(march, at("2027-01-01T00:00:00Z")), 86_400);
    }
}
