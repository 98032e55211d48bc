//! The edge against clients that misbehave: slow headers, slow bodies, idle connections,
//! hostile caller headers and invented callers; and providers that misbehave: hostile
//! `Retry-After`, long streams at a steady pace.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use crate::common::{Infermux, chat, get, post_json};
use infermux_test_util::{Fault, MockServer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const MOCK: &str = "
providers:
  - {name: mock, type: mock, models: [mock]}
";

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Instant) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(limit, read_all)
        .await
        .expect("the server closed the connection");
    (String::from_utf8_lossy(&seen).into_owned(), closed)
}

#[tokio::test]
async fn a_slowloris_connection_is_closed_within_the_header_timeout_while_others_are_served() {
    let infermux = Infermux::start(&format!("header_read_timeout: 1s\n{MOCK}")).await;
    let mut slow = TcpStream::connect(infermux.proxy).await.expect("connect");
    let started = Instant::now();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // Keep trickling header bytes, as a slowloris client does, while another client is served.
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"X-A: b\r\n").await.is_err() {
                break;
            }
        }
    };
    let served = async {
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[],
            chat("mock", serde_json::json!({})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    };
    tokio::join!(trickle, served);
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let open_for = closed - started;
    assert!(
        open_for >= Duration::from_millis(900) && open_for < Duration::from_secs(3),
        "closed after {open_for:?}"
    );
}

#[tokio::test]
async fn a_request_outlasting_the_header_timeout_is_served_then_its_idle_connection_closes() {
    let upstream = MockServer::openai().await;
    upstream.set_fault(Fault::Latency(Duration::from_millis(2500)));
    let infermux = Infermux::start(&format!(
        "header_read_timeout: 1s
providers:
  - {{name: slow, type: openai_compatible, base_url: {}, api_key: sk-test, models: [gpt-4o-mini]}}
",
        upstream.base_url()
    ))
    .await;
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let mut kept = TcpStream::connect(infermux.proxy).await.expect("connect");
    let started = Instant::now();
    kept.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut first = [0u8; 1];
    kept.read_exact(&mut first).await.expect("an answer");
    let answered = Instant::now();
    let (response, closed) = read_until_closed(&mut kept, Duration::from_secs(5)).await;
    assert!(response.starts_with("TTP/1.1 200"), "{response}");
    assert!(response.contains("\"chat.completion\""), "{response}");
    // Served, though in flight for longer than the header timeout.
    assert!(answered - started >= Duration::from_millis(2400));
    // Then closed, waiting for a next request, one timeout (and at most a quarter more) on.
    let waited = closed - answered;
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "closed {waited:?} after the answer"
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_past_the_body_timeout_gets_408() {
    let infermux = Infermux::start(&format!("body_read_timeout: 500ms\n{MOCK}")).await;
    let mut slow = TcpStream::connect(infermux.proxy).await.expect("connect");
    let started = Instant::now();
    slow.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\nX-Request-Id: slow-body\r\n\r\n{\"model\":",
    )
    .await
    .expect("write");
    let (response, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("request_timeout"), "{response}");
    assert!(
        response.contains("X-Infermux-Request-Id: slow-body"),
        "{response}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let infermux = Infermux::start(&format!("idle_timeout: 500ms\n{MOCK}")).await;
    let mut idle = TcpStream::connect(infermux.proxy).await.expect("connect");
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(9)).await;
    let open_for = closed - started;
    // Closed by the idle timeout: not before it, and well before the 10 s header read
    // timeout that would otherwise close it (the margin is for busy test machines).
    assert!(
        open_for >= Duration::from_millis(400) && open_for < Duration::from_secs(8),
        "closed after {open_for:?}"
    );
}

#[tokio::test]
async fn an_oversized_or_malformed_caller_is_refused_with_400_and_never_echoed() {
    let infermux = Infermux::start(MOCK).await;
    let huge = "c".repeat(20_000);
    for caller in [huge.as_str(), "two words"] {
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[("x-infermux-caller", caller)],
            chat("mock", serde_json::json!({})),
        )
        .await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.json()["error"]["code"], "invalid_request");
        assert_eq!(reply.header("x-infermux-error"), Some("invalid_request"));
        assert!(reply.header("x-infermux-request-id").is_some());
        assert!(!reply.text().contains(caller), "the value is not echoed");
    }
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("x-infermux-caller", "team/alpha@example.com")],
        chat("mock", serde_json::json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "a reasonable caller passes");
}

