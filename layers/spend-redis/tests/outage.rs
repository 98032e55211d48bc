//! Redis killed mid-load and restarted on the same port: the configured policy applies while
//! it is down, and afterwards the fleet's totals equal the sum of settled costs, with nothing
//! lost and nothing counted twice.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use common::{entry, eventually, month, now, raw, replicas};
use infermux_core::{Admission, Caller, Hour, Money, SpendStore, StoreError};
use infermux_spend_redis::{RedisSpendStore, UnavailablePolicy};
use infermux_test_util::RedisServer;

const ESTIMATE: u64 = 10_000;
const WORKERS_PER_REPLICA: usize = 4;
const DEADLINE: Duration = Duration::from_secs(20);

/// What the load saw.
#[derive(Debug, Default)]
struct Tally {
    next_id: AtomicU64,
    settled: AtomicU64,
    settled_cost: AtomicU64,
    unavailable: AtomicU64,
    stop: AtomicBool,
}

impl Tally {
    fn settled(&self) -> u64 {
        self.settled.load(Ordering::SeqCst)
    }
}

/// Reserves and settles requests with unique ids until told to stop.
async fn worker(store: RedisSpendStore, tally: Arc<Tally>) {
    let caller = Caller::new("batch");
    let march = month("2026-03");
    let estimate = Money::from_picos(ESTIMATE);
    let cap = Some(Money::from_usd(1_000.0).expect("valid"));
    while !tally.stop.load(Ordering::SeqCst) {
        let id = tally.next_id.fetch_add(1, Ordering::SeqCst);
        match store.reserve(&caller, march, estimate, cap).await {
            Ok(Admission::Admitted { .. }) => {
                tokio::task::yield_now().await;
                let cost = ESTIMATE + id % 97;
                let settled = entry(format!("req-{id}"), "batch", now(), Money::from_picos(cost));
                store
                    .settle(settled, estimate)
                    .await
                    .expect("settle is queued, never lost");
                tally.settled_cost.fetch_add(cost, Ordering::SeqCst);
                tally.settled.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Admission::Refused { spent }) => panic!("refused under a $1000 cap at {spent}"),
            Err(StoreError::Unavailable(_)) => {
                tally.unavailable.fetch_add(1, Ordering::SeqCst);
                // Back off a little, as a client given 503 would.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}

/// Runs load on three replicas, kills Redis mid-load, restarts it, and checks the totals.
async fn kill_and_restart_mid_load(policy: UnavailablePolicy) -> Arc<Tally> {
    let mut redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 3, policy).await;
    let tally = Arc::new(Tally::default());
    let workers: Vec<_> = stores
        .iter()
        .flat_map(|store| (0..WORKERS_PER_REPLICA).map(move |_| store.clone()))
        .map(|store| tokio::spawn(worker(store, tally.clone())))
        .collect();
    let pending = |stores: &[RedisSpendStore]| stores.iter().map(|s| s.pending()).sum::<usize>();

    eventually("load before the kill", DEADLINE, || tally.settled() >= 150).await;
    redis.kill();
    match policy {
        UnavailablePolicy::FailClosed => {
            eventually("refusals while redis is down", DEADLINE, || {
                tally.unavailable.load(Ordering::SeqCst) >= 30
            })
            .await;
        }
        UnavailablePolicy::FailOpen => {
            eventually("settlements queued while redis is down", DEADLINE, || {
                pending(&stores) >= 30
            })
            .await;
        }
    }
    let queued = pending(&stores);
    redis.restart().await;
    let at_restart = tally.settled();
    eventually("load after the restart", DEADLINE, || {
        tally.settled() >= at_restart + 150
    })
    .await;
    tally.stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("worker");
    }
    eventually("the backlog replayed", DEADLINE, || pending(&stores) == 0).await;

    let march = month("2026-03");
    let settled_cost = Money::from_picos(tally.settled_cost.load(Ordering::SeqCst));
    for store in &stores {
        let summary = store.summary(march).await.expect("redis is back");
        assert_eq!(summary.total, settled_cost, "{policy:?}");
        assert_eq!(summary.requests, tally.settled(), "{policy:?}");
        let hours = store
            .hourly(Hour::of(now()), 1)
            .await
            .expect("redis is back");
        assert_eq!(hours[0].cost, settled_cost);
    }
    // Every reservation is released, those whose reply the kill cut included.
    let reserved: Option<u64> = redis::cmd("HGET")
        .arg("infermux:{2026-03}:reserved")
        .arg("batch")
        .query_async(&mut raw(&redis.url()).await)
        .await
        .expect("redis answers");
    eprintln!(
        "{}: settled {} requests (${}), {} refused while down, {queued} operations queued \
         at the restart, {:?} pico-USD left reserved",
        policy.as_str(),
        tally.settled(),
        settled_cost.to_plain_decimal(),
        tally.unavailable.load(Ordering::SeqCst),
        reserved,
    );
    assert_eq!(reserved, None, "{policy:?}");
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_closed_refuses_while_redis_is_down_and_loses_no_settlement() {
    let tally = kill_and_restart_mid_load(UnavailablePolicy::FailClosed).await;
    assert!(tally.unavailable.load(Ordering::SeqCst) >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_open_serves_while_redis_is_down_and_reconciles_once() {
    let tally = kill_and_restart_mid_load(UnavailablePolicy::FailOpen).await;
    assert_eq!(tally.unavailable.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_store_started_before_redis_comes_up_serves_once_it_does() {
    let mut redis = RedisServer::start().await;
    redis.kill();
    let stores = replicas(&redis.url(), 1, UnavailablePolicy::FailClosed).await;
    let caller = Caller::new("a");
    let march = month("2026-03");
    let one = Money::from_picos(1);
    assert!(matches!(
        stores[0].reserve(&caller, march, one, None).await,
        Err(StoreError::Unavailable(_))
    ));
    redis.restart().await;
    let mut admitted = false;
    let start = std::time::Instant::now();
    while !admitted {
        assert!(start.elapsed() < DEADLINE, "never reconnected");
        admitted = stores[0].reserve(&caller, march, one, None).await.is_ok();
    }
}

#[tokio::test]
async fn flush_replays_queued_settlements_or_says_how_many_are_left() {
    let mut redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 1, UnavailablePolicy::FailOpen).await;
    let store = &stores[0];
    let caller = Caller::new("a");
    let march = month("2026-03");
    let cost = Money::from_picos(42);
    redis.kill();

    // fail_open admits without Redis, and the settlement waits in the replica; the spend it
    // reports is the replica's estimate.
    assert!(matches!(
        store.reserve(&caller, march, cost, Some(cost)).await,
        Ok(Admission::Admitted { .. })
    ));
    let spent = Arc::new(store.clone())
        .settle_and_spent(entry("r1", "a", now(), cost), cost)
        .await;
    assert_eq!(spent, Ok(cost), "local estimate");
    assert_eq!(store.pending(), 1);
    assert!(matches!(
        store.flush().await,
        Err(StoreError::Unavailable(_))
    ));
    assert_eq!(
        store.spent(&caller, march).await,
        Ok(cost),
        "local estimate"
    );

    redis.restart().await;
    let start = std::time::Instant::now();
    while store.flush().await.is_err() {
        assert!(start.elapsed() < DEADLINE, "never reconnected");
    }
    assert_eq!(store.pending(), 0);
    assert_eq!(store.summary(march).await.map(|s| s.total), Ok(cost));
    // The admission made without Redis left nothing reserved in it.
    assert_eq!(
        store
            .reserve(&caller, march, Money::ZERO, Some(cost.times(2)))
            .await,
        Ok(Admission::Admitted { spent: cost })
    );
}

#[tokio::test]
async fn a_tls_url_is_accepted_and_an_unreachable_server_is_an_outage() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let url = format!("rediss://:secret@127.0.0.1:{port}/0");
    let stores = replicas(&url, 1, UnavailablePolicy::FailClosed).await;
    let refused = stores[0]
        .reserve(
            &Caller::new("a"),
            month("2026-03"),
            Money::from_picos(1),
            None,
        )
        .await;
    let Err(StoreError::Unavailable(message)) = refused else {
        panic!("{refused:?}");
    };
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn a_password_in_the_url_authenticates_and_is_never_shown() {
    let redis = RedisServer::start().await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("hunter2-secret")
        .query_async(&mut raw(&redis.url()).await)
        .await
        .expect("redis answers");
    let with = |password: &str| format!("redis://:{password}@127.0.0.1:{}/0", redis.port());
    let caller = Caller::new("a");
    let one = Money::from_picos(1);

    let good = replicas(&with("hunter2-secret"), 1, UnavailablePolicy::FailClosed).await;
    assert!(matches!(
        good[0].reserve(&caller, month("2026-03"), one, None).await,
        Ok(Admission::Admitted { .. })
    ));
    let bad = replicas(&with("wrong-secret"), 1, UnavailablePolicy::FailClosed).await;
    let refused = bad[0].reserve(&caller, month("2026-03"), one, None).await;
    let Err(StoreError::Unavailable(message)) = refused else {
        panic!("{refused:?}");
    };
    assert!(!message.contains("secret"), "{message}");
}

#[tokio::test]
async fn an_invalid_url_is_refused_without_showing_it() {
    let clock = std::sync::Arc::new(infermux_core::FixedClock(now()));
    for url in [
        "http://:hunter2@127.0.0.1:6379",
        "redis://:hunter2@127.0.0.1:notaport/0",
        "redis://:hunter2@127.0.0.1:6379/notadb",
        "hunter2",
    ] {
        let options = infermux_spend_redis::RedisStoreOptions::default();
        let Err(error) = RedisSpendStore::open(url, options, clock.clone()) else {
            panic!("{url} was accepted");
        };
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
