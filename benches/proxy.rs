//! The cost of infermux's own hot path, in process, with no sockets.
//!
//! Each scenario is measured next to the identity it is built on, so that the difference is
//! the overhead of one piece of the stack (STYLE habit 15):
//!
//! - `ingress_parse/*`: [`Ingress`] over an identity inner service (a `service_fn` answering an
//!   empty `Response<InferBody>`): route match, request id, body read under the size limit,
//!   the one JSON parse, validation, the access-log/metrics calls (no subscriber or recorder
//!   is installed here, so those are near no-ops; the end-to-end bench has them on).
//!   `identity/*` is the floor: the same request and body collected by a bare `service_fn`.
//! - `wire_json/*`: the serde work inside ingress and the OpenAI adapter, alone: the typed
//!   `ChatRequest` parse (with its `#[serde(flatten)]` catch-all maps), the same body parsed
//!   into a plain `serde_json::Value` for comparison, and clone + re-serialise (what
//!   `openai::encode_chat` does per upstream request).
//! - `dispatch/*`: the built-in `mock` provider called directly with a `ProviderCall`, then
//!   through [`Dispatch`] (candidate lookup, `Arc` of the request, boxed service, headers).
//! - `full_stack/*`: the whole [`stack::build`] for a config of one `mock` provider with zero
//!   latency, driven with `oneshot` and the response body collected.
//! - `stream_translate/*`: [`TranslatedBody`] over 64 OpenAI `chat.completion.chunk` events.
//!   The OpenAI pass-through decoder (`provider::openai::StreamFilter`) is crate-private, so
//!   this measures the public machinery with a decoder that passes each event's data through
//!   unparsed: SSE parsing alone (`sse_parse_only`), the translated body alone over
//!   pre-decoded items (`translated_body_identity`), and both (`sse_identity_decoder`). The
//!   real decoder adds one small `serde_json` probe per chunk on top of the last; it is
//!   measured end to end, over loopback, by `benches/http_provider.rs`
//!   (`http_provider/full_stack/stream_64_chunks_x16`).
//!   `sse_stream_filter_64_chunks` is that translated path with the real filter
//!   (`infermux_wire::openai::StreamFilter`), and `forward_body_64_chunks` is what an OpenAI
//!   chat stream takes now: [`ForwardBody`], the provider's frames passed on with a byte scan.
//!
//! - `observability/*`: `full_stack/mock_chat` with the Prometheus recorder installed, then
//!   also the `info` access log (to `/dev/null`), as `infermux serve` runs. Last, because both
//!   are process-global.
//!
//! Run with `cargo bench --bench proxy` (append `-- --measurement-time 3 --warm-up-time 1`
//! for a quicker pass). Results and the machine they ran on: `docs/PERFORMANCE.md`.

use std::{collections::HashMap, convert::Infallible, hint::black_box, sync::Arc, time::Duration};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{StreamExt, stream};
use http::{Request, Response, header};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use infermux::{
    config::{self, Config},
    core::{
        BoxError, Caller, InferBody, InferRequest, ProviderName, RequestBody, RequestId, Usage,
        UsageSlot, chat::ChatRequest,
    },
    ingress::{Ingress, IngressSettings},
    provider::{
        ChunkDecoder, Dispatch, ForwardBody, MockProvider, MockSettings, ProviderCall,
        ProviderService, TranslatedBody, http_client,
    },
    stack,
};
use serde_json::json;
use sse_stream::{Sse, SseStream};
use tokio::runtime::Runtime;
use tower::{ServiceExt, service_fn, util::BoxCloneSyncService};

#[path = "common/bodies.rs"]
mod bodies;

use bodies::{MODEL, chat_2k_tokens, chat_small, chat_small_stream};

/// Number of chunks in the streaming scenarios.
const STREAM_CHUNKS: usize = 64;

/// One provider, the built-in mock, answering at once.
const MOCK_CONFIG: &str = r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
providers:
  - name: mock
    type: mock
    models: [gpt-4o-mini]
    mock:
      latency: 0s
      chunk_interval: 0s
log:
  level: warn
"#;

