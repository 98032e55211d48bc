//! The overhead of cost accounting on a complete response, against an identity service.
//!
//! - `cost/identity`: the inner service alone (builds a priced response: the baseline).
//! - `cost/memory_store`: [`CostLayer`] over it with the in-memory store: price the usage,
//!   record the ledger entry, set `X-Infermux-Cost`, emit the metrics.
//! - `cost/file_store`: the same with the durable [`FileStore`]: each response waits for its
//!   journal line's `fdatasync` (one at a time here, so no group commit helps).
//!
//! - `cost/stream_identity` and `cost/stream_memory_store`: the same for a streamed answer of
//!   64 OpenAI content chunks and `[DONE]` (one frame each), the body drained: what the cost
//!   layer does per chunk (reading the generated text as it passes, holding `[DONE]` until
//!   the cost is recorded).
//!
//! Run with `cargo bench --bench cost`. Results: `docs/PERFORMANCE.md`, "Cost and budgets".

use std::{hint::black_box, sync::Arc};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Response;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use infermux::core::{
    BoxError, InferBody, InferRequest, Price, PriceTable, RequestBody, Served, SpendStore,
    SystemClock, Usage, UsageSlot, chat::ChatRequest,
};
use infermux_budget::{FileStore, MemoryStore};
use infermux_cost::CostLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

async fn provider(_: InferRequest) -> Result<Response<InferBody>, BoxError> {
    let usage = Usage {
        prompt_tokens: 8,
        completion_tokens: 1,
        ..Usage::default()
    };
    let mut response = Response::new(InferBody::full_with_usage("{}", usage));
    response.extensions_mut().insert(Served {
        provider: "openai".into(),
        upstream_model: "gpt-4o-mini".into(),
    });
    Ok(response)
}

/// Content chunks in the streamed answer.
const STREAM_CHUNKS: usize = 64;

/// A provider streaming [`STREAM_CHUNKS`] content chunks and `[DONE]`, its usage known.
async fn stream_provider(_: InferRequest) -> Result<Response<InferBody>, BoxError> {
    let mut frames: Vec<Result<Frame<Bytes>, BoxError>> = (0..STREAM_CHUNKS)
        .map(|i| {
            Ok(Frame::data(Bytes::from(format!(
                "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
            ))))
        })
        .collect();
    frames.push(Ok(Frame::data(Bytes::from_static(b"data: [DONE]\n\n"))));
    let usage = Usage {
        prompt_tokens: 8,
        completion_tokens: STREAM_CHUNKS as u64,
        ..Usage::default()
    };
    let body = StreamBody::new(futures_util::stream::iter(frames));
    let mut response = Response::new(InferBody::new(body, UsageSlot::filled(usage)));
    response.extensions_mut().insert(Served {
        provider: "openai".into(),
        upstream_model: "gpt-4o-mini".into(),
    });
    Ok(response)
}

fn stream_request() -> InferRequest {
    let chat: ChatRequest = serde_json::from_str(
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
    )
    .expect("chat");
    InferRequest::new(RequestBody::Chat(chat), "bench".into(), "r".into())
}

/// Benches `service` on a streamed request, draining the body.
fn bench_stream<S>(c: &mut Criterion, name: &str, service: S)
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError> + Clone,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function(name, |b| {
        b.to_async(&rt).iter(|| {
            let service = service.clone();
            async move {
                let response = service.oneshot(stream_request()).await.expect("served");
                black_box(
                    response
                        .into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes(),
                )
            }
        });
    });
}

fn request() -> InferRequest {
    let chat: ChatRequest = serde_json::from_str(
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .expect("chat");
    InferRequest::new(RequestBody::Chat(chat), "bench".into(), "r".into())
}

fn prices() -> PriceTable {
    PriceTable::default().with_price(
        "openai".into(),
        "gpt-4o-mini",
        Price::per_million(0.15, 0.60, Some(0.075), None).expect("price"),
    )
}

fn bench<S>(c: &mut Criterion, name: &str, service: S)
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError> + Clone,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function(name, |b| {
        b.to_async(&rt).iter(|| {
            let service = service.clone();
            async move { black_box(service.oneshot(request()).await.expect("served")) }
        });
    });
}

fn cost(c: &mut Criterion) {
    bench(c, "cost/identity", service_fn(provider));
    let memory: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
    let layer = CostLayer::new(memory, prices(), Arc::new(SystemClock));
    bench(c, "cost/memory_store", layer.layer(service_fn(provider)));
    let dir = tempfile::tempdir().expect("tempdir");
    let file: Arc<dyn SpendStore> =
        Arc::new(FileStore::open(dir.path().join("budgets.json")).expect("store"));
    let layer = CostLayer::new(file, prices(), Arc::new(SystemClock));
    bench(c, "cost/file_store", layer.layer(service_fn(provider)));
    bench_stream(c, "cost/stream_identity", service_fn(stream_provider));
    let memory: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
    let layer = CostLayer::new(memory, prices(), Arc::new(SystemClock));
    bench_stream(
        c,
        "cost/stream_memory_store",
        layer.layer(service_fn(stream_provider)),
    );
}

criterion_group!(benches, cost);
criterion_main!(benches);
