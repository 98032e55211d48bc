//! [`Forecast`]: burn rate and month-end projection from recent spend; plain arithmetic,
//! unit-tested apart from any store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use infermux_core::{Money, Month};

/// The window burn rates are measured over: the last 7 days, or the month so far when
/// shorter (never under an hour, so a first request does not project wildly).
pub fn burn_window(now: SystemTime) -> Duration {
    let month_start = month_start(Month::of(now));
    let so_far = now.duration_since(month_start).unwrap_or_default();
    so_far.clamp(Duration::from_secs(3600), Duration::from_secs(7 * 86_400))
}

/// One caller's or key's projection for the month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forecast {
    /// Spent so far this month.
    pub spent: Money,
    /// The monthly budget, if any.
    pub budget: Option<Money>,
    /// Spend per day at the recent rate.
    pub burn_per_day: Money,
    /// `spent` plus the recent rate until the end of the month.
    pub projected_month: Money,
    /// The UTC day the budget runs out at this rate, when that is within the month.
    pub exhaustion: Option<SystemTime>,
}

impl Forecast {
    /// Projects `spent` (this month) with `recent` spend over `window` up to `now`.
    pub fn project(
        now: SystemTime,
        spent: Money,
        recent: Money,
        window: Duration,
        budget: Option<Money>,
    ) -> Self {
        let window_ms = window.as_millis().max(1);
        let day_ms: u128 = 86_400_000;
        let burn = u128::from(recent.picos()) * day_ms / window_ms;
        let burn_per_day = Money::from_picos(u64::try_from(burn).unwrap_or(u64::MAX));
        let end = month_start(next(Month::of(now)));
        let left_ms = end.duration_since(now).unwrap_or_default().as_millis();
        let more = u128::from(recent.picos()) * left_ms / window_ms;
        let projected_month =
            spent.saturating_add(Money::from_picos(u64::try_from(more).unwrap_or(u64::MAX)));
        let exhaustion = budget.and_then(|budget| {
            if spent >= budget {
                return Some(now);
            }
            if recent == Money::ZERO {
                return None;
            }
            let gap = u128::from(budget.picos() - spent.picos());
            let ms = gap * window_ms / u128::from(recent.picos());
            let at = now + Duration::from_millis(u64::try_from(ms).ok()?);
            (at < end).then_some(at)
        });
        Self {
            spent,
            budget,
            burn_per_day,
            projected_month,
            exhaustion,
        }
    }

    /// Whether the month-end projection reaches the budget.
    pub fn crosses_budget(&self) -> bool {
        self.budget.is_some_and(|b| self.projected_month >= b)
    }

    /// The JSON fields of a `/forecast` entry (without its name).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        map.insert("spent_usd".into(), self.spent.as_usd_f64().into());
        map.insert(
            "budget_usd".into(),
            self.budget.map(Money::as_usd_f64).into(),
        );
        map.insert(
            "burn_usd_per_day".into(),
            self.burn_per_day.as_usd_f64().into(),
        );
        map.insert(
            "projected_month_usd".into(),
            self.projected_month.as_usd_f64().into(),
        );
        map.insert(
            "projected_exhaustion".into(),
            self.exhaustion.map(day).into(),
        );
        map
    }
}

/// The UTC day of `time`: `2026-03-21`.
pub fn day(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()[..10].to_owned()
}

/// The first instant of `month` (UTC).
pub fn month_start(month: Month) -> SystemTime {
    let (y, m) = (i64::from(month.year()), i64::from(month.month()));
    // Days from the civil date (Howard Hinnant's algorithm), day 1 of the month.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs(u64::try_from(days * 86_400).unwrap_or(0))
}

fn next(month: Month) -> Month {
    let (y, m) = (month.year(), month.month());
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Month::new(y, m).unwrap_or(month)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).expect("time")
    }

    #[test]
    fn month_starts_are_utc_midnights() {
        for s in [
            "2026-03-14T10:00:00Z",
            "2024-02-29T23:59:59Z",
            "2026-12-31T00:00:00Z",
        ] {
            let start = month_start(Month::of(at(s)));
            assert_eq!(
                &humantime::format_rfc3339_seconds(start).to_string()[..7],
                &s[..7]
            );
            assert!(
                humantime::format_rfc3339_seconds(start)
                    .to_string()
                    .ends_with("-01T00:00:00Z")
            );
        }
    }

    #[test]
    fn a_steady_burn_projects_to_month_end_and_dates_exhaustion() {
        let now = at("2026-03-11T00:00:00Z");
        // $1 a day over the last 7 days; $10 spent; $20 budget: out on the 21st.
        let f = Forecast::project(
            now,
            Money::from_usd(10.0).expect("usd"),
            Money::from_usd(7.0).expect("usd"),
            Duration::from_secs(7 * 86_400),
            Money::from_usd(20.0),
        );
        assert_eq!(f.burn_per_day, Money::from_usd(1.0).expect("usd"));
        // 21 days left in March.
        assert_eq!(f.projected_month, Money::from_usd(31.0).expect("usd"));
        assert_eq!(f.exhaustion.map(day).as_deref(), Some("2026-03-21"));
        assert!(f.crosses_budget());
    }

    #[test]
    fn no_exhaustion_within_the_month_is_null() {
        let now = at("2026-03-30T00:00:00Z");
        let f = Forecast::project(
            now,
            Money::from_usd(1.0).expect("usd"),
            Money::from_usd(1.0).expect("usd"),
            Duration::from_secs(86_400),
            Money::from_usd(100.0),
        );
        assert_eq!(f.exhaustion, None);
        assert!(!f.crosses_budget());
        assert_eq!(
            burn_window(at("2026-03-01T00:10:00Z")),
            Duration::from_secs(3600)
        );
        assert_eq!(burn_window(now), Duration::from_secs(7 * 86_400));
    }
}
