//! The operational keys: the edge's timeouts (`header_read_timeout`, `body_read_timeout`,
//! `idle_timeout`), the bound on metric labels (`metrics: {max_callers}`) and trace export
//! (`telemetry: {otlp_endpoint, service_name, sample_ratio}`).
//!
//! They live apart from the routing and money keys because they are about running infermux
//! in front of clients that cannot be trusted to behave, not about where requests go.

use std::time::Duration;

use serde::Deserialize;

use super::duration::Humane;
use super::error::Issue;

/// `header_read_timeout` when the file sets none.
pub(super) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `body_read_timeout` when the file sets none.
pub(super) const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// `idle_timeout` when the file sets none.
pub(super) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// `metrics.max_callers` when the file sets none.
pub(super) const DEFAULT_MAX_CALLERS: usize = 100;
/// A provider's `max_cooldown` when the file sets none.
pub const DEFAULT_MAX_COOLDOWN: Duration = Duration::from_secs(300);

/// How long the proxy port waits on a client before it gives up on the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeTimeouts {
    /// From the start of an HTTP/1 request (or the end of the previous response on a
    /// kept-alive connection, so this is also the keep-alive timeout) to the end of its
    /// headers (`header_read_timeout`, default 10s). A client that sends its headers a byte at
    /// a time (slowloris) is cut here.
    pub header_read: Duration,
    /// To read a whole request body (`body_read_timeout`, default 30s); a body still arriving
    /// after it gets 408.
    pub body_read: Duration,
    /// A connection with no request in flight and no byte moving for this long is closed
    /// (`idle_timeout`, default 60s).
    pub idle: Duration,
}

impl Default for EdgeTimeouts {
    fn default() -> Self {
        Self {
            header_read: DEFAULT_HEADER_READ_TIMEOUT,
            body_read: DEFAULT_BODY_READ_TIMEOUT,
            idle: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Bounds on the metrics' label sets (`metrics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Callers without a configured budget beyond this many distinct ones are counted as
    /// `other` (`max_callers`, default 100).
    pub max_callers: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            max_callers: DEFAULT_MAX_CALLERS,
        }
    }
}

/// Where and how traces are exported (`telemetry`).
#[derive(Clone, Debug, PartialEq)]
pub struct TelemetryConfig {
    /// The OTLP/HTTP collector's root (`http://127.0.0.1:4318`); traces go to its
    /// `/v1/traces`. No endpoint: no traces are exported (incoming `traceparent` headers are
    /// still passed upstream).
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans (default `infermux`).
    pub service_name: String,
    /// The share of new traces recorded, in [0, 1] (default 1.0); a trace continued from an
    /// incoming `traceparent` follows its parent's sampling decision.
    pub sample_ratio: f64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "infermux".to_owned(),
            sample_ratio: 1.0,
        }
    }
}

/// `telemetry` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTelemetry {
    pub(super) otlp_endpoint: Option<String>,
    pub(super) service_name: Option<String>,
    pub(super) sample_ratio: Option<f64>,
}

/// `telemetry`, checked, defaults filled in.
pub(super) fn telemetry(file: Option<FileTelemetry>) -> Result<TelemetryConfig, Issue> {
    let defaults = TelemetryConfig::default();
    let Some(file) = file else {
        return Ok(defaults);
    };
    let otlp_endpoint = file
        .otlp_endpoint
        .map(|e| e.trim().trim_end_matches('/').to_owned())
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = &otlp_endpoint {
        let parsed = endpoint.parse::<http::Uri>().ok();
        let scheme = parsed.as_ref().and_then(http::Uri::scheme_str);
        if !matches!(scheme, Some("http")) || parsed.and_then(|u| u.host().map(str::len)).is_none()
        {
            return Err(Issue::new(
                "telemetry.otlp_endpoint",
                "the endpoint is not an http:// URL",
                "give the collector's OTLP/HTTP root, such as \"http://127.0.0.1:4318\" \
                 (traces are posted to its /v1/traces)",
            ));
        }
    }
    let sample_ratio = file.sample_ratio.unwrap_or(defaults.sample_ratio);
    if !(0.0..=1.0).contains(&sample_ratio) {
        return Err(Issue::new(
            "telemetry.sample_ratio",
            format!("the ratio {sample_ratio} is not between 0 and 1"),
            "give the share of traces to record, such as 1.0 (all) or 0.1",
        ));
    }
    let service_name = file
        .service_name
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or(defaults.service_name);
    Ok(TelemetryConfig {
        otlp_endpoint,
        service_name,
        sample_ratio,
    })
}

/// `metrics` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMetrics {
    pub(super) max_callers: Option<usize>,
}

/// The three timeouts, each above 0.
pub(super) fn edge_timeouts(
    header_read: Option<Humane>,
    body_read: Option<Humane>,
    idle: Option<Humane>,
) -> Result<EdgeTimeouts, Issue> {
    let defaults = EdgeTimeouts::default();
    Ok(EdgeTimeouts {
        header_read: positive("header_read_timeout", header_read, defaults.header_read)?,
        body_read: positive("body_read_timeout", body_read, defaults.body_read)?,
        idle: positive("idle_timeout", idle, defaults.idle)?,
    })
}

/// `metrics`, defaults filled in.
pub(super) fn metrics(file: Option<FileMetrics>) -> MetricsConfig {
    MetricsConfig {
        max_callers: file
            .and_then(|m| m.max_callers)
            .unwrap_or(DEFAULT_MAX_CALLERS),
    }
}

/// A provider's `max_cooldown`, above 0.
pub(super) fn max_cooldown(path: &str, value: Option<Humane>) -> Result<Duration, Issue> {
    positive(path, value, DEFAULT_MAX_COOLDOWN)
}

fn positive(path: &str, value: Option<Humane>, default: Duration) -> Result<Duration, Issue> {
    let duration = value.map_or(default, |d| d.0);
    if duration.is_zero() {
        return Err(Issue::new(
            path,
            "the duration is 0",
            "give a duration above 0, such as \"10s\"",
        ));
    }
    Ok(duration)
}
