//! The circuit breaker judges a streamed answer by how it ends, over loopback against the
//! fault-injecting mock providers: streams the provider cuts mid-way open the circuit (and
//! traffic moves to the healthy provider), long steady streams never trip it, and clients
//! abandoning streams neither trip it nor wedge a half-open circuit.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Infermux, chat, get, post_json};
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

/// Two OpenAI-shaped providers serving one model, `first` tried first, both with `breaker`.
async fn two(first: &MockServer, second: &MockServer, breaker: &str) -> Infermux {
    common::two(
        first,
        second,
        common::Settings {
            breaker,
            ..common::Settings::default()
        },
    )
    .await
}

/// Streams one answer to the end: the provider that served it and the events received.
async fn stream(infermux: &Infermux) -> (String, Vec<String>) {
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let provider = reply.header("x-infermux-provider").unwrap_or("").to_owned();
    (provider, reply.sse_data())
}

/// Starts a streamed request, reads its first bytes and hangs up: the client went away.
/// Returns the provider that was serving it.
async fn abandon(infermux: &Infermux) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let body = chat("gpt-4o-mini", json!({"stream": true})).to_string();
    let request = Request::post(infermux.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("head within 10 s")
        .expect("request sent");
    assert_eq!(response.status(), 200);
    let provider = response.headers()["x-infermux-provider"]
        .to_str()
        .expect("a visible-ASCII provider name")
        .to_owned();
    let mut body = response.into_body();
    let first = body
        .frame()
        .await
        .expect("a first frame")
        .expect("readable");
    assert!(first.data_ref().is_some_and(|d| !d.is_empty()));
    // Dropping the body and the client closes the connection mid-stream.
    drop(body);
    drop(client);
    provider
}

async fn provider(infermux: &Infermux, name: &str) -> Value {
    let reply = get(&infermux.management_url("/_infermux/providers"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let report = reply.json();
    report["providers"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

async fn until_circuit(infermux: &Infermux, name: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entry = provider(infermux, name).await;
        if entry["circuit"] == state {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never {state}: {entry}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn streams_cut_mid_way_open_the_circuit_and_traffic_moves_to_the_healthy_provider() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_reply("one two three four five six");
    // The role chunk and two words, then the connection is reset: the first chunk reached the
    // client, so dispatch cannot fail over; the client gets an error event.
    first.set_fault(Fault::CutStreamAfter(3));
    let infermux = two(
        &first,
        &second,
        "{window: 30s, min_requests: 3, error_rate: 0.5, recovery: 60s}",
    )
    .await;
    for _ in 0..3 {
        let (provider, events) = stream(&infermux).await;
        assert_eq!(provider, "first");
        assert!(
            events
                .last()
                .is_some_and(|e| e.contains("stream_interrupted")),
            "{events:?}"
        );
        assert!(!events.iter().any(|e| e == "[DONE]"));
    }
    let entry = provider(&infermux, "first").await;
    assert_eq!(entry["circuit"], "open", "{entry}");
    assert_eq!(entry["error_rate"], 1.0, "{entry}");
    for _ in 0..4 {
        let (provider, events) = stream(&infermux).await;
        assert_eq!(provider, "second");
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    }
    assert_eq!(first.request_count(), 3, "skipped once its circuit opened");
    assert_eq!(second.request_count(), 4);
}

#[tokio::test]
async fn long_steady_streams_never_trip_the_breaker() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_reply("a steady answer written one word at a time");
    first.set_fault(Fault::ChunkInterval(Duration::from_millis(60)));
    let p95 = Duration::from_millis(300);
    let infermux = two(
        &first,
        &second,
        "{window: 60s, min_requests: 2, error_rate: 0.5, p95_latency: 300ms, recovery: 60s}",
    )
    .await;
    for _ in 0..5 {
        let started = Instant::now();
        let (provider, events) = stream(&infermux).await;
        assert!(
            started.elapsed() > 2 * p95,
            "the stream outlasts the p95 threshold"
        );
        assert_eq!(provider, "first");
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    }
    let entry = provider(&infermux, "first").await;
    assert_eq!(entry["circuit"], "closed", "{entry}");
    assert_eq!(entry["error_rate"], 0.0, "{entry}");
    assert_eq!(second.request_count(), 0);
}

#[tokio::test]
async fn clients_abandoning_streams_neither_trip_nor_wedge_the_breaker() {
    let (first, second) = (MockServer::openai().await, MockServer::openai().await);
    first.set_reply("a slow answer nobody waits for");
    first.set_fault(Fault::ChunkInterval(Duration::from_millis(100)));
    let infermux = two(
        &first,
        &second,
        "{window: 60s, min_requests: 2, error_rate: 0.5, recovery: 1s}",
    )
    .await;
    for _ in 0..6 {
        assert_eq!(abandon(&infermux).await, "first");
    }
    let entry = provider(&infermux, "first").await;
    assert_eq!(entry["circuit"], "closed", "{entry}");
    assert_eq!(entry["error_rate"], 0.0, "{entry}");

    // Open the circuit with two cut streams, and let it turn half-open.
    first.set_fault(Fault::CutStreamAfter(2));
    for _ in 0..2 {
        assert_eq!(stream(&infermux).await.0, "first");
    }
    until_circuit(&infermux, "first", "half_open").await;
    // The probe is a stream the client abandons: its slot must come free, and the next
    // request probe again rather than being sent to `second` forever.
    first.set_fault(Fault::ChunkInterval(Duration::from_millis(100)));
    assert_eq!(abandon(&infermux).await, "first", "the probe");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (provider, events) = stream(&infermux).await;
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        if provider == "first" {
            break;
        }
        assert!(Instant::now() < deadline, "the probe slot was never freed");
    }
    // That second probe completed: the circuit is closed.
    assert_eq!(provider(&infermux, "first").await["circuit"], "closed");
}
