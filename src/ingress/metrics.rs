//! The request metrics' handles, registered once per (endpoint, status).
//!
//! Resolving a labelled metric through the recorder hashes its key and looks it up in the
//! recorder's registry; the handles of each (endpoint, status) are therefore kept here, so a
//! served request only bumps an atomic and records into a histogram it already holds. Both
//! labels are `'static` and few, so the map stays small.

use std::sync::{PoisonError, RwLock};

use hashbrown::HashMap;

use metrics::{Counter, Histogram};

/// The labels of one series: the endpoint and the status.
type Labels = (&'static str, &'static str);

/// `infermux_requests_total{endpoint,status}` and
/// `infermux_request_duration_seconds{endpoint}`, by their labels.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    series: RwLock<HashMap<Labels, (Counter, Histogram)>>,
}

impl RequestMetrics {
    /// Counts one request to `endpoint` answered with `status`, which took `seconds`.
    pub(crate) fn record(&self, endpoint: &'static str, status: &'static str, seconds: f64) {
        let key = (endpoint, status);
        if let Some((count, duration)) = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            count.increment(1);
            duration.record(seconds);
            return;
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let (count, duration) = series.entry(key).or_insert_with(|| {
            (
                metrics::counter!("infermux_requests_total",
                    "endpoint" => endpoint, "status" => status),
                metrics::histogram!("infermux_request_duration_seconds", "endpoint" => endpoint),
            )
        });
        count.increment(1);
        duration.record(seconds);
    }
}
