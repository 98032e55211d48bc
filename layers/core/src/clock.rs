//! Wall-clock time as a handle, so that month rollover and hourly buckets can be tested.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's real-time clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one time: for tests, and for replaying what a past day looked like.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// A UTC calendar month, the budget period: `2026-03`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Months since year 0: `year * 12 + (month - 1)`.
    index: u32,
}

impl Month {
    /// The month `month` (1–12) of `year`; `None` for a month outside 1–12.
    pub fn new(year: u32, month: u32) -> Option<Self> {
        (1..=12).contains(&month).then_some(Self {
            index: year * 12 + month - 1,
        })
    }

    /// The UTC month that `time` falls in.
    ///
    /// Every request's cost is dated, so the month of the current hour is remembered: only
    /// the first call in each hour works out the calendar.
    pub fn of(time: SystemTime) -> Self {
        static LAST: AtomicU64 = AtomicU64::new(u64::MAX);
        let hour = Hour::of(time).0;
        let last = LAST.load(Ordering::Relaxed);
        if last != u64::MAX && last >> 32 == hour {
            return Self { index: last as u32 };
        }
        let rendered = humantime::format_rfc3339_seconds(time).to_string();
        let month = Self::parse(&rendered[..7]).unwrap_or(Self { index: 1970 * 12 });
        if hour < 1 << 32 {
            LAST.store(hour << 32 | u64::from(month.index), Ordering::Relaxed);
        }
        month
    }

    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        Self::new(year.parse().ok()?, month.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> u32 {
        self.index / 12
    }

    /// The month of the year, 1–12.
    pub fn month(self) -> u32 {
        self.index % 12 + 1
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl fmt::Debug for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An hour since the Unix epoch: the key of hourly cost buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour(pub u64);

impl Hour {
    /// The hour that `time` falls in.
    pub fn of(time: SystemTime) -> Self {
        Self(
            time.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
                / 3600,
        )
    }

    /// The start of the hour.
    pub fn start(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0 * 3600)
    }

    /// The start of the hour in RFC 3339: `2026-03-14T10:00:00Z`.
    pub fn to_rfc3339(self) -> String {
        humantime::format_rfc3339_seconds(self.start()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        let march = humantime::parse_rfc3339("2026-03-31T23:59:59Z").expect("valid");
        assert_eq!(Month::of(march).to_string(), "2026-03");
        assert_eq!(
            Month::of(march + Duration::from_secs(1)).to_string(),
            "2026-04"
        );
        assert_eq!(Month::parse("2026-12").map(|m| m.month()), Some(12));
        assert!(Month::parse("2026-13").is_none());
        assert!(Month::parse("26-01").is_none());
        assert!(Month::parse("2026-02").expect("valid") < Month::parse("2027-01").expect("valid"));
    }

    #[test]
    fn hours_start_on_the_hour() {
        let t = humantime::parse_rfc3339("2026-03-14T10:59:59Z").expect("valid");
        assert_eq!(Hour::of(t).to_rfc3339(), "2026-03-14T10:00:00Z");
    }
}
