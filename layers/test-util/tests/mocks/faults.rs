//! Fault injection, over real sockets: each fault seen from a raw hyper client.

use std::time::{Duration, Instant};

use futures_util::FutureExt;
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

use crate::support::{client, get, json, post, read_until_end, send, sse, text};

const AUTH: (&str, &str) = ("authorization", "Bearer sk-test");

fn chat(stream: bool) -> Value {
    json!({ "model": "gpt-4o-mini", "stream": stream, "messages": [{ "role": "user", "content": "hi" }] })
}

fn url(mock: &MockServer) -> String {
    format!("{}/chat/completions", mock.base_url())
}

#[tokio::test]
async fn status_fault_returns_status_body_and_retry_after() {
    let mock = MockServer::openai().await;
    let c = client();
    mock.set_fault(
        mock.provider_error(429, "rate_limit_exceeded", "slow down")
            .with_retry_after(7),
    );
    let (status, headers, body) = json(&c, post(&url(&mock), &[AUTH], &chat(false))).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"]["message"], "slow down");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    mock.set_fault(Fault::Status {
        status: 503,
        body: "{}".into(),
        retry_after: None,
    });
    let (status, headers, _) = json(&c, post(&url(&mock), &[AUTH], &chat(false))).await;
    assert_eq!(status, 503);
    assert!(!headers.contains_key("retry-after"));

    mock.clear_fault();
    let (status, _, _) = json(&c, post(&url(&mock), &[AUTH], &chat(false))).await;
    assert_eq!(status, 200);
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn provider_error_bodies_follow_each_provider() {
    let anthropic = MockServer::anthropic().await;
    let Fault::Status { body, .. } =
        anthropic.provider_error(529, "overloaded_error", "Overloaded")
    else {
        panic!("a status fault");
    };
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        body,
        json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } })
    );

    let ollama = MockServer::ollama().await;
    let Fault::Status { body, .. } = ollama.provider_error(500, "ignored", "model runner crashed")
    else {
        panic!("a status fault");
    };
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json"),
        json!({ "error": "model runner crashed" })
    );
}

#[tokio::test]
async fn queued_faults_apply_once_each_then_normal() {
    let mock = MockServer::openai().await;
    let c = client();
    mock.set_faults(vec![Fault::status(500), Fault::rate_limited(1)]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            json(&c, post(&url(&mock), &[AUTH], &chat(false)))
                .await
                .0
                .as_u16(),
        );
    }
    assert_eq!(statuses, [500, 429, 200]);
}

#[tokio::test]
async fn latency_delays_then_answers() {
    let mock = MockServer::openai().await;
    mock.set_fault(Fault::Latency(Duration::from_millis(200)));
    let started = Instant::now();
    let (status, _, body) = json(&client(), post(&url(&mock), &[AUTH], &chat(false))).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(status, 200);
    assert_eq!(body["choices"][0]["message"]["content"], "Hello!");
}

#[tokio::test]
async fn drop_connection_gives_a_client_error() {
    let mock = MockServer::openai().await;
    mock.set_fault(Fault::DropConnection);
    let error = send(&client(), post(&url(&mock), &[AUTH], &chat(false)))
        .await
        .expect_err("no response");
    // The request reached the mock and was recorded before the connection went away.
    assert_eq!(mock.request_count(), 1);
    assert!(
        !error.is_connect(),
        "the connection was made, then dropped: {error:?}"
    );

    mock.clear_fault();
    let (status, _, _) = json(&client(), post(&url(&mock), &[AUTH], &chat(false))).await;
    assert_eq!(
        status, 200,
        "the mock keeps serving after a dropped connection"
    );
}

#[tokio::test]
async fn cut_stream_after_sends_n_events_then_a_body_error() {
    let mock = MockServer::openai().await;
    mock.set_reply("one two three four");
    mock.set_fault(Fault::CutStreamAfter(3));
    let response = send(&client(), post(&url(&mock), &[AUTH], &chat(true)))
        .await
        .expect("headers arrive");
    assert_eq!(response.status(), 200);
    let (received, error) = read_until_end(response).await;
    assert!(
        error.is_some(),
        "the body fails instead of ending: {received:?}"
    );
    let events = sse(&received);
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.data != "[DONE]"));
}

