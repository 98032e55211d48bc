//! Failover between providers, pass-through of provider 4xx, and broken streams.

use crate::common;

use crate::common::{Infermux, chat, post_json};
use infermux_test_util::{Fault, MockServer};
use serde_json::json;

/// Two OpenAI-shaped providers serving the same model, `first` declared first, with the
/// product's default circuit breaker.
async fn two(first: &MockServer, second: &MockServer, timeout: &str) -> Infermux {
    let settings = common::Settings {
        timeout,
        breaker: "",
        ..common::Settings::default()
    };
    common::two(first, second, settings).await
}

async fn ask(infermux: &Infermux, extra: serde_json::Value) -> common::Reply {
    post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", extra),
    )
    .await
}

#[tokio::test]
async fn a_5xx_fails_over_to_the_next_provider() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(503));
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("second"));
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
}

#[tokio::test]
async fn a_429_fails_over() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::rate_limited(30));
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({})).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("second"));
}

#[tokio::test]
async fn a_dropped_connection_fails_over() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::DropConnection);
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("second"));
}

#[tokio::test]
async fn a_timeout_fails_over() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::Stall);
    let infermux = two(&first, &second, "300ms").await;
    let reply = ask(&infermux, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("second"));
}

#[tokio::test]
async fn a_provider_400_is_returned_as_is_without_failover() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    let body =
        r#"{"error":{"message":"bad temperature","type":"invalid_request_error","code":null}}"#;
    first.set_fault(Fault::Status {
        status: 400,
        body: body.to_owned(),
        retry_after: None,
    });
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.text(), body);
    assert_eq!(reply.header("x-infermux-provider"), Some("first"));
    assert_eq!(second.request_count(), 0);
}

#[tokio::test]
async fn when_every_provider_fails_the_error_lists_each_and_no_key_leaks() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(500));
    second.set_fault(Fault::DropConnection);
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({})).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(
        reply.header("x-infermux-error"),
        Some("all_providers_failed")
    );
    assert!(reply.header("x-infermux-request-id").is_some());
    let body = reply.json();
    assert_eq!(body["error"]["code"], "all_providers_failed");
    assert_eq!(body["error"]["type"], "infermux_error");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("first: HTTP 500"), "{message}");
    assert!(message.contains("second:"), "{message}");
    assert!(
        !reply.text().contains("sk-first-secret") && !reply.text().contains("sk-second-secret")
    );
}

#[tokio::test]
async fn each_candidate_is_tried_at_most_once() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::status(500));
    second.set_fault(Fault::status(500));
    let infermux = two(&first, &second, "10s").await;
    let _ = ask(&infermux, json!({})).await;
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
}

#[tokio::test]
async fn a_stream_failing_before_its_first_chunk_fails_over() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_fault(Fault::CutStreamAfter(0));
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({"stream": true})).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("second"));
    assert_eq!(reply.sse_data().last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test]
async fn a_stream_cut_after_its_first_chunk_ends_with_an_error_event_and_no_done() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_reply("a long answer in many words");
    first.set_fault(Fault::CutStreamAfter(3));
    let infermux = two(&first, &second, "10s").await;
    let reply = ask(&infermux, json!({"stream": true})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-infermux-provider"), Some("first"));
    let events = reply.sse_data();
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    let last: serde_json::Value =
        serde_json::from_str(events.last().expect("events")).expect("json");
    assert_eq!(last["error"]["type"], "infermux_error", "{last}");
    assert_eq!(
        second.request_count(),
        0,
        "a started stream is never retried"
    );
}

#[tokio::test]
async fn a_stream_that_stalls_after_its_first_chunk_ends_with_an_error_event_after_the_timeout() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_reply("slow words here");
    first.set_fault(Fault::ChunkInterval(std::time::Duration::from_secs(30)));
    let infermux = two(&first, &second, "300ms").await;
    let reply = ask(&infermux, json!({"stream": true})).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("first"));
    let events = reply.sse_data();
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    let last = events.last().expect("events");
    assert!(last.contains("no data from the provider"), "{last}");
}