/// `POST /v1/chat/completions` with `body`, as a client would send it.
fn post(body: &Bytes, request_id: Option<&'static str>) -> Request<Full<Bytes>> {
    let mut builder = Request::post("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(id) = request_id {
        builder = builder.header("x-request-id", id);
    }
    builder
        .body(Full::new(body.clone()))
        .expect("a static request is valid")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

fn mock_config() -> Config {
    config::parse(MOCK_CONFIG, "bench.yml", &|_| None).expect("the bench config is valid")
}

/// Reads a response body to the end, as the server would write it.
async fn drain(response: Response<InferBody>) -> Bytes {
    response
        .into_body()
        .collect()
        .await
        .expect("the body completes")
        .to_bytes()
}

// === ingress_parse ===

fn ingress_parse(c: &mut Criterion) {
    let rt = runtime();
    let identity = service_fn(|request: InferRequest| async move {
        black_box(&request);
        Ok::<_, BoxError>(Response::new(InferBody::default()))
    });
    let ingress = Ingress::new(identity, IngressSettings::new(4 << 20, [MODEL]));
    // The floor: the same request, its body collected, no parse.
    let floor = service_fn(|request: Request<Full<Bytes>>| async move {
        let bytes = request
            .into_body()
            .collect()
            .await
            .expect("Full cannot fail")
            .to_bytes();
        black_box(bytes);
        Ok::<_, Infallible>(Response::new(InferBody::default()))
    });

    let mut group = c.benchmark_group("ingress_parse");
    for (name, body) in [
        ("chat_small", chat_small()),
        ("chat_2k_tokens", chat_2k_tokens()),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("identity/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let response = floor.oneshot(post(&body, None)).await;
                black_box(response.expect("infallible"))
            });
        });
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let response = ingress.clone().oneshot(post(&body, None)).await;
                black_box(response.expect("infallible"))
            });
        });
    }
    // With a client-supplied id ingress skips generating a UUID v4.
    let body = chat_small();
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("chat_small_with_request_id", |b| {
        b.to_async(&rt).iter(|| async {
            let request = post(&body, Some("bench-request-1"));
            let response = ingress.clone().oneshot(request).await;
            black_box(response.expect("infallible"))
        });
    });
    group.finish();
}

// === wire_json ===

fn wire_json(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire_json");
    for (name, body) in [
        ("chat_small", chat_small()),
        ("chat_2k_tokens", chat_2k_tokens()),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("parse_typed/{name}"), |b| {
            b.iter(|| {
                let chat: ChatRequest =
                    serde_json::from_slice(black_box(&body)).expect("valid chat request");
                black_box(chat)
            });
        });
        group.bench_function(format!("parse_value/{name}"), |b| {
            b.iter(|| {
                let value: serde_json::Value =
                    serde_json::from_slice(black_box(&body)).expect("valid JSON");
                black_box(value)
            });
        });
        let chat: ChatRequest = serde_json::from_slice(&body).expect("valid chat request");
        // What `openai::encode_chat` does: clone the whole request, replace the model,
        // serialise.
        group.bench_function(format!("clone_and_encode/{name}"), |b| {
            b.iter(|| {
                let mut outgoing = black_box(&chat).clone();
                outgoing.model = MODEL.to_owned();
                black_box(serde_json::to_vec(&outgoing).expect("serialisable"))
            });
        });
        group.bench_function(format!("encode_only/{name}"), |b| {
            b.iter(|| black_box(serde_json::to_vec(black_box(&chat)).expect("serialisable")));
        });
    }
    group.finish();
}

// === dispatch ===

/// The mock provider of `config`, built as `stack::provider_service` (private) builds it: keep
/// the two in step.
fn mock_provider(config: &Config) -> MockProvider {
    let p = &config.providers[0];
    MockProvider::new(MockSettings {
        name: p.name.clone(),
        latency: p.mock.latency,
        chunk_interval: p.mock.chunk_interval,
        timeout: p.timeout,
        reply: p.mock.reply.clone(),
        prompt_tokens: p.mock.prompt_tokens,
        completion_tokens: p.mock.completion_tokens,
    })
}

