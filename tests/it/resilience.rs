//! Circuit breaking, cooldowns after 429s, active health checks and local rate limits, over
//! loopback against the fault-injecting mock providers.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Infermux, Settings, chat, get, post_json, two};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

async fn ask(infermux: &Infermux) -> common::Reply {
    ask_with(infermux, json!({})).await
}

async fn ask_with(infermux: &Infermux, extra: Value) -> common::Reply {
    post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", extra),
    )
    .await
}

/// Asks and asserts the answer came, without error, from `provider`.
async fn served_by(infermux: &Infermux, provider: &str) {
    let reply = ask(infermux).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some(provider));
}

async fn providers(infermux: &Infermux) -> Value {
    let reply = get(&infermux.management_url("/_infermux/providers"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn provider(infermux: &Infermux, name: &str) -> Value {
    let report = providers(infermux).await;
    report["providers"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

/// Polls the providers report until `name`'s `field` is `value` (the change is made by a
/// background task: a timer or a health check).
async fn until_reported(infermux: &Infermux, name: &str, field: &str, value: Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entry = provider(infermux, name).await;
        if entry[field] == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}.{field} never became {value}: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn five_hundreds_open_the_circuit_and_traffic_moves_on_with_no_client_error() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(500));
    // Providers named for this test alone: the metrics registry is the test process's, and
    // other tests' providers called `first` open and close circuits of their own meanwhile.
    let settings = Settings {
        names: ["tripping", "standby"],
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    for _ in 0..8 {
        served_by(&infermux, "standby").await;
    }
    assert_eq!(
        first.request_count(),
        3,
        "min_requests failures, then skipped"
    );
    assert_eq!(second.request_count(), 8);
    let entry = provider(&infermux, "tripping").await;
    assert_eq!(entry["circuit"], "open", "{entry}");
    assert_eq!(entry["error_rate"], 1.0, "{entry}");
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains(r#"infermux_circuit_state{provider="tripping"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("infermux_circuit_transitions_total"));
    assert!(metrics.contains("infermux_failovers_total"));
}

#[tokio::test]
async fn a_recovery_probe_closes_the_circuit_and_a_failed_one_reopens_it() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(502));
    let settings = Settings {
        breaker: "{window: 30s, min_requests: 3, error_rate: 0.5, recovery: 300ms}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    for _ in 0..3 {
        served_by(&infermux, "second").await;
    }
    until_reported(&infermux, "first", "circuit", json!("open")).await;

    // The probe fails: open again, the client still served by the second provider.
    until_reported(&infermux, "first", "circuit", json!("half_open")).await;
    served_by(&infermux, "second").await;
    assert_eq!(first.request_count(), 4, "one probe");
    assert_eq!(provider(&infermux, "first").await["circuit"], "open");

    // The provider recovers: the next probe closes the circuit and traffic comes back.
    first.clear_fault();
    until_reported(&infermux, "first", "circuit", json!("half_open")).await;
    served_by(&infermux, "first").await;
    assert_eq!(provider(&infermux, "first").await["circuit"], "closed");
    served_by(&infermux, "first").await;
}

#[tokio::test]
async fn a_429_with_retry_after_keeps_the_provider_out_that_long() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_faults(vec![Fault::rate_limited(1)]);
    let settings = Settings {
        breaker: "{min_requests: 100}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    served_by(&infermux, "second").await;
    // The cooldown started before this answer reached the client.
    let limited_at = Instant::now();
    served_by(&infermux, "second").await;
    assert_eq!(
        first.request_count(),
        1,
        "out of rotation during Retry-After"
    );
    assert_eq!(provider(&infermux, "first").await["circuit"], "closed");
    // Retry-After is the event awaited here: one second.
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(limited_at.elapsed())).await;
    served_by(&infermux, "first").await;
}

#[tokio::test]
async fn a_quota_429_keeps_the_provider_out_for_the_recovery() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(first.provider_error(429, "insufficient_quota", "you exceeded your quota"));
    let infermux = two(&first, &second, Settings::default()).await;
    for _ in 0..4 {
        served_by(&infermux, "second").await;
    }
    assert_eq!(first.request_count(), 1);
}

#[tokio::test]
async fn a_provider_400_passes_through_and_never_opens_the_circuit() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(first.provider_error(400, "invalid_request_error", "bad temperature"));
    let infermux = two(&first, &second, Settings::default()).await;
    for _ in 0..5 {
        let reply = ask(&infermux).await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.header("x-infermux-provider"), Some("first"));
    }
    assert_eq!(second.request_count(), 0);
    let entry = provider(&infermux, "first").await;
    assert_eq!(entry["circuit"], "closed", "{entry}");
    assert_eq!(entry["error_rate"], 0.0, "{entry}");
}

