//! Streamed answers through the gate: the outcome is decided when the stream ends. The clock
//! is tokio's, paused; bodies are fed step by step from the test.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use infermux_core::{BoxError, CircuitState, InferBody, UsageSlot};
use proptest::prelude::*;
use tokio::sync::mpsc;
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::{AtStreamEnd, Breaker, BreakerParams, CircuitBreakerLayer, Failure, Outcome};

/// One step of a provider's stream, as the test feeds it.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A chunk.
    Chunk,
    /// The terminal event: the provider body marks the stream completed and ends.
    Complete,
    /// The stream ends without its terminal event (the provider cut it, or its body ended
    /// it with an error event after a stall).
    Cut,
    /// The body fails.
    Error,
}

/// A provider body fed by the test, marking its slot completed the way infermux's do.
struct Fed {
    steps: mpsc::UnboundedReceiver<Step>,
    usage: UsageSlot,
}

impl Body for Fed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(match std::task::ready!(self.steps.poll_recv(cx)) {
            Some(Step::Chunk) => Some(Ok(Frame::data(Bytes::from_static(b"data: {}\n\n")))),
            Some(Step::Complete) => {
                self.usage.mark_completed();
                None
            }
            Some(Step::Cut) | None => None,
            Some(Step::Error) => Some(Err("connection reset".into())),
        })
    }
}

fn params() -> BreakerParams {
    BreakerParams {
        window: Duration::from_secs(60),
        min_requests: 4,
        error_rate: 0.5,
        p95_latency: Duration::from_secs(1),
        recovery: Duration::from_secs(5),
        max_recovery: Duration::from_secs(40),
        max_cooldown: Duration::from_secs(60),
    }
}

