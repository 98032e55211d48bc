//! The cost of the HTTP provider path, over loopback, against the bare client it is built on.
//!
//! `benches/proxy.rs` measures what infermux does in memory; this bench adds the leg that
//! the mock provider skips: the OpenAI adapter encoding the upstream request, the shared
//! pooled [`HttpClient`] sending it, and the response (or stream) read and decoded. A static
//! upstream (a hyper server in this process on `127.0.0.1:0`) answers a fixed
//! `chat.completion`, or 64 `chat.completion.chunk` events, a usage chunk and `[DONE]` when
//! the request asks for a stream.
//!
//! - `http_provider/bare_client/*`: the identity: the same `HttpClient`, the client's body
//!   POSTed as is to the upstream, the answer read to the end.
//! - `http_provider/full_stack/*`: [`stack::build`] with one `openai_compatible` provider at
//!   that upstream, driven with `oneshot`, the answer read to the end. The difference to the
//!   identity is ingress + dispatch + the OpenAI adapter (encode, usage decode, and for
//!   streams SSE parsing, the usage probe per chunk and re-framing: the real
//!   `stream_translate` cost, which `proxy.rs` can only approximate with public types).
//!
//! Each scenario keeps 16 requests in flight (`_x16`), so the time per request is the inverse
//! of throughput on this machine's CPUs, not the loopback wake-up latency (which on a small VM
//! is large and noisy). Both legs share the loopback round trip and the upstream's own work,
//! so compare differences, not ratios. Run with
//! `cargo bench --bench http_provider`; results in `docs/PERFORMANCE.md`.

use std::{
    convert::Infallible,
    hint::black_box,
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, header};
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};
use infermux::{
    config,
    provider::{HttpClient, http_client},
    stack,
};
use serde_json::json;
use tokio::{net::TcpListener, runtime::Runtime};
use tower::ServiceExt;

#[path = "common/bodies.rs"]
mod bodies;

use bodies::{MODEL, chat_2k_tokens, chat_small, chat_small_stream};

/// Content chunks in a streamed answer.
const STREAM_CHUNKS: usize = 64;

/// The fixed answer to a non-streamed request (the same JSON `benches/e2e/run.sh` serves).
const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the static upstream."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":6,"total_tokens":14}}"#;

// === the static upstream ===

type UpstreamBody = Either<Full<Bytes>, StreamBody<futures_util::stream::Iter<FrameIter>>>;
type FrameIter = std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>;

/// The SSE frames of a streamed answer: 64 content chunks, a usage chunk, `[DONE]`.
fn sse_frames() -> Vec<Bytes> {
    let chunk = |delta: serde_json::Value,
                 finish: Option<&str>,
                 usage: Option<serde_json::Value>| {
        let mut chunk = json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if let Some(usage) = usage {
            chunk["choices"] = json!([]);
            chunk["usage"] = usage;
        }
        Bytes::from(format!("data: {chunk}\n\n"))
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        None,
        None,
    )];
    frames.extend(
        (0..STREAM_CHUNKS).map(|i| chunk(json!({"content": format!("w{i} ")}), None, None)),
    );
    frames.push(chunk(json!({}), Some("stop"), None));
    frames.push(chunk(
        json!({}),
        None,
        Some(json!({"prompt_tokens": 8, "completion_tokens": 64, "total_tokens": 72})),
    ));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

async fn answer(
    request: Request<Incoming>,
    frames: std::sync::Arc<Vec<Bytes>>,
) -> Result<Response<UpstreamBody>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let stream = serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|v| v["stream"] == json!(true));
    let response = if stream {
        let frames: Vec<_> = frames.iter().cloned().map(|b| Ok(Frame::data(b))).collect();
        Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Either::Right(StreamBody::new(futures_util::stream::iter(
                frames,
            ))))
    } else {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Either::Left(Full::new(Bytes::from_static(
                COMPLETION.as_bytes(),
            ))))
    };
    Ok(response.expect("a static response is valid"))
}

/// Starts the static upstream on the runtime; returns its address.
fn upstream(rt: &Runtime) -> SocketAddr {
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let frames = std::sync::Arc::new(sse_frames());
    rt.spawn(async move {
        let builder = Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let frames = frames.clone();
            let service =
                hyper::service::service_fn(move |request| answer(request, frames.clone()));
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            tokio::spawn(connection);
        }
    });
    addr
}