#[tokio::test]
async fn invented_callers_leave_at_most_max_callers_plus_one_label_values() {
    let infermux = Infermux::start(
        "
metrics: {max_callers: 5}
providers:
  - {name: bounded-callers, type: mock, models: [mock]}
budgets:
  callers:
    - {caller: budgeted, monthly_usd: 100, action: alert}
",
    )
    .await;
    let mut callers: Vec<String> = (0..300).map(|i| format!("invented-{i}")).collect();
    callers.push("budgeted".to_owned());
    for caller in &callers {
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[("x-infermux-caller", caller)],
            chat("mock", serde_json::json!({})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    let labels: HashSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("infermux_tokens_total{") && l.contains("bounded-callers"))
        .filter_map(|l| l.split("caller=\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        labels.contains("budgeted"),
        "budgeted callers keep their name: {labels:?}"
    );
    assert!(labels.contains("other"), "{labels:?}");
    let unbudgeted = labels.iter().filter(|l| **l != "budgeted").count();
    assert_eq!(
        unbudgeted,
        5 + 1,
        "max_callers names and `other`: {labels:?}"
    );
}

#[tokio::test]
async fn a_hostile_retry_after_cools_the_provider_for_at_most_max_cooldown() {
    let upstream = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "
providers:
  - name: hostile
    type: openai_compatible
    base_url: {}
    api_key: sk-test
    models: [gpt-4o-mini]
    max_cooldown: 2s
  - {{name: backup, type: mock, models: [gpt-4o-mini]}}
routing: {{strategy: priority}}
",
        upstream.base_url()
    ))
    .await;
    // About 136 years.
    upstream.set_fault(Fault::rate_limited(u32::MAX));
    let before = std::time::SystemTime::now();
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", serde_json::json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("backup"));
    let after = std::time::SystemTime::now();
    let report = get(&infermux.management_url("/_infermux/providers"), &[])
        .await
        .json();
    let until = report["providers"][0]["cooldown_until"]
        .as_str()
        .expect("a cool-down is reported");
    let until = humantime::parse_rfc3339(until).expect("RFC 3339");
    // The cool-down started when the 429 arrived, between `before` and `after`; the report
    // is rounded down to the second.
    assert!(until + Duration::from_secs(1) > before, "in the future");
    assert!(
        until <= after + Duration::from_secs(2),
        "clamped to max_cooldown, not the 136 years asked for"
    );
    assert!(report["providers"][1]["cooldown_until"].is_null());

    upstream.clear_fault();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", serde_json::json!({})),
    )
    .await;
    assert_eq!(
        reply.header("x-infermux-provider"),
        Some("hostile"),
        "back in rotation"
    );
    let report = get(&infermux.management_url("/_infermux/providers"), &[])
        .await
        .json();
    assert!(report["providers"][0]["cooldown_until"].is_null());
}

#[tokio::test]
async fn a_provider_answering_long_streams_at_a_steady_pace_does_not_trip_the_breaker() {
    let upstream = MockServer::openai().await;
    let words: Vec<String> = (0..30).map(|i| format!("w{i}")).collect();
    upstream.set_reply(&words.join(" "));
    // 30 chunks 40 ms apart: each stream takes over a second, well past p95_latency.
    upstream.set_fault(Fault::ChunkInterval(Duration::from_millis(40)));
    let infermux = Infermux::start(&format!(
        "
providers:
  - name: steady
    type: openai_compatible
    base_url: {}
    api_key: sk-test
    models: [gpt-4o-mini]
    circuit_breaker: {{min_requests: 2, p95_latency: 300ms, window: 30s}}
",
        upstream.base_url()
    ))
    .await;
    for _ in 0..4 {
        let started = Instant::now();
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[],
            chat("gpt-4o-mini", serde_json::json!({"stream": true})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(reply.text().contains("[DONE]"));
        assert!(
            started.elapsed() > Duration::from_millis(300),
            "the stream is long"
        );
    }
    let report = get(&infermux.management_url("/_infermux/providers"), &[])
        .await
        .json();
    assert_eq!(report["providers"][0]["circuit"], "closed", "{report}");
}

#[tokio::test]
async fn the_library_face_gets_the_same_edge() {
    use http_body_util::{BodyExt, Full};
    use tower::ServiceExt;

    let config = infermux::config::parse(MOCK, "lib.yml", &|_| None).expect("config");
    let mux = infermux::Infermux::from_config(&config)
        .await
        .expect("assembled");
    let request = http::Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .header("x-infermux-caller", "c".repeat(500))
        .body(Full::new(bytes::Bytes::from(
            chat("mock", serde_json::json!({})).to_string(),
        )))
        .expect("request");
    let response = mux.proxy().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 400);
    assert!(response.headers().contains_key("x-infermux-request-id"));
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("at most 128"));
}

#[tokio::test]
async fn the_library_face_answers_cors_preflights_for_allowed_origins() {
    use http_body_util::Empty;
    use tower::ServiceExt;

    let yaml = format!("{MOCK}cors:\n  allowed_origins: [\"https://app.example\"]\n");
    let config = infermux::config::parse(&yaml, "lib.yml", &|_| None).expect("config");
    let mux = infermux::Infermux::from_config(&config)
        .await
        .expect("assembled");
    let preflight = |origin: &'static str| {
        http::Request::options("/v1/chat/completions")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Empty::<bytes::Bytes>::new())
            .expect("request")
    };
    for (origin, allowed) in [
        ("https://app.example", Some("https://app.example")),
        ("https://elsewhere.example", None),
    ] {
        let answer = mux
            .proxy()
            .oneshot(preflight(origin))
            .await
            .expect("infallible");
        assert_eq!(answer.status(), 204);
        assert_eq!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().expect("ascii")),
            allowed
        );
    }
}