type Feed = mpsc::UnboundedSender<Step>;
/// What the test services answer.
type Answer = std::future::Ready<Result<Response<InferBody>, &'static str>>;
type Gate = crate::CircuitBreaker<
    tower::util::ServiceFn<fn(mpsc::UnboundedReceiver<Step>) -> Answer>,
    fn(&&'static str) -> Outcome,
    AtStreamEnd,
>;

fn answer(steps: mpsc::UnboundedReceiver<Step>) -> Answer {
    let usage = UsageSlot::new();
    let body = Fed {
        steps,
        usage: usage.clone(),
    };
    std::future::ready(Ok(Response::new(InferBody::new(body, usage))))
}

fn gate(breaker: &Breaker) -> Gate {
    let classify: fn(&&'static str) -> Outcome = |_| Outcome::Failure(Failure::ServerError);
    let answer: fn(_) -> _ = answer;
    CircuitBreakerLayer::new(breaker.clone(), classify)
        .settle_with(AtStreamEnd)
        .layer(service_fn(answer))
}

/// Sends one streamed request through `breaker`: its feed and its response body.
async fn open_stream(breaker: &Breaker) -> (Feed, InferBody) {
    let (feed, steps) = mpsc::unbounded_channel();
    let response = gate(breaker)
        .ready()
        .await
        .expect("ready")
        .call(steps)
        .await
        .expect("response");
    (feed, response.into_body())
}

/// Feeds `steps`, reading the body as it goes, `gap` apart.
async fn play(feed: &Feed, body: &mut InferBody, steps: &[Step], gap: Duration) -> bool {
    for step in steps {
        tokio::time::sleep(gap).await;
        feed.send(*step).expect("body alive");
        if let Some(Err(_)) | None = body.frame().await {
            return false;
        }
    }
    true
}

async fn stream(breaker: &Breaker, end: Step, chunks: usize, gap: Duration) {
    let (feed, mut body) = open_stream(breaker).await;
    let mut steps = vec![Step::Chunk; chunks];
    steps.push(end);
    play(&feed, &mut body, &steps, gap).await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_counts_only_once_it_ends() {
    let breaker = Breaker::new("p".into(), params());
    let (feed, mut body) = open_stream(&breaker).await;
    play(
        &feed,
        &mut body,
        &[Step::Chunk; 3],
        Duration::from_millis(10),
    )
    .await;
    assert_eq!(
        breaker.stats().requests,
        0,
        "still streaming: no verdict yet"
    );
    play(&feed, &mut body, &[Step::Complete], Duration::ZERO).await;
    assert_eq!(breaker.stats().requests, 1);
    assert_eq!(breaker.stats().errors, 0);
}

#[tokio::test(start_paused = true)]
async fn streams_cut_mid_way_open_the_circuit() {
    let breaker = Breaker::new("p".into(), params());
    for _ in 0..4 {
        stream(&breaker, Step::Cut, 5, Duration::from_millis(10)).await;
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.stats().errors, 4);
}

#[tokio::test(start_paused = true)]
async fn a_body_error_mid_stream_is_a_failure() {
    let breaker = Breaker::new("p".into(), params());
    stream(&breaker, Step::Error, 2, Duration::from_millis(10)).await;
    assert_eq!(breaker.stats().errors, 1);
}

#[tokio::test(start_paused = true)]
async fn long_steady_streams_are_neither_slow_nor_failed() {
    let window = Duration::from_secs(3600);
    let breaker = Breaker::new("p".into(), BreakerParams { window, ..params() });
    // Each answer takes 30 s (300 chunks, 100 ms apart): 30 times the p95 threshold, but its
    // first byte came at once.
    for _ in 0..20 {
        stream(&breaker, Step::Complete, 300, Duration::from_millis(100)).await;
    }
    let stats = breaker.stats();
    assert_eq!(stats.requests, 20);
    assert_eq!((stats.errors, stats.slow), (0, 0));
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_client_abandoning_a_stream_gives_no_verdict() {
    let breaker = Breaker::new("p".into(), params());
    for _ in 0..10 {
        let (feed, mut body) = open_stream(&breaker).await;
        play(
            &feed,
            &mut body,
            &[Step::Chunk; 2],
            Duration::from_millis(10),
        )
        .await;
        drop(body);
    }
    assert_eq!(breaker.stats().requests, 0);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

/// Opens the circuit and waits for it to turn half-open.
async fn half_open(breaker: &Breaker) {
    for _ in 0..4 {
        stream(breaker, Step::Cut, 1, Duration::ZERO).await;
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    tokio::time::sleep(params().recovery).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_stream_frees_the_probe_slot() {
    let breaker = Breaker::new("p".into(), params());
    half_open(&breaker).await;
    let (feed, mut body) = open_stream(&breaker).await;
    play(&feed, &mut body, &[Step::Chunk], Duration::ZERO).await;
    assert!(
        breaker.admit().is_err(),
        "the probe slot is held while the probe streams"
    );
    drop(body);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    let next = breaker.admit().expect("the next caller probes");
    assert!(next.is_probe());
}

#[tokio::test(start_paused = true)]
async fn a_waiting_caller_is_woken_when_a_probe_stream_is_abandoned() {
    let breaker = Breaker::new("p".into(), params());
    half_open(&breaker).await;
    let (_feed, body) = open_stream(&breaker).await;
    let mut waiting = gate(&breaker);
    let mut ready = std::pin::pin!(waiting.ready());
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut ready)
            .await
            .is_err(),
        "the probe streams: the slot is taken"
    );
    drop(body);
    // Woken by the freed slot, long before the recovery time would wake it.
    tokio::time::timeout(Duration::from_millis(1), ready)
        .await
        .expect("woken")
        .expect("ready");
}

#[tokio::test(start_paused = true)]
async fn a_long_probe_stream_closes_the_circuit_when_it_completes() {
    let breaker = Breaker::new("p".into(), params());
    half_open(&breaker).await;
    let (feed, mut body) = open_stream(&breaker).await;
    play(
        &feed,
        &mut body,
        &[Step::Chunk; 50],
        Duration::from_millis(100),
    )
    .await;
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "5 s in, still probing"
    );
    play(&feed, &mut body, &[Step::Complete], Duration::ZERO).await;
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_probe_stream_cut_mid_way_reopens_the_circuit() {
    let breaker = Breaker::new("p".into(), params());
    half_open(&breaker).await;
    stream(&breaker, Step::Cut, 3, Duration::from_millis(10)).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_at_its_end_without_being_asked_for_it_still_counts() {
    /// A body at its end that says so, as a server that stops at `is_end_stream` sees it.
    struct Finished;
    impl Body for Finished {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(None)
        }
        fn is_end_stream(&self) -> bool {
            true
        }
    }
    let breaker = Breaker::new("p".into(), params());
    let usage = UsageSlot::new();
    let pending = {
        let permit = breaker.admit().expect("admitted");
        crate::Pending::new(permit, Duration::ZERO)
    };
    usage.mark_completed();
    let body = crate::SettledBody::for_test(InferBody::new(Finished, usage.clone()), pending);
    drop(body);
    assert_eq!(breaker.stats().requests, 1);
    assert_eq!(breaker.stats().errors, 0);
}

#[tokio::test(start_paused = true)]
async fn complete_answers_are_settled_at_once() {
    let breaker = Breaker::new("p".into(), params());
    let full: fn(()) -> Answer = |()| std::future::ready(Ok(Response::new(InferBody::full("{}"))));
    let classify: fn(&&'static str) -> Outcome = |_| Outcome::Failure(Failure::ServerError);
    let gate = CircuitBreakerLayer::new(breaker.clone(), classify)
        .settle_with(AtStreamEnd)
        .layer(service_fn(full));
    let response = gate.oneshot(()).await.expect("response");
    assert_eq!(
        breaker.stats().requests,
        1,
        "recorded before the body is read"
    );
    drop(response);
    assert_eq!(breaker.stats().requests, 1);
}

proptest! {
    /// However streams end, the window counts exactly the completed ones as successes and the
    /// cut or failed ones as failures; abandoned ones not at all.
    #[test]
    fn the_window_counts_stream_endings(
        ends in proptest::collection::vec(0u8..4, 1..40),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            // A circuit that never opens, to count every outcome.
            let breaker = Breaker::new("p".into(), BreakerParams { min_requests: u32::MAX, ..params() });
            let (mut good, mut bad) = (0, 0);
            for end in &ends {
                let (feed, mut body) = open_stream(&breaker).await;
                play(&feed, &mut body, &[Step::Chunk], Duration::from_millis(5)).await;
                match end {
                    0 => {
                        good += 1;
                        play(&feed, &mut body, &[Step::Complete], Duration::ZERO).await;
                    }
                    1 => {
                        bad += 1;
                        play(&feed, &mut body, &[Step::Cut], Duration::ZERO).await;
                    }
                    2 => {
                        bad += 1;
                        play(&feed, &mut body, &[Step::Error], Duration::ZERO).await;
                    }
                    _ => drop(body),
                }
            }
            let stats = breaker.stats();
            prop_assert_eq!(stats.requests, good + bad);
            prop_assert_eq!(stats.errors, bad);
            Ok(())
        })?;
    }
}
