//! The management port: health, metrics, and the optional bearer token.

use crate::common::{Infermux, chat, get, post_json};
use serde_json::json;

const MOCK: &str = "providers:\n  - {name: mock, type: mock, models: [gpt-4o-mini]}\n";

#[tokio::test]
async fn healthz_answers_on_both_ports() {
    let infermux = Infermux::start(MOCK).await;
    assert_eq!(get(&infermux.url("/healthz"), &[]).await.status, 200);
    assert_eq!(
        get(&infermux.management_url("/healthz"), &[]).await.status,
        200
    );
}

#[tokio::test]
async fn metrics_count_requests_in_prometheus_text() {
    let infermux = Infermux::start(MOCK).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
    let metrics = get(&infermux.management_url("/metrics"), &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = metrics.text();
    assert!(text.contains("infermux_requests_total{"), "{text}");
    assert!(
        text.contains("infermux_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("infermux_provider_attempts_total{"), "{text}");
}

#[tokio::test]
async fn a_management_token_guards_everything_but_healthz() {
    let yaml = format!("management_token: \"${{ADMIN_TOKEN:-}}\"\n{MOCK}");
    let infermux = Infermux::start_with_env(&yaml, &[("ADMIN_TOKEN", "s3cret")]).await;
    assert_eq!(
        get(&infermux.management_url("/healthz"), &[]).await.status,
        200
    );
    let denied = get(&infermux.management_url("/metrics"), &[]).await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["error"]["code"], "unauthorized");
    let wrong = get(
        &infermux.management_url("/metrics"),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(wrong.status, 401);
    let allowed = get(
        &infermux.management_url("/metrics"),
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(allowed.status, 200);
}

#[tokio::test]
async fn an_empty_token_variable_means_no_token() {
    let yaml = format!("management_token: \"${{ADMIN_TOKEN:-}}\"\n{MOCK}");
    let infermux = Infermux::start(&yaml).await;
    assert_eq!(
        get(&infermux.management_url("/metrics"), &[]).await.status,
        200
    );
}