#[tokio::test]
async fn a_slow_provider_trips_on_p95_latency() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::Latency(Duration::from_millis(250)));
    let settings = Settings {
        breaker: "{window: 30s, min_requests: 3, p95_latency: 100ms, recovery: 60s}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    for _ in 0..3 {
        served_by(&infermux, "first").await;
    }
    assert_eq!(provider(&infermux, "first").await["circuit"], "open");
    served_by(&infermux, "second").await;
    assert_eq!(first.request_count(), 3);
}

#[tokio::test]
async fn a_health_check_marks_a_dead_provider_before_any_request_reaches_it() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_health_fault(Fault::status(503));
    first.set_fault(Fault::DropConnection);
    let settings = Settings {
        first_extra: "    health_check: {interval: 50ms, timeout: 1s}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    until_reported(&infermux, "first", "healthy", json!(false)).await;
    served_by(&infermux, "second").await;
    assert_eq!(first.request_count(), 0, "never sent a request");

    let checks: Vec<_> = first.requests();
    let check = checks.first().expect("a health GET");
    assert_eq!(
        (check.method.as_str(), check.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(
        check.header("authorization"),
        Some("Bearer sk-first-secret")
    );
    let entry = provider(&infermux, "first").await;
    assert_eq!(
        entry["requests"], 0,
        "health checks are not traffic: {entry}"
    );
    assert_eq!(entry["latency_ewma_ms"], Value::Null, "{entry}");

    first.clear_health_fault();
    first.clear_fault();
    until_reported(&infermux, "first", "healthy", json!(true)).await;
    served_by(&infermux, "first").await;
}

#[tokio::test]
async fn health_checks_use_each_providers_cheap_get() {
    let (anthropic, ollama) = (MockServer::anthropic().await, MockServer::ollama().await);
    anthropic.set_health_fault(Fault::status(500));
    ollama.set_health_fault(Fault::status(500));
    let yaml = format!(
        r#"
health_check: {{interval: 50ms, timeout: 1s}}
providers:
  - name: claude
    type: anthropic
    api_key: "sk-ant-secret"
    base_url: "{}"
    models: [claude-haiku-4-5]
  - name: local
    type: ollama
    base_url: "{}"
    models: [llama3.2]
"#,
        anthropic.base_url(),
        ollama.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    until_reported(&infermux, "claude", "healthy", json!(false)).await;
    until_reported(&infermux, "local", "healthy", json!(false)).await;
    let claude = anthropic.requests();
    assert_eq!(claude[0].path, "/v1/models");
    assert_eq!(claude[0].header("x-api-key"), Some("sk-ant-secret"));
    assert!(claude[0].header("anthropic-version").is_some());
    assert_eq!(ollama.requests()[0].path, "/api/tags");

    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("llama3.2", json!({})),
    )
    .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-infermux-error"),
        Some("no_healthy_provider")
    );
    assert_eq!(ollama.request_count(), 0);
}

#[tokio::test]
async fn when_every_circuit_is_open_the_answer_is_503_no_healthy_provider() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(500));
    second.set_fault(Fault::status(503));
    let settings = Settings {
        breaker: "{min_requests: 1, recovery: 60s}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    let reply = ask(&infermux).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(
        reply.header("x-infermux-error"),
        Some("all_providers_failed")
    );

    let reply = ask(&infermux).await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(
        reply.header("x-infermux-error"),
        Some("no_healthy_provider")
    );
    assert!(reply.header("x-infermux-request-id").is_some());
    let body = reply.json();
    assert_eq!(body["error"]["code"], "no_healthy_provider");
    assert_eq!(body["error"]["type"], "infermux_error");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("first (circuit open)") && message.contains("second (circuit open)"),
        "{message}"
    );
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
}