fn infer_request(body: &Bytes) -> InferRequest {
    let chat: ChatRequest = serde_json::from_slice(body).expect("valid chat request");
    InferRequest::new(
        RequestBody::Chat(chat),
        Caller::anonymous(),
        RequestId::new("bench-request-1"),
    )
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let config = mock_config();
    let provider = mock_provider(&config);
    let service: ProviderService = BoxCloneSyncService::new(provider.clone());
    let providers = HashMap::from([(ProviderName::new("mock"), service)]);
    let dispatch = Dispatch::new(stack::catalog(&config), providers);
    let request = infer_request(&chat_small());
    let shared = Arc::new(request.clone());
    let upstream_model: Arc<str> = MODEL.into();

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("mock_provider_direct/chat_small", |b| {
        b.to_async(&rt).iter(|| async {
            let call = ProviderCall {
                request: shared.clone(),
                upstream_model: upstream_model.clone(),
            };
            let response = provider.clone().oneshot(call).await.expect("mock answers");
            black_box(drain(response).await)
        });
    });
    group.bench_function("mock_chat", |b| {
        b.to_async(&rt).iter(|| async {
            let response = dispatch
                .clone()
                .oneshot(request.clone())
                .await
                .expect("mock answers");
            black_box(drain(response).await)
        });
    });
    group.finish();
}

// === full_stack ===

/// In-memory spend accounting (the config has no `state_file`).
fn accounting(
    config: &infermux::config::Config,
    client: &infermux::provider::HttpClient,
) -> infermux::accounting::Accounting {
    let clock = std::sync::Arc::new(infermux::core::SystemClock);
    infermux::accounting::Accounting::open(config, clock, client).expect("in-memory accounting")
}

fn full_stack(c: &mut Criterion) {
    let rt = runtime();
    let config = mock_config();
    // Building the client needs no runtime; the mock provider never uses it.
    let client = http_client(Duration::from_secs(10));
    let proxy = stack::build(&config, &client, &accounting(&config, &client)).proxy;

    let mut group = c.benchmark_group("full_stack");
    for (name, body) in [
        ("mock_chat", chat_small()),
        ("mock_chat_2k_tokens", chat_2k_tokens()),
        ("mock_stream", chat_small_stream()),
    ] {
        // Once, outside the measurement: the scenario really answers what it claims to.
        let sample = rt.block_on(async {
            let response = proxy.clone().oneshot(post(&body, None)).await;
            drain(response.expect("infallible")).await
        });
        let text = String::from_utf8_lossy(&sample);
        let complete = if name == "mock_stream" {
            text.ends_with("data: [DONE]\n\n")
        } else {
            text.contains("\"chat.completion\"")
        };
        assert!(complete, "{name}: unexpected answer {text}");
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let response = proxy
                    .clone()
                    .oneshot(post(&body, None))
                    .await
                    .expect("infallible");
                assert!(response.status().is_success(), "{}", response.status());
                black_box(drain(response).await)
            });
        });
    }
    group.finish();
}

// === stream_translate ===

/// Passes each item's data through unparsed (the public stand-in for OpenAI's decoder).
struct Identity;

impl ChunkDecoder for Identity {
    type Item = Sse;

    fn feed(&mut self, event: Sse) -> Result<Vec<String>, String> {
        match event.data {
            Some(data) if data == "[DONE]" => Ok(vec![]),
            Some(data) => Ok(vec![data]),
            None => Ok(vec![]),
        }
    }

    fn finish(&mut self) -> Result<Vec<String>, String> {
        Ok(vec![])
    }

    fn usage(&self) -> Usage {
        Usage::default()
    }
}

