//! Bad input gets a clear OpenAI-shaped error, with the request id, and reaches no provider.

use crate::common;

use crate::common::{Infermux, chat, get, post_json, send};
use http::Method;
use infermux_test_util::MockServer;
use serde_json::json;

async fn start(openai: &MockServer, extra: &str) -> Infermux {
    let yaml = format!(
        r#"
{extra}
providers:
  - name: openai
    type: openai
    api_key: "sk-x"
    base_url: "{}"
    models: [gpt-4o-mini]
"#,
        openai.base_url()
    );
    Infermux::start(&yaml).await
}

fn assert_error(reply: &common::Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some(code));
    assert!(reply.header("x-infermux-request-id").is_some());
    let body = reply.json();
    assert_eq!(body["error"]["code"], code);
    assert_eq!(body["error"]["type"], "infermux_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn malformed_json_is_invalid_request() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "").await;
    let reply = send(
        Method::POST,
        &infermux.url("/v1/chat/completions"),
        &[],
        "{not json",
    )
    .await;
    assert_error(&reply, 400, "invalid_request");
    assert_eq!(openai.request_count(), 0);
}

#[tokio::test]
async fn missing_model_or_messages_is_invalid_request() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "").await;
    let url = infermux.url("/v1/chat/completions");
    let reply = post_json(
        &url,
        &[],
        json!({"messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_error(&reply, 400, "invalid_request");
    assert!(reply.text().contains("model"));
    let reply = post_json(&url, &[], json!({"model": "gpt-4o-mini"})).await;
    assert_error(&reply, 400, "invalid_request");
    assert!(reply.text().contains("messages"));
    let reply = post_json(&url, &[], json!({"model": "gpt-4o-mini", "messages": []})).await;
    assert_error(&reply, 400, "invalid_request");
    assert_eq!(openai.request_count(), 0);
}

#[tokio::test]
async fn an_unknown_model_is_model_not_found() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "").await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-9", json!({})),
    )
    .await;
    assert_error(&reply, 404, "model_not_found");
    assert!(reply.text().contains("gpt-9"));
}

#[tokio::test]
async fn an_oversize_body_is_413() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "max_request_body: 1KiB").await;
    let big = "x".repeat(4096);
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(&big, json!({})),
    )
    .await;
    assert_error(&reply, 413, "invalid_request");
    assert_eq!(openai.request_count(), 0);
}

#[tokio::test]
async fn unknown_paths_and_management_paths_are_not_served_on_the_proxy_port() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "").await;
    for path in ["/v1/completions-nope", "/_infermux/costs", "/metrics"] {
        let reply = get(&infermux.url(path), &[]).await;
        assert_eq!(reply.status, 404, "{path}");
    }
    assert_eq!(get(&infermux.url("/healthz"), &[]).await.status, 200);
}

#[tokio::test]
async fn a_request_id_is_generated_when_none_is_given() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "").await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    let id = reply.header("x-infermux-request-id").expect("request id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
}

#[tokio::test]
async fn a_served_path_with_the_wrong_method_is_405_naming_the_right_one() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai, "").await;
    let reply = get(&infermux.url("/v1/chat/completions"), &[]).await;
    assert_error(&reply, 405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
}