#[tokio::test]
async fn cut_stream_applies_to_anthropic_and_ollama_streams() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_fault(Fault::CutStreamAfter(2));
    let request = json!({ "model": "claude-haiku-4-5", "max_tokens": 10, "stream": true,
                          "messages": [{ "role": "user", "content": "hi" }] });
    let headers = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")];
    let response = send(
        &client(),
        post(
            &format!("{}/v1/messages", anthropic.base_url()),
            &headers,
            &request,
        ),
    )
    .await
    .expect("headers arrive");
    let (received, error) = read_until_end(response).await;
    assert!(error.is_some());
    let names: Vec<Option<String>> = sse(&received).into_iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            Some("message_start".to_owned()),
            Some("content_block_start".to_owned())
        ]
    );

    let ollama = MockServer::ollama().await;
    ollama.set_reply("a b c");
    ollama.set_fault(Fault::CutStreamAfter(1));
    let request = json!({ "model": "llama3.2", "messages": [{ "role": "user", "content": "hi" }] });
    let response = send(
        &client(),
        post(&format!("{}/api/chat", ollama.base_url()), &[], &request),
    )
    .await
    .expect("headers arrive");
    let (received, error) = read_until_end(response).await;
    assert!(error.is_some());
    assert_eq!(received.lines().count(), 1);
    assert!(!received.contains("\"done\":true"));
}

#[tokio::test]
async fn cut_non_stream_answer_sends_half_a_body() {
    let mock = MockServer::openai().await;
    mock.set_fault(Fault::CutStreamAfter(1));
    let response = send(&client(), post(&url(&mock), &[AUTH], &chat(false)))
        .await
        .expect("headers arrive");
    let (received, error) = read_until_end(response).await;
    assert!(error.is_some());
    assert!(!received.is_empty());
    assert!(
        serde_json::from_str::<Value>(&received).is_err(),
        "half a JSON body: {received}"
    );
}

#[tokio::test]
async fn cut_after_more_chunks_than_the_stream_has_sends_it_whole() {
    let mock = MockServer::openai().await;
    mock.set_fault(Fault::CutStreamAfter(100));
    let response = send(&client(), post(&url(&mock), &[AUTH], &chat(true)))
        .await
        .expect("headers arrive");
    let (received, error) = read_until_end(response).await;
    assert!(error.is_none());
    assert!(received.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn chunk_interval_paces_the_stream() {
    let mock = MockServer::openai().await;
    mock.set_reply("a b c");
    mock.set_fault(Fault::ChunkInterval(Duration::from_millis(40)));
    let started = Instant::now();
    let (status, _, body) = text(&client(), post(&url(&mock), &[AUTH], &chat(true))).await;
    assert_eq!(status, 200);
    let events = sse(&body);
    assert_eq!(events.len(), 6, "role, 3 words, finish, [DONE]");
    // Five pauses between six chunks.
    assert!(
        started.elapsed() >= Duration::from_millis(5 * 40),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn stall_never_answers() {
    let mock = MockServer::openai().await;
    mock.set_fault(Fault::Stall);
    let c = client();
    let pending = send(&c, post(&url(&mock), &[AUTH], &chat(false)));
    let outcome = tokio::time::timeout(Duration::from_millis(150), pending).await;
    assert!(outcome.is_err(), "no answer while stalled");
    mock.wait_for_requests(1).await;
}

#[tokio::test]
async fn health_gets_are_faulted_only_by_health_faults() {
    let mock = MockServer::openai().await;
    let c = client();
    let models = format!("{}/models", mock.base_url());
    mock.set_fault(Fault::status(500));
    let (status, _, _) = json(&c, get(&models, &[AUTH])).await;
    assert_eq!(status, 200, "traffic faults leave health GETs alone");

    mock.clear_fault();
    mock.set_health_fault(Fault::status(503));
    let (status, _, _) = json(&c, get(&models, &[AUTH])).await;
    assert_eq!(status, 503);
    let (status, _, _) = json(&c, post(&url(&mock), &[AUTH], &chat(false))).await;
    assert_eq!(status, 200, "health faults leave traffic alone");

    mock.clear_health_fault();
    let (status, _, _) = json(&c, get(&models, &[AUTH])).await;
    assert_eq!(status, 200);
    assert_eq!(mock.request_count(), 1);
    assert_eq!(mock.requests().len(), 4);
}

#[tokio::test]
async fn wait_for_requests_waits_for_arrivals() {
    let mock = MockServer::openai().await;
    assert!(mock.wait_for_requests(0).now_or_never().is_some());
    assert!(
        mock.wait_for_requests(1).now_or_never().is_none(),
        "nothing has arrived yet"
    );

    mock.set_fault(Fault::Stall);
    let stalled: Vec<_> = (0..2)
        .map(|_| {
            let c = client();
            let request = post(&url(&mock), &[AUTH], &chat(false));
            tokio::spawn(async move { drop(c.request(request).await) })
        })
        .collect();
    mock.wait_for_requests(2).await;
    assert_eq!(mock.request_count(), 2);
    for task in stalled {
        task.abort();
    }
}

#[tokio::test]
async fn dropping_the_mock_closes_the_listener() {
    let mock = MockServer::openai().await;
    let addr = mock.addr();
    drop(mock);
    // The accept loop is cancelled when the runtime next polls it; no sleeping.
    let mut refused = false;
    for _ in 0..1000 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the listener is closed after drop");
}
