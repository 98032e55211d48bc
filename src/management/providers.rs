//! `GET /_infermux/providers`: every provider's live status, in declared order.
//!
//! ```json
//! {"providers":[{"name":"openai","type":"openai","circuit":"closed","healthy":true,
//!   "latency_ewma_ms":412.0,"error_rate":0.0,"requests":120}]}
//! ```
//!
//! `circuit` is `closed`, `open` or `half_open`; `healthy` is the latest health check (true
//! when the provider has none); `latency_ewma_ms` is the moving average of time to first byte,
//! `null` before the provider's first response; `error_rate` is over the circuit breaker's
//! window as of the provider's last outcome; `requests` counts requests sent since start-up
//! (health checks excluded); `cooldown_until` is when a 429's `Retry-After` (or a quota
//! error) stops keeping the provider out, in RFC 3339 UTC, or `null` when none does.

use bytes::Bytes;
use infermux_core::ProviderBoard;
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    providers: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    circuit: &'static str,
    healthy: bool,
    latency_ewma_ms: Option<f64>,
    error_rate: f64,
    requests: u64,
    cooldown_until: Option<String>,
}

/// The JSON body of the providers report.
pub(super) fn report(board: &ProviderBoard) -> Bytes {
    let providers = board
        .iter()
        .map(|status| Entry {
            name: status.name().as_str(),
            kind: status.kind(),
            circuit: status.circuit().as_str(),
            healthy: status.healthy(),
            // Whole microseconds: the average is not more precise than that.
            latency_ewma_ms: status
                .latency_ewma()
                .map(|d| (d.as_secs_f64() * 1e6).round() / 1e3),
            error_rate: status.error_rate(),
            requests: status.requests(),
            cooldown_until: status
                .cooldown_until()
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        })
        .collect();
    // Serialising strings, numbers and booleans cannot fail.
    serde_json::to_vec(&Report { providers })
        .map(Bytes::from)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use infermux_core::{CircuitState, ProviderStatus};

    use super::*;

    #[test]
    fn the_report_has_the_contract_shape_in_declared_order() {
        let board = ProviderBoard::new([
            ProviderStatus::new("openai".into(), "openai"),
            ProviderStatus::new("local".into(), "ollama"),
        ]);
        let openai = board.get(&"openai".into()).expect("on the board");
        openai.record_latency(Duration::from_millis(412));
        openai.record_outcome(false);
        openai.set_circuit(CircuitState::HalfOpen);
        let until = humantime::parse_rfc3339("2999-01-02T03:04:05Z").expect("time");
        openai.set_cooldown_until(Some(until));
        let body: serde_json::Value = serde_json::from_slice(&report(&board)).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"providers": [
                {"name": "openai", "type": "openai", "circuit": "half_open", "healthy": true,
                 "latency_ewma_ms": 412.0, "error_rate": 0.0, "requests": 1,
                 "cooldown_until": "2999-01-02T03:04:05Z"},
                {"name": "local", "type": "ollama", "circuit": "closed", "healthy": true,
                 "latency_ewma_ms": null, "error_rate": 0.0, "requests": 0,
                 "cooldown_until": null},
            ]})
        );
    }
}