/// 64 OpenAI chunk events as an upstream would send them, one HTTP frame each, then
/// `[DONE]`.
fn openai_sse_frames() -> Vec<Bytes> {
    let mut frames: Vec<Bytes> = (0..STREAM_CHUNKS)
        .map(|i| {
            let chunk = json!({
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": MODEL,
                "choices": [{"index": 0, "delta": {"content": format!("word{i} ")},
                             "logprobs": null, "finish_reason": null}],
            });
            Bytes::from(format!("data: {chunk}\n\n"))
        })
        .collect();
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

fn sse_stream(frames: &[Bytes]) -> SseStream<StreamBody<stream::Iter<std::vec::IntoIter<Frames>>>> {
    let frames: Vec<Frames> = frames.iter().cloned().map(|b| Ok(Frame::data(b))).collect();
    SseStream::new(StreamBody::new(stream::iter(frames)))
}

/// One upstream body frame.
type Frames = Result<Frame<Bytes>, Infallible>;

fn stream_translate(c: &mut Criterion) {
    let rt = runtime();
    let frames = openai_sse_frames();
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let events: Vec<Sse> = frames
        .iter()
        .map(|f| {
            let text = std::str::from_utf8(f).expect("utf-8");
            let data = text
                .strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .expect("one data line");
            Sse::default().data(data)
        })
        .collect();
    let idle = Duration::from_secs(60);

    let mut group = c.benchmark_group("stream_translate");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("sse_parse_only_64_chunks", |b| {
        b.to_async(&rt).iter(|| async {
            let mut events = sse_stream(&frames);
            let mut n = 0usize;
            while let Some(event) = events.next().await {
                black_box(event.expect("valid SSE"));
                n += 1;
            }
            black_box(n)
        });
    });
    group.bench_function("translated_body_identity_64_chunks", |b| {
        // The items are cloned outside the measurement: an upstream decoder would have
        // allocated them anyway.
        b.to_async(&rt).iter_batched(
            || events.clone(),
            |events| async move {
                let upstream = stream::iter(events.into_iter().map(Ok::<_, BoxError>));
                let body = TranslatedBody::new(upstream, Identity, UsageSlot::new(), "bench", idle);
                black_box(body.collect().await.expect("complete").to_bytes())
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("sse_identity_decoder_64_chunks", |b| {
        b.to_async(&rt).iter(|| async {
            let upstream = sse_stream(&frames).map(|e| e.map_err(BoxError::from));
            let body = TranslatedBody::new(upstream, Identity, UsageSlot::new(), "bench", idle);
            black_box(body.collect().await.expect("complete").to_bytes())
        });
    });
    group.bench_function("sse_stream_filter_64_chunks", |b| {
        b.to_async(&rt).iter(|| async {
            let upstream = sse_stream(&frames).map(|e| e.map_err(BoxError::from));
            let filter = infermux_wire::openai::StreamFilter::new(false);
            let body = TranslatedBody::new(upstream, filter, UsageSlot::new(), "bench", idle);
            black_box(body.collect().await.expect("complete").to_bytes())
        });
    });
    group.bench_function("forward_body_64_chunks", |b| {
        b.to_async(&rt).iter(|| async {
            let frames: Vec<Frames> = frames.iter().cloned().map(|b| Ok(Frame::data(b))).collect();
            let upstream = StreamBody::new(stream::iter(frames));
            let body = ForwardBody::new(upstream, false, UsageSlot::new(), "bench", idle);
            black_box(body.collect().await.expect("complete").to_bytes())
        });
    });
    group.finish();
}

// === observability ===

/// `full_stack/mock_chat` again with what `infermux serve` installs: first the Prometheus
/// recorder (request and attempt counters, the latency histogram), then also a text log
/// subscriber at `info` (one access-log line per request) writing to `/dev/null`. Both are
/// process-global, so this group runs last.
fn observability(c: &mut Criterion) {
    let rt = runtime();
    let (config, client) = (mock_config(), http_client(Duration::from_secs(10)));
    let proxy = stack::build(&config, &client, &accounting(&config, &client)).proxy;
    let body = chat_small();
    let mut group = c.benchmark_group("observability");
    let _metrics = infermux::management::prometheus();
    group.bench_function("full_stack/mock_chat_metrics", |b| {
        b.to_async(&rt).iter(|| async {
            let response = proxy.clone().oneshot(post(&body, None)).await;
            black_box(drain(response.expect("infallible")).await)
        });
    });
    let devnull = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("/dev/null opens");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,hyper=warn,h2=warn,rustls=warn",
        ))
        .with_writer(std::sync::Mutex::new(devnull))
        .with_ansi(false)
        .try_init()
        .expect("no other subscriber is installed");
    group.bench_function("full_stack/mock_chat_metrics_log_info", |b| {
        b.to_async(&rt).iter(|| async {
            let response = proxy.clone().oneshot(post(&body, None)).await;
            black_box(drain(response.expect("infallible")).await)
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    ingress_parse,
    wire_json,
    dispatch,
    full_stack,
    stream_translate,
    observability
);
criterion_main!(benches);
