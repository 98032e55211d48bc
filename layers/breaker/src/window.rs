//! The sliding window of outcomes: a ring of time slices with running totals.

use std::time::Duration;

use tokio::time::Instant;

/// Slices per window: the window slides in steps of `window / SLICES`.
pub(crate) const SLICES: usize = 20;

/// Counts over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Outcomes counted.
    pub requests: u32,
    /// Of which failures.
    pub errors: u32,
    /// Of which at or over the p95 latency threshold.
    pub slow: u32,
}

impl WindowStats {
    /// Failures / outcomes, 0.0 for an empty window.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            f64::from(self.errors) / f64::from(self.requests)
        }
    }

    /// Whether the nearest-rank 95th percentile latency is at or over the threshold: at
    /// least `requests - ceil(0.95 * requests) + 1` outcomes were slow.
    pub fn p95_reached(&self) -> bool {
        let n = u64::from(self.requests);
        let rank = (95 * n).div_ceil(100);
        n > 0 && u64::from(self.slow) > n - rank
    }

    fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.slow += other.slow;
    }

    fn sub(&mut self, other: &Self) {
        self.requests -= other.requests;
        self.errors -= other.errors;
        self.slow -= other.slow;
    }
}

/// Outcomes of the last `window`, in [`SLICES`] slices.
#[derive(Debug)]
pub(crate) struct Window {
    origin: Instant,
    slice: Duration,
    slices: [WindowStats; SLICES],
    /// Absolute index (slices since `origin`) of the newest slice.
    head: u64,
    totals: WindowStats,
}

impl Window {
    pub(crate) fn new(window: Duration, now: Instant) -> Self {
        let slice = (window / SLICES as u32).max(Duration::from_micros(1));
        Self {
            origin: now,
            slice,
            slices: [WindowStats::default(); SLICES],
            head: 0,
            totals: WindowStats::default(),
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.slice.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Drops the slices that slid out of the window by `now`.
    fn advance(&mut self, now: Instant) {
        let index = self.index(now);
        if index <= self.head {
            return;
        }
        let expired = (index - self.head).min(SLICES as u64);
        for step in 1..=expired {
            let slot = ((self.head + step) % SLICES as u64) as usize;
            let old = std::mem::take(&mut self.slices[slot]);
            self.totals.sub(&old);
        }
        self.head = index;
    }

    pub(crate) fn record(&mut self, now: Instant, failed: bool, slow: bool) {
        self.advance(now);
        let sample = WindowStats {
            requests: 1,
            errors: u32::from(failed),
            slow: u32::from(slow),
        };
        self.slices[(self.head % SLICES as u64) as usize].add(&sample);
        self.totals.add(&sample);
    }

    pub(crate) fn stats(&mut self, now: Instant) -> WindowStats {
        self.advance(now);
        self.totals
    }

    pub(crate) fn reset(&mut self) {
        self.slices = [WindowStats::default(); SLICES];
        self.totals = WindowStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_reached_when_more_than_five_percent_are_slow() {
        let stats = |requests, slow| WindowStats {
            requests,
            errors: 0,
            slow,
        };
        assert!(!stats(0, 0).p95_reached());
        assert!(stats(4, 1).p95_reached());
        assert!(!stats(20, 1).p95_reached());
        assert!(stats(20, 2).p95_reached());
        assert!(!stats(100, 5).p95_reached());
        assert!(stats(100, 6).p95_reached());
    }

    #[tokio::test(start_paused = true)]
    async fn outcomes_slide_out_after_the_window() {
        let start = Instant::now();
        let mut window = Window::new(Duration::from_secs(20), start);
        window.record(start, true, false);
        window.record(start + Duration::from_secs(10), false, true);
        let stats = window.stats(start + Duration::from_secs(19));
        assert_eq!((stats.requests, stats.errors, stats.slow), (2, 1, 1));
        let stats = window.stats(start + Duration::from_secs(20));
        assert_eq!((stats.requests, stats.errors, stats.slow), (1, 0, 1));
        let stats = window.stats(start + Duration::from_secs(3600));
        assert_eq!(stats, WindowStats::default());
    }
}
