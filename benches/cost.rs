//! The overhead of cost accounting on a complete response, against an identity service.
//!
//! - `cost/identity`: the inner service alone (builds a priced response: the baseline).
//! - `cost/memory_store`: [`CostLayer`] over it with the in-memory store: price the usage,
//!   record the ledger entry, set `X-Infermux-Cost`, emit the metrics.
//! - `cost/file_store`: the same with the durable [`FileStore`]: each response waits for its
//!   journal line's `fdatasync` (one at a time here, so no group commit helps).
//!
//! Run with `cargo bench --bench cost`. Results: `docs/PERFORMANCE.md`, "Cost and budgets".

use std::{hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use http::Response;
use infermux::core::{
    BoxError, InferBody, InferRequest, Price, PriceTable, RequestBody, Served, SpendStore,
    SystemClock, Usage, chat::ChatRequest,
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
}

criterion_group!(benches, cost);
criterion_main!(benches);
