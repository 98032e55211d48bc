//! Shared helpers of the black-box tests: start infermux in-process on loopback port 0, and a
//! small HTTP client.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use infermux::{config, server::Server};
use infermux_test_util::MockServer;
use tokio_util::sync::CancellationToken;

/// A child process (the real binary) killed and reaped when the test ends, however it ends.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running infermux; dropping it shuts it down.
pub struct Infermux {
    pub proxy: SocketAddr,
    pub management: SocketAddr,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Infermux {
    /// Starts infermux with `yaml` (listen addresses are forced to loopback port 0).
    pub async fn start(yaml: &str) -> Self {
        Self::start_with_env(yaml, &[]).await
    }

    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Self {
        Self::start_full(yaml, env, std::sync::Arc::new(infermux::core::SystemClock)).await
    }

    /// Starts infermux with `yaml`, dating spend by `clock`.
    pub async fn start_with_clock(yaml: &str, clock: infermux::core::SharedClock) -> Self {
        Self::start_full(yaml, &[], clock).await
    }

    async fn start_full(
        yaml: &str,
        env: &[(&str, &str)],
        clock: infermux::core::SharedClock,
    ) -> Self {
        let mut yaml =
            format!("listen: \"127.0.0.1:0\"\nmanagement_listen: \"127.0.0.1:0\"\n{yaml}");
        // Tests keep their request log in memory unless they say otherwise.
        if !yaml.contains("request_log:") {
            yaml.push_str("\nrequest_log: {path: \":memory:\"}\n");
        }
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let config = config::parse(&yaml, "test.yml", &lookup).expect("test config is valid");
        let server = Server::bind_with_clock(config, clock).await.expect("bind");
        let proxy = server.proxy_addr().expect("proxy addr");
        let management = server.management_addr().expect("management addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        Self {
            proxy,
            management,
            shutdown,
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy)
    }

    pub fn management_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.management)
    }

    /// Stops accepting, drains, and waits for the server to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

impl Drop for Infermux {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The chunks of a complete stream, parsed; asserts it ended with `data: [DONE]`.
    pub fn chunks(&self) -> Vec<serde_json::Value> {
        let events = self.sse_data();
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "{events:?}"
        );
        events[..events.len() - 1]
            .iter()
            .map(|e| {
                serde_json::from_str(e).unwrap_or_else(|err| panic!("chunk not JSON ({err}): {e}"))
            })
            .collect()
    }

    /// The assistant text of a complete stream: its content deltas joined.
    pub fn streamed_text(&self) -> String {
        self.chunks()
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn sse_data(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .filter_map(|event| event.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }
}

/// The (event, data) pairs of an SSE body with named events (Anthropic Messages, Responses).
pub fn sse_events(reply: &Reply) -> Vec<(String, serde_json::Value)> {
    reply
        .text()
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = serde_json::Value::Null;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or_else(|err| panic!("{err}: {d}"));
                }
            }
            (name, data)
        })
        .collect()
}

/// The names of `events`, in order.
pub fn event_names(events: &[(String, serde_json::Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends a request and reads the whole response (bounded by 30 s).
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(body.into())).unwrap();
    let exchange = async {
        let response = client().request(request).await.expect("request sent");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body read").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("response within 30 s")
}

pub async fn post_json(url: &str, headers: &[(&str, &str)], body: serde_json::Value) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(Method::POST, url, &all, body.to_string()).await
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    send(Method::GET, url, headers, Bytes::new()).await
}

/// `{"model": model, "messages": [{"role": "user", "content": "hi"}]}` plus `extra` fields.
pub fn chat(model: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut body =
        serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// Posts four chat completions for `model` one after another, plain and streamed in turn, each
/// read to its end, and checks that each was answered.
pub async fn chats_in_turn(infermux: &Infermux, model: &str) {
    for stream in [false, true, true, false] {
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[],
            chat(model, serde_json::json!({"stream": stream})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

/// Per-provider settings spliced into both providers of [`two`]: the request timeout, the
/// circuit breaker (empty: the product's default breaker), lines added to the first provider,
/// and the two providers' names (`first` and `second`; a test that reads the process-wide
/// metrics names them for itself).
#[derive(Clone, Copy)]
pub struct Settings<'a> {
    pub timeout: &'a str,
    pub breaker: &'a str,
    pub first_extra: &'a str,
    pub names: [&'a str; 2],
}

impl Default for Settings<'_> {
    fn default() -> Self {
        Self {
            timeout: "5s",
            breaker: "{window: 30s, min_requests: 3, error_rate: 0.5, p95_latency: 10s, recovery: 60s}",
            first_extra: "",
            names: ["first", "second"],
        }
    }
}

/// Two OpenAI-shaped providers serving the same model, the first (`first` unless `settings`
/// name it) declared, and tried, first.
pub async fn two(first: &MockServer, second: &MockServer, settings: Settings<'_>) -> Infermux {
    let Settings {
        timeout,
        breaker,
        first_extra,
        names: [first_name, second_name],
    } = settings;
    let breaker = if breaker.is_empty() {
        String::new()
    } else {
        format!("\n    circuit_breaker: {breaker}")
    };
    let yaml = format!(
        r#"
routing: {{strategy: priority}}
providers:
  - name: {first_name}
    type: openai
    api_key: "sk-first-secret"
    base_url: "{}"
    models: [gpt-4o-mini]
    timeout: {timeout}{breaker}
{first_extra}
  - name: {second_name}
    type: openai
    api_key: "sk-second-secret"
    base_url: "{}"
    models: [gpt-4o-mini]
    timeout: {timeout}{breaker}
"#,
        first.base_url(),
        second.base_url()
    );
    Infermux::start(&yaml).await
}

/// The external program (or package folder) the environment variable `var` names, for the
/// test of `what`: `None`, said on stderr, when it is unset, so the test skips; unless
/// `INFERMUX_REQUIRE_EXTERNAL=1` (as CI sets it), which makes a missing one fail the test.
pub fn external(var: &str, what: &str) -> Option<String> {
    if let Ok(value) = std::env::var(var) {
        return Some(value);
    }
    assert!(
        std::env::var("INFERMUX_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "{var} must be set when INFERMUX_REQUIRE_EXTERNAL=1"
    );
    eprintln!("{var} is not set; skipping {what}");
    None
}

/// Runs `command` (an SDK script) and returns its stdout, waiting for it off the runtime;
/// fails the test, with both of its outputs, when the program cannot start or exits
/// unsuccessfully.
pub async fn run_script(command: &mut std::process::Command) -> String {
    use std::process::Stdio;
    let program = command.get_program().to_string_lossy().into_owned();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
