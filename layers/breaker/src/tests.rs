//! The state machine against the rules and a reference model, and the service gate
//! under concurrency. The clock is tokio's, paused: nothing here sleeps for real.

use std::{
    sync::{
        Arc, Barrier,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::FutureExt;
use infermux_core::{CircuitState, ProviderStatus};
use proptest::prelude::*;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::{
    Breaker, BreakerParams, CircuitBreakerLayer, Failure, Outcome, Rejection,
    machine::{Machine, Ticket},
    window::SLICES,
};

const FAIL: Outcome = Outcome::Failure(Failure::ServerError);
const FAST: Duration = Duration::from_millis(10);

fn params() -> BreakerParams {
    BreakerParams {
        window: Duration::from_secs(10),
        min_requests: 4,
        error_rate: 0.5,
        p95_latency: Duration::from_secs(1),
        recovery: Duration::from_secs(5),
        max_recovery: Duration::from_secs(40),
        max_cooldown: Duration::from_secs(60),
    }
}

fn admit(machine: &mut Machine, now: Instant) -> Ticket {
    machine.admit(now).0.expect("admitted")
}

fn send(machine: &mut Machine, now: Instant, outcome: Outcome, latency: Duration) {
    let ticket = admit(machine, now);
    machine.record(now, ticket, outcome, latency);
}

#[tokio::test(start_paused = true)]
async fn the_circuit_waits_for_min_requests_before_opening() {
    let now = Instant::now();
    let mut machine = Machine::new(params(), now);
    for _ in 0..3 {
        send(&mut machine, now, FAIL, FAST);
    }
    assert_eq!(machine.state(), CircuitState::Closed, "3 < min_requests");
    send(&mut machine, now, FAIL, FAST);
    assert_eq!(machine.state(), CircuitState::Open);
    assert!(matches!(machine.admit(now).0, Err(Rejection::Open { .. })));
}

#[tokio::test(start_paused = true)]
async fn the_error_rate_is_measured_over_the_sliding_window_only() {
    let start = Instant::now();
    let mut machine = Machine::new(params(), start);
    for _ in 0..3 {
        send(&mut machine, start, FAIL, FAST);
    }
    // The three failures slide out; what is left is one failure in four.
    let later = start + Duration::from_secs(11);
    for outcome in [Outcome::Success, Outcome::Success, Outcome::Success, FAIL] {
        send(&mut machine, later, outcome, FAST);
    }
    assert_eq!(machine.state(), CircuitState::Closed);
    assert_eq!(machine.stats(later).requests, 4);
    // Two more failures make it three in six: 0.5 reaches the threshold.
    send(&mut machine, later, FAIL, FAST);
    assert_eq!(machine.state(), CircuitState::Closed, "2 in 5");
    send(&mut machine, later, FAIL, FAST);
    assert_eq!(machine.state(), CircuitState::Open, "3 in 6");
}

#[tokio::test(start_paused = true)]
async fn slow_successes_open_the_circuit_on_p95() {
    let now = Instant::now();
    let mut machine = Machine::new(params(), now);
    for _ in 0..19 {
        send(&mut machine, now, Outcome::Success, FAST);
    }
    send(&mut machine, now, Outcome::Success, Duration::from_secs(2));
    assert_eq!(
        machine.state(),
        CircuitState::Closed,
        "1 slow in 20 is the p95 boundary"
    );
    send(&mut machine, now, Outcome::Success, Duration::from_secs(1));
    assert_eq!(machine.state(), CircuitState::Open, "2 slow in 21");
}

#[tokio::test(start_paused = true)]
async fn caller_errors_count_as_successes_and_neutral_outcomes_not_at_all() {
    let now = Instant::now();
    let mut machine = Machine::new(params(), now);
    for _ in 0..10 {
        send(&mut machine, now, Outcome::Neutral, FAST);
    }
    assert_eq!(machine.stats(now).requests, 0);
    for _ in 0..3 {
        send(&mut machine, now, Outcome::Success, FAST);
    }
    send(&mut machine, now, FAIL, FAST);
    assert_eq!(machine.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_and_restarts_the_recovery() {
    let start = Instant::now();
    let mut machine = Machine::new(params(), start);
    for _ in 0..4 {
        send(&mut machine, start, FAIL, FAST);
    }
    let recovered = start + params().recovery;
    assert!(matches!(
        machine.admit(recovered - Duration::from_millis(1)).0,
        Err(Rejection::Open { .. })
    ));
    let probe = admit(&mut machine, recovered);
    assert!(probe.is_probe());
    assert_eq!(machine.state(), CircuitState::HalfOpen);
    let failed_at = recovered + Duration::from_secs(2);
    machine.record(failed_at, probe, Outcome::Failure(Failure::Timeout), FAST);
    assert_eq!(machine.state(), CircuitState::Open);
    let reopened_until = failed_at + 2 * params().recovery;
    assert_eq!(
        machine.admit(reopened_until - Duration::from_millis(1)).0,
        Err(Rejection::Open {
            until: reopened_until
        })
    );
    let probe = admit(&mut machine, reopened_until);
    machine.record(reopened_until, probe, Outcome::Success, FAST);
    assert_eq!(machine.state(), CircuitState::Closed);
    assert_eq!(
        machine.stats(reopened_until).requests,
        0,
        "a closed circuit starts afresh"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_probe_counts_as_failed() {
    let now = Instant::now();
    let mut machine = Machine::new(
        BreakerParams {
            recovery: Duration::ZERO,
            ..params()
        },
        now,
    );
    for _ in 0..4 {
        send(&mut machine, now, Outcome::Success, Duration::from_secs(3));
    }
    let probe = admit(&mut machine, now);
    machine.record(now, probe, Outcome::Success, Duration::from_secs(3));
    assert_eq!(machine.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_probe_lets_the_next_caller_probe() {
    let now = Instant::now();
    let mut machine = Machine::new(
        BreakerParams {
            recovery: Duration::ZERO,
            ..params()
        },
        now,
    );
    for _ in 0..4 {
        send(&mut machine, now, FAIL, FAST);
    }
    let probe = admit(&mut machine, now);
    assert_eq!(machine.admit(now).0, Err(Rejection::ProbeInFlight));
    machine.abandon(probe);
    assert_eq!(machine.state(), CircuitState::HalfOpen);
    assert!(admit(&mut machine, now).is_probe());
}

#[tokio::test(start_paused = true)]
async fn outcomes_of_requests_admitted_before_a_transition_are_ignored() {
    let now = Instant::now();
    let mut machine = Machine::new(
        BreakerParams {
            recovery: Duration::ZERO,
            ..params()
        },
        now,
    );
    let late = admit(&mut machine, now);
    for _ in 0..4 {
        send(&mut machine, now, FAIL, FAST);
    }
    let probe = admit(&mut machine, now);
    machine.record(now, late, Outcome::Success, FAST);
    assert_eq!(
        machine.state(),
        CircuitState::HalfOpen,
        "only the probe decides"
    );
    machine.record(now, probe, Outcome::Success, FAST);
    assert_eq!(machine.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_429_keeps_the_provider_out_for_retry_after_and_a_quota_429_for_recovery() {
    let now = Instant::now();
    let mut machine = Machine::new(params(), now);
    let busy = Outcome::Failure(Failure::RateLimited {
        retry_after: Some(Duration::from_secs(2)),
        quota: false,
    });
    send(&mut machine, now, busy, FAST);
    let until = now + Duration::from_secs(2);
    assert_eq!(machine.admit(now).0, Err(Rejection::Cooldown { until }));
    assert_eq!(machine.state(), CircuitState::Closed);
    assert!(machine.admit(until).0.is_ok());

    let quota = Outcome::Failure(Failure::RateLimited {
        retry_after: None,
        quota: true,
    });
    send(&mut machine, until, quota, FAST);
    assert_eq!(
        machine.admit(until).0,
        Err(Rejection::Cooldown {
            until: until + params().recovery
        })
    );
    let plain = Outcome::Failure(Failure::RateLimited {
        retry_after: None,
        quota: false,
    });
    let later = until + params().recovery;
    send(&mut machine, later, plain, FAST);
    assert!(
        machine.admit(later).0.is_ok(),
        "a 429 without Retry-After only counts"
    );
}

#[tokio::test(start_paused = true)]
async fn each_failed_probe_doubles_the_open_period_up_to_max_recovery() {
    let mut now = Instant::now();
    let mut machine = Machine::new(params(), now);
    for _ in 0..4 {
        send(&mut machine, now, FAIL, FAST);
    }
    let mut open_periods = Vec::new();
    let mut opened_at = now;
    for _ in 0..6 {
        let Err(Rejection::Open { until }) = machine.admit(now).0 else {
            panic!("open");
        };
        open_periods.push((until - opened_at).as_secs());
        now = until;
        let probe = admit(&mut machine, now);
        machine.record(now, probe, FAIL, FAST);
        opened_at = now;
    }
    // recovery 5 s, max_recovery 40 s.
    assert_eq!(open_periods, [5, 10, 20, 40, 40, 40]);
    let Err(Rejection::Open { until }) = machine.admit(now).0 else {
        panic!("open");
    };
    let probe = admit(&mut machine, until);
    machine.record(until, probe, Outcome::Success, FAST);
    assert_eq!(machine.state(), CircuitState::Closed);
    for _ in 0..4 {
        send(&mut machine, until, FAIL, FAST);
    }
    assert_eq!(
        machine.admit(until).0,
        Err(Rejection::Open {
            until: until + params().recovery
        }),
        "a success resets the backoff"
    );
}

proptest! {
    /// Whatever a provider sends as `Retry-After` (0, huge, `Duration::MAX`), recording it
    /// never panics and never keeps the provider out longer than `max_cooldown`.
    #[test]
    fn hostile_retry_after_is_clamped_to_max_cooldown(
        secs in prop_oneof![Just(u64::MAX), any::<u64>(), 0u64..1_000],
        nanos in 0u32..1_000_000_000,
        quota in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let now = Instant::now();
            let mut machine = Machine::new(params(), now);
            let outcome = Outcome::Failure(Failure::RateLimited {
                retry_after: Some(Duration::new(secs, nanos)),
                quota,
            });
            send(&mut machine, now, outcome, FAST);
            let until = machine.cooldown_until(now).unwrap_or(now);
            prop_assert!(until - now <= params().max_cooldown);
            prop_assert!(machine.admit(now + params().max_cooldown).0.is_ok());
            Ok(())
        })?;
    }
}

// === the gate ===

#[tokio::test(start_paused = true)]
async fn the_circuit_turns_half_open_on_its_own_and_publishes_to_the_board() {
    let status = Arc::new(ProviderStatus::new("openai".into(), "openai"));
    let breaker = Breaker::with_status(params(), status.clone());
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    assert_eq!(status.circuit(), CircuitState::Open);
    assert!((status.error_rate() - 1.0).abs() < f64::EPSILON);
    tokio::time::sleep(params().recovery).await;
    tokio::task::yield_now().await;
    assert_eq!(
        status.circuit(),
        CircuitState::HalfOpen,
        "no request needed"
    );
    breaker
        .admit()
        .expect("probe")
        .record(Outcome::Success, FAST);
    assert_eq!(status.circuit(), CircuitState::Closed);
    assert_eq!(status.error_rate(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn sixty_four_concurrent_callers_send_exactly_one_probe() {
    let breaker = Breaker::new("openai".into(), params());
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    tokio::time::sleep(params().recovery).await;

    let calls = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let inner = service_fn({
        let calls = calls.clone();
        move |()| {
            calls.fetch_add(1, Ordering::SeqCst);
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                Ok::<_, &'static str>(())
            }
        }
    });
    let gate = CircuitBreakerLayer::new(breaker.clone(), |_: &&str| FAIL).layer(inner);
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let mut gate = gate.clone();
        callers.spawn(async move {
            // Dispatch's way of asking: ready now, or skip.
            match gate.ready().now_or_never() {
                Some(Ok(gate)) => gate.call(()).await.is_ok(),
                _ => false,
            }
        });
    }
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one probe only");
    release.send_replace(true);
    let served = callers
        .join_all()
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count();
    assert_eq!(served, 1);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn threads_racing_for_the_probe_get_one_permit() {
    let breaker = Breaker::new(
        "openai".into(),
        BreakerParams {
            recovery: Duration::ZERO,
            ..params()
        },
    );
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    let barrier = Arc::new(Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let (breaker, barrier) = (breaker.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Keep the permit alive until every thread has asked.
                let permit = breaker.admit().ok();
                barrier.wait();
                permit.is_some()
            })
        })
        .collect();
    let admitted = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .filter(|ok| *ok)
        .count();
    assert_eq!(admitted, 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_future_does_not_leave_the_circuit_stuck() {
    let breaker = Breaker::new(
        "openai".into(),
        BreakerParams {
            recovery: Duration::ZERO,
            ..params()
        },
    );
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    let inner = service_fn(|()| std::future::pending::<Result<(), &'static str>>());
    let mut gate = CircuitBreakerLayer::new(breaker.clone(), |_: &&str| FAIL).layer(inner);
    let probe = gate.ready().await.expect("ready").call(());
    assert!(
        gate.clone().ready().now_or_never().is_none(),
        "probe in flight"
    );
    // The client goes away: an outer timeout drops the probe.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), probe)
            .await
            .is_err()
    );
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(
        gate.clone().ready().now_or_never().is_some(),
        "the next caller probes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_not_ready_gate_wakes_when_the_circuit_half_opens() {
    let breaker = Breaker::new("openai".into(), params());
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    let start = Instant::now();
    let inner = service_fn(|()| async { Ok::<_, &'static str>(()) });
    let gate = CircuitBreakerLayer::new(breaker, |_: &&str| FAIL).layer(inner);
    gate.oneshot(()).await.expect("served once half-open");
    assert_eq!(start.elapsed(), params().recovery);
}

#[tokio::test(start_paused = true)]
async fn callers_waiting_on_a_half_open_circuit_are_woken_when_the_probe_closes_it() {
    let breaker = Breaker::new("openai".into(), params());
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    tokio::time::sleep(params().recovery).await;
    let probe = breaker.admit().expect("the probe");
    assert!(probe.is_probe());
    let start = Instant::now();
    let inner = service_fn(|()| async { Ok::<_, &'static str>(()) });
    let gate = CircuitBreakerLayer::new(breaker.clone(), |_: &&str| FAIL).layer(inner);
    let waiter = tokio::spawn(gate.oneshot(()));
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "the probe is still in flight");
    tokio::time::sleep(Duration::from_millis(300)).await;
    probe.record(Outcome::Success, FAST);
    waiter.await.expect("join").expect("served");
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "woken when the probe closed the circuit, not after another recovery"
    );
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_caller_waiting_behind_a_probe_is_woken_when_the_probe_is_abandoned() {
    let breaker = Breaker::new("openai".into(), params());
    for _ in 0..4 {
        breaker.admit().expect("closed").record(FAIL, FAST);
    }
    tokio::time::sleep(params().recovery).await;
    let probe = breaker.admit().expect("the probe");
    let start = Instant::now();
    let inner = service_fn(|()| async { Ok::<_, &'static str>(()) });
    let gate = CircuitBreakerLayer::new(breaker.clone(), |_: &&str| FAIL).layer(inner);
    let waiter = tokio::spawn(gate.oneshot(()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(probe);
    waiter
        .await
        .expect("join")
        .expect("served as the next probe");
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(breaker.state(), CircuitState::Closed);
}

// === the reference model ===

/// The rules, written the obvious way: every outcome kept with its slice number.
#[derive(Debug)]
struct Model {
    params: BreakerParams,
    origin: Instant,
    slice: Duration,
    state: ModelState,
    events: Vec<(u64, bool, bool)>,
    failed_probes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelState {
    Closed,
    Open(Instant),
    HalfOpen(bool),
}

impl Model {
    fn slice_of(&self, now: Instant) -> u64 {
        ((now - self.origin).as_nanos() / self.slice.as_nanos()) as u64
    }

    fn tick(&mut self, now: Instant) {
        if let ModelState::Open(until) = self.state
            && now >= until
        {
            self.state = ModelState::HalfOpen(false);
        }
    }

    fn admit(&mut self, now: Instant) -> Option<bool> {
        self.tick(now);
        match self.state {
            ModelState::Closed => Some(false),
            ModelState::HalfOpen(false) => {
                self.state = ModelState::HalfOpen(true);
                Some(true)
            }
            _ => None,
        }
    }

    fn record(&mut self, now: Instant, probe: bool, failed: bool, latency: Duration) {
        let slow = latency >= self.params.p95_latency;
        if probe {
            if failed || slow {
                self.failed_probes += 1;
                let backoff = self.params.recovery * 2u32.pow(self.failed_probes.min(20));
                let open_for = backoff.min(self.params.max_recovery.max(self.params.recovery));
                self.state = ModelState::Open(now + open_for);
            } else {
                self.state = ModelState::Closed;
                self.failed_probes = 0;
                self.events.clear();
            }
            return;
        }
        let slice = self.slice_of(now);
        self.events.push((slice, failed, slow));
        let live: Vec<_> = self
            .events
            .iter()
            .filter(|(s, _, _)| s + SLICES as u64 > slice)
            .collect();
        let n = live.len();
        let errors = live.iter().filter(|e| e.1).count();
        let slow = live.iter().filter(|e| e.2).count();
        let mut latencies: Vec<bool> = live.iter().map(|e| e.2).collect();
        latencies.sort();
        // Nearest-rank p95 of slow (true) / fast (false) samples, false < true.
        let p95_slow = n > 0 && latencies[(95 * n).div_ceil(100) - 1];
        assert_eq!(p95_slow, slow > n - (95 * n).div_ceil(100));
        if n >= self.params.min_requests as usize
            && (errors as f64 / n as f64 >= self.params.error_rate || p95_slow)
        {
            self.state = ModelState::Open(now + self.params.recovery);
        }
    }

    fn circuit(&self) -> CircuitState {
        match self.state {
            ModelState::Closed => CircuitState::Closed,
            ModelState::Open(_) => CircuitState::Open,
            ModelState::HalfOpen(_) => CircuitState::HalfOpen,
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Wait(u64),
    Call { failed: bool, latency_ms: u64 },
    AbandonedCall,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..3_000).prop_map(Step::Wait),
        (any::<bool>(), 0u64..1_500)
            .prop_map(|(failed, latency_ms)| Step::Call { failed, latency_ms }),
        Just(Step::AbandonedCall),
    ]
}

proptest! {
    #[test]
    fn the_machine_agrees_with_the_reference_model(
        steps in proptest::collection::vec(step(), 1..200),
        min_requests in 1u32..8,
        error_rate in 0.1f64..1.0,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let params = BreakerParams { min_requests, error_rate, ..params() };
            let origin = Instant::now();
            let mut machine = Machine::new(params, origin);
            let mut model = Model {
                params,
                origin,
                slice: params.window / SLICES as u32,
                state: ModelState::Closed,
                events: Vec::new(),
                failed_probes: 0,
            };
            let mut now = origin;
            for step in steps {
                match step {
                    Step::Wait(ms) => now += Duration::from_millis(ms),
                    Step::Call { failed, latency_ms } => {
                        let expected = model.admit(now);
                        let ticket = machine.admit(now).0.ok();
                        prop_assert_eq!(expected, ticket.map(Ticket::is_probe));
                        if let Some(ticket) = ticket {
                            let latency = Duration::from_millis(latency_ms);
                            let outcome = if failed { FAIL } else { Outcome::Success };
                            machine.record(now, ticket, outcome, latency);
                            model.record(now, ticket.is_probe(), failed, latency);
                        }
                    }
                    Step::AbandonedCall => {
                        let expected = model.admit(now);
                        let ticket = machine.admit(now).0.ok();
                        prop_assert_eq!(expected, ticket.map(Ticket::is_probe));
                        if let Some(ticket) = ticket {
                            machine.abandon(ticket);
                            if ticket.is_probe() {
                                model.state = ModelState::HalfOpen(false);
                            }
                        }
                    }
                }
                machine.tick(now);
                model.tick(now);
                prop_assert_eq!(machine.state(), model.circuit());
            }
            Ok(())
        })?;
    }
}
