//! What a provider's circuit-breaker gate costs per request, in process.
//!
//! - `breaker/identity`: a ready `service_fn` answering at once, called with `ready` + `call`
//!   on a fresh clone per request (the way dispatch calls a provider): the floor.
//! - `breaker/closed_gate`: the same service behind [`CircuitBreakerLayer`] with a closed
//!   circuit: a permit taken under the breaker's lock, the outcome classified and recorded
//!   into the sliding window, also under the lock.
//! - `breaker/open_gate_skip`: asking an open circuit's gate, which is not ready: the cost of
//!   skipping a provider.
//! - `breaker/rate_limiter_admit`: one admission through a provider's local rate limit with
//!   both `rpm` and `tpm` (never reached here).
//! - `breaker/stream_plain` and `breaker/stream_settled`: a streamed answer of 20 chunks read
//!   to its end, straight from the service and through the gate that settles it at the end of
//!   the stream ([`AtStreamEnd`]): the difference is what judging a stream by its end costs
//!   (one boxed body per stream, one lock when it ends, nothing per chunk).
//!
//! Run with `cargo bench --bench breaker`. Results: `docs/PERFORMANCE.md`.

use std::{convert::Infallible, hint::black_box, num::NonZeroU32, time::Duration};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::{FutureExt, StreamExt};
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use infermux::core::{InferBody, UsageSlot};
use infermux_breaker::{
    AtStreamEnd, Breaker, BreakerParams, CircuitBreakerLayer, Failure, Outcome, RateLimiter,
    RateLimits,
};
use tower::{Layer, Service, ServiceExt, service_fn};

fn classify(_: &Infallible) -> Outcome {
    Outcome::Failure(Failure::ServerError)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let identity = service_fn(|n: u64| async move { Ok::<_, Infallible>(n) });
    let mut group = c.benchmark_group("breaker");

    group.bench_function("identity", |b| {
        b.to_async(&rt).iter(|| async {
            let mut service = identity;
            let ready = service.ready().await.expect("ready");
            black_box(ready.call(black_box(1)).await.expect("answer"))
        });
    });

    let params = BreakerParams {
        min_requests: u32::MAX,
        ..BreakerParams::default()
    };
    let gate = CircuitBreakerLayer::new(
        Breaker::new("bench".into(), params),
        classify as fn(&Infallible) -> Outcome,
    )
    .layer(identity);
    group.bench_function("closed_gate", |b| {
        b.to_async(&rt).iter(|| async {
            let mut service = gate.clone();
            let ready = service.ready().await.expect("ready");
            black_box(ready.call(black_box(1)).await.expect("answer"))
        });
    });

    let open = Breaker::new(
        "bench".into(),
        BreakerParams {
            min_requests: 1,
            recovery: Duration::from_secs(3600),
            ..BreakerParams::default()
        },
    );
    if let Ok(permit) = open.admit() {
        permit.record(Outcome::Failure(Failure::ServerError), Duration::ZERO);
    }
    let open_gate =
        CircuitBreakerLayer::new(open, classify as fn(&Infallible) -> Outcome).layer(identity);
    group.bench_function("open_gate_skip", |b| {
        b.iter(|| {
            let mut service = open_gate.clone();
            black_box(service.ready().now_or_never().is_none())
        });
    });

    let limiter = RateLimiter::new(RateLimits {
        rpm: NonZeroU32::new(u32::MAX),
        tpm: NonZeroU32::new(u32::MAX),
    });
    group.bench_function("rate_limiter_admit", |b| {
        b.iter(|| black_box(limiter.try_admit(black_box(100)).is_ok()));
    });

    let streaming = service_fn(|_: u64| async { Ok::<_, Infallible>(stream_of(20)) });
    group.bench_function("stream_plain", |b| {
        b.to_async(&rt).iter(|| async {
            let mut service = streaming;
            let ready = service.ready().await.expect("ready");
            let response = ready.call(black_box(1)).await.expect("answer");
            black_box(response.into_body().collect().await.expect("body"))
        });
    });
    let settled = CircuitBreakerLayer::new(
        Breaker::new("bench".into(), params),
        classify as fn(&Infallible) -> Outcome,
    )
    .settle_with(AtStreamEnd)
    .layer(streaming);
    group.bench_function("stream_settled", |b| {
        b.to_async(&rt).iter(|| async {
            let mut service = settled.clone();
            let ready = service.ready().await.expect("ready");
            let response = ready.call(black_box(1)).await.expect("answer");
            black_box(response.into_body().collect().await.expect("body"))
        });
    });
    group.finish();
}

/// A streamed answer of `chunks` SSE events that completes.
fn stream_of(chunks: usize) -> Response<InferBody> {
    let usage = UsageSlot::new();
    let marker = usage.clone();
    let frames = futures_util::stream::iter(0..=chunks).map(move |i| {
        if i == chunks {
            marker.mark_completed();
            return Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(
                b"data: [DONE]\n\n",
            )));
        }
        Ok(http_body::Frame::data(Bytes::from_static(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"word \"}}]}\n\n",
        )))
    });
    Response::new(InferBody::new(StreamBody::new(frames), usage))
}

criterion_group!(breaker, benches);
criterion_main!(breaker);
