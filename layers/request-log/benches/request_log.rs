//! The request log's cost on the hot path, and its write throughput.
//!
//! - `request_log/identity`: an identity service that answers a priced, complete response
//!   (the baseline).
//! - `request_log/layer`: [`RequestLogLayer`] over it, its writer running on another thread
//!   into a SQLite file: build the row from the request and the response, queue it. The
//!   difference to `identity` is what the log adds to a request.
//! - `request_log/record`: [`RequestLog::record`] alone (a `try_send`).
//! - `request_log/sqlite_insert_1000`: one transaction of 1,000 rows into a SQLite file in
//!   WAL mode, as the writer does; throughput in rows per second. Every row has the same
//!   caller.
//! - `request_log/sqlite_insert_1000_64_callers`: the same, the rows' callers taking turns
//!   among 64 names, as a gateway's many applications and keys do.
//!
//! Run with `cargo bench -p infermux-request-log`. Results: `docs/PERFORMANCE.md`.

#![allow(missing_docs)]

use std::{hint::black_box, sync::Arc, time::SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::Response;
use infermux_core::{
    BoxError, InferBody, InferRequest, Money, RequestBody, Routed, Served, Settled, SettledSlot,
    Usage, chat::ChatRequest,
};
use infermux_request_log::{
    LogOptions, RequestLog, RequestLogLayer, RequestRecord, RequestStore, SqliteStore,
};
use tower::{Layer, ServiceExt, service_fn};

async fn provider(_: InferRequest) -> Result<Response<InferBody>, BoxError> {
    let usage = Usage::new(8, 1);
    let mut response = Response::new(InferBody::full_with_usage("{}", usage));
    let slot = SettledSlot::new();
    slot.set(Settled {
        usage,
        cost: Money::from_picos(1_800_000),
        estimated: false,
    });
    let extensions = response.extensions_mut();
    extensions.insert(Served::new("openai", "gpt-4o-mini"));
    extensions.insert(Routed::default());
    extensions.insert(slot);
    Ok(response)
}

fn request() -> InferRequest {
    let chat: ChatRequest = serde_json::from_str(
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .expect("chat");
    InferRequest::new(RequestBody::Chat(chat), "bench".into(), "r".into())
}

fn hot_path(c: &mut Criterion) {
    // The writer runs on the worker thread; the bench drives requests on this one.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("requests.db")).expect("store");
    let log = rt.block_on(async {
        RequestLog::start(
            Arc::new(store),
            LogOptions::default(),
            Arc::new(infermux_core::SystemClock),
        )
    });
    let classify: infermux_request_log::Classify = |_| (502, "provider_error");

    let identity = service_fn(provider);
    c.bench_function("request_log/identity", |b| {
        b.to_async(&rt).iter(|| {
            let service = identity;
            async move { black_box(service.oneshot(request()).await.expect("served")) }
        });
    });
    let logged = RequestLogLayer::new(log.clone(), classify, Arc::new(infermux_core::SystemClock))
        .layer(service_fn(provider));
    c.bench_function("request_log/layer", |b| {
        b.to_async(&rt).iter(|| {
            let service = logged.clone();
            async move { black_box(service.oneshot(request()).await.expect("served")) }
        });
    });
    let record = RequestRecord::begin(&request(), SystemTime::now());
    c.bench_function("request_log/record", |b| {
        b.iter(|| log.record(black_box(record.clone())));
    });
    rt.block_on(log.flush());
}

fn write_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut row = RequestRecord::begin(&request(), SystemTime::now());
    row.provider = Some("openai".into());
    row.model = Some("gpt-4o-mini".into());
    row.status = 200;
    row.prompt_tokens = 812;
    row.completion_tokens = 96;
    row.cost = Money::from_picos(179_400_000);
    let one_caller = vec![row.clone(); 1_000];
    let callers: Vec<Arc<str>> = (0..64).map(|i| format!("app-{i}").into()).collect();
    let many_callers: Vec<RequestRecord> = (0..1_000)
        .map(|i| RequestRecord {
            caller: callers[i % callers.len()].clone(),
            ..row.clone()
        })
        .collect();
    let mut group = c.benchmark_group("request_log");
    group.throughput(Throughput::Elements(1_000));
    for (name, rows) in [
        ("sqlite_insert_1000", one_caller),
        ("sqlite_insert_1000_64_callers", many_callers),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("requests.db")).expect("store");
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                || rows.clone(),
                |rows| async { store.insert(black_box(rows)).await.expect("inserted") },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path, write_throughput);
criterion_main!(benches);