#[tokio::test]
async fn a_failure_after_skips_lists_the_tried_and_the_skipped() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(500));
    let settings = Settings {
        breaker: "{min_requests: 1, recovery: 60s}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    served_by(&infermux, "second").await;
    second.set_fault(Fault::status(500));
    let reply = ask(&infermux).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    let message = reply.json()["error"]["message"].as_str().map(str::to_owned);
    let message = message.expect("message");
    assert!(message.contains("second: HTTP 500"), "{message}");
    assert!(
        message.contains("skipped: first (circuit open)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_burst_over_the_rate_limit_spills_to_the_next_provider() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    let settings = Settings {
        first_extra: "    rate_limit: {rpm: 3}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    let burst: Vec<_> = (0..8).map(|_| ask(&infermux)).collect();
    let replies = futures_util::future::join_all(burst).await;
    assert!(replies.iter().all(|r| r.status == 200));
    let by_first = replies
        .iter()
        .filter(|r| r.header("x-infermux-provider") == Some("first"))
        .count();
    assert_eq!(by_first, 3);
    assert_eq!((first.request_count(), second.request_count()), (3, 5));
}

#[tokio::test]
async fn the_providers_report_has_the_contract_shape() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    let infermux = two(&first, &second, Settings::default()).await;
    served_by(&infermux, "first").await;
    let report = providers(&infermux).await;
    let all = report["providers"].as_array().expect("providers array");
    assert_eq!(report.as_object().map(|o| o.len()), Some(1));
    let names: Vec<_> = all.iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, [json!("first"), json!("second")], "declared order");
    let keys = [
        "name",
        "type",
        "circuit",
        "healthy",
        "latency_ewma_ms",
        "error_rate",
        "requests",
        "cooldown_until",
    ];
    for entry in all {
        let object = entry.as_object().expect("object");
        assert_eq!(object.len(), keys.len(), "{entry}");
        assert!(keys.iter().all(|k| object.contains_key(*k)), "{entry}");
        assert_eq!(entry["type"], "openai");
        assert_eq!(entry["circuit"], "closed");
        assert_eq!(entry["healthy"], true);
        assert_eq!(entry["error_rate"], 0.0);
        assert!(entry["cooldown_until"].is_null());
    }
    assert_eq!(all[0]["requests"], 1);
    assert!(
        all[0]["latency_ewma_ms"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0)
    );
    assert_eq!(all[1]["requests"], 0);
    assert_eq!(all[1]["latency_ewma_ms"], Value::Null);
}

#[tokio::test]
async fn the_token_rate_limit_charges_the_estimate_and_spills_the_rest() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    let settings = Settings {
        first_extra: "    rate_limit: {tpm: 1500}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    // About 1008 tokens each (the prompt plus max_tokens): one fits in 1500, two do not.
    let big = json!({"max_tokens": 1000});
    let reply = ask_with(&infermux, big.clone()).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("first"));
    let reply = ask_with(&infermux, big).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("second"));
    // A small request still fits in what is left.
    served_by(&infermux, "first").await;
}

#[tokio::test]
async fn health_checks_stop_with_the_server() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    let settings = Settings {
        first_extra: "    health_check: {interval: 10ms, timeout: 1s}",
        ..Settings::default()
    };
    let infermux = two(&first, &second, settings).await;
    served_by(&infermux, "first").await;
    tokio::time::timeout(Duration::from_secs(10), infermux.stop())
        .await
        .expect("the server and its health checks stop");
    let checks = first.requests().len();
    // Wait for what would be many more intervals: no further check arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(first.requests().len(), checks);
}