// === scenarios ===

/// Requests kept in flight at once: enough to keep both CPUs of a small machine busy, so that
/// the time per request is the inverse of throughput rather than a loopback wake-up latency.
const IN_FLIGHT: u64 = 16;

/// Runs `iters` requests made by `request`, `IN_FLIGHT` at a time on spawned tasks; returns
/// the wall time scaled to exactly `iters` requests.
async fn in_flight<F, Fut>(iters: u64, request: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future + Send + 'static,
{
    let per_task = iters.div_ceil(IN_FLIGHT).max(1);
    let started = Instant::now();
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    request().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a request task panicked");
    }
    let done = per_task * IN_FLIGHT;
    started.elapsed().mul_f64(iters as f64 / done as f64)
}

fn post(uri: &str, body: &Bytes) -> Request<Full<Bytes>> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Full::new(body.clone()))
        .expect("a static request is valid")
}

async fn bare(client: &HttpClient, uri: &str, body: &Bytes) -> Bytes {
    let response = client
        .request(post(uri, body))
        .await
        .expect("upstream answers");
    assert!(response.status().is_success());
    response
        .into_body()
        .collect()
        .await
        .expect("body completes")
        .to_bytes()
}

fn http_provider(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let addr = upstream(&rt);
    let yaml = format!(
        r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
providers:
  - name: upstream
    type: openai_compatible
    base_url: "http://{addr}/v1"
    models: [{MODEL}]
log:
  level: warn
"#
    );
    let config = config::parse(&yaml, "bench.yml", &|_| None).expect("the bench config is valid");
    let client = http_client(Duration::from_secs(10));
    let accounting = infermux::accounting::Accounting::open(
        &config,
        std::sync::Arc::new(infermux::core::SystemClock),
        &client,
    )
    .expect("in-memory accounting");
    let proxy = stack::build(&config, &client, &accounting).proxy;
    let upstream_uri = format!("http://{addr}/v1/chat/completions");

    let mut group = c.benchmark_group("http_provider");
    for (name, body) in [
        ("chat_small", chat_small()),
        ("chat_2k_tokens", chat_2k_tokens()),
        ("stream_64_chunks", chat_small_stream()),
    ] {
        // Once, outside the measurement: both legs really get the answer they claim to.
        let (direct, proxied) = rt.block_on(async {
            let direct = bare(&client, &upstream_uri, &body).await;
            let response = proxy
                .clone()
                .oneshot(post("/v1/chat/completions", &body))
                .await
                .expect("infallible");
            assert!(response.status().is_success(), "{}", response.status());
            let proxied = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (direct, proxied)
        });
        let proxied = String::from_utf8_lossy(&proxied);
        if name.starts_with("stream") {
            assert!(direct.ends_with(b"data: [DONE]\n\n"));
            assert!(proxied.ends_with("data: [DONE]\n\n"), "{proxied}");
            // The usage chunk infermux asked for is removed again: the client did not ask.
            assert_eq!(
                proxied.matches("data: ").count(),
                STREAM_CHUNKS + 3,
                "{proxied}"
            );
        } else {
            assert_eq!(&*direct, COMPLETION.as_bytes());
            assert_eq!(proxied, COMPLETION);
        }

        let uri = upstream_uri.clone();
        let c2 = client.clone();
        group.bench_function(format!("bare_client/{name}_x{IN_FLIGHT}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (client, uri, body) = (c2.clone(), uri.clone(), body.clone());
                in_flight(iters, move || {
                    let (client, uri, body) = (client.clone(), uri.clone(), body.clone());
                    async move { black_box(bare(&client, &uri, &body).await) }
                })
            });
        });
        group.bench_function(format!("full_stack/{name}_x{IN_FLIGHT}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (proxy, body) = (proxy.clone(), body.clone());
                in_flight(iters, move || {
                    let (proxy, body) = (proxy.clone(), body.clone());
                    async move {
                        let response = proxy
                            .oneshot(post("/v1/chat/completions", &body))
                            .await
                            .expect("infallible");
                        black_box(
                            response
                                .into_body()
                                .collect()
                                .await
                                .expect("body")
                                .to_bytes(),
                        )
                    }
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, http_provider);
criterion_main!(benches);
