//! Several store instances (replicas) on one real Redis: the budget holds for all of them,
//! and every instance reports the same ledger.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use common::{at, entry, month, now, raw, replicas};
use infermux_core::{Admission, Caller, Hour, Money, SpendStore};
use infermux_spend_redis::{RedisSpendStore, UnavailablePolicy};
use infermux_test_util::RedisServer;

const REQUESTS: usize = 500;
const ESTIMATE: u64 = 1_234_567;

/// Sends `REQUESTS` concurrent reserve/settle cycles spread over `stores`; each admitted
/// request costs `actual(i)`. Returns (admitted, sum of (actual - estimate) over admitted).
async fn load(stores: &[RedisSpendStore], cap: Money, actual: fn(usize) -> u64) -> (u64, u64) {
    let admitted = Arc::new(AtomicU64::new(0));
    let excess = Arc::new(AtomicU64::new(0));
    let caller = Caller::new("free-tier");
    let march = month("2026-03");
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let (admitted, excess, caller) = (admitted.clone(), excess.clone(), caller.clone());
            tokio::spawn(async move {
                let estimate = Money::from_picos(ESTIMATE);
                let admission = store
                    .reserve(&caller, march, estimate, Some(cap))
                    .await
                    .expect("redis answers");
                if let Admission::Admitted { .. } = admission {
                    admitted.fetch_add(1, Ordering::Relaxed);
                    excess.fetch_add(actual(i) - ESTIMATE, Ordering::Relaxed);
                    // The provider answers while other requests reserve.
                    tokio::task::yield_now().await;
                    let cost = Money::from_picos(actual(i));
                    let settled = entry(format!("req-{i}"), "free-tier", now(), cost);
                    store
                        .settle(settled, estimate)
                        .await
                        .expect("redis answers");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    (
        admitted.load(Ordering::Relaxed),
        excess.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cap_holds_across_replicas_to_the_request() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 3, UnavailablePolicy::FailClosed).await;
    let cap = Money::from_picos(20 * ESTIMATE);

    let (admitted, _) = load(&stores, cap, |_| ESTIMATE).await;

    // Costs equal estimates, so exactly 20 fit, whichever replica they went through.
    assert_eq!(admitted, 20);
    let march = month("2026-03");
    let summaries = futures_util::future::join_all(stores.iter().map(|s| s.summary(march))).await;
    let first = summaries[0].clone().expect("redis answers");
    for summary in &summaries {
        assert_eq!(summary.as_ref().expect("redis answers"), &first);
    }
    assert_eq!(first.total, cap);
    assert_eq!(first.requests, 20);
    let totals = first.callers[&Caller::new("free-tier")];
    assert_eq!((totals.cost, totals.requests), (cap, 20));
    assert_eq!(
        (
            totals.prompt_tokens,
            totals.completion_tokens,
            totals.cached_prompt_tokens
        ),
        (160, 20, 40)
    );
    assert_eq!(first.by_provider.values().copied().sum::<Money>(), cap);
    assert_eq!(first.by_model.values().copied().sum::<Money>(), cap);
    assert_eq!(first.by_group.values().copied().sum::<Money>(), cap);
    // Every reservation was released.
    let reserved: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg("infermux:{2026-03}:reserved")
        .query_async(&mut raw(&redis.url()).await)
        .await
        .expect("redis answers");
    assert!(reserved.is_empty(), "{reserved:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overshoot_is_bounded_by_what_in_flight_requests_cost_beyond_their_estimate() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 3, UnavailablePolicy::FailClosed).await;
    let cap = Money::from_picos(20 * ESTIMATE);

    // Every other request costs half as much again as estimated.
    let (admitted, excess) = load(&stores, cap, |i| {
        if i % 2 == 0 {
            ESTIMATE * 3 / 2
        } else {
            ESTIMATE
        }
    })
    .await;

    let spent = stores[1]
        .spent(&Caller::new("free-tier"), month("2026-03"))
        .await
        .expect("redis answers");
    eprintln!(
        "{admitted} of {REQUESTS} admitted; spent {spent} against a cap of {cap}, \
         in-flight excess {}",
        Money::from_picos(excess)
    );
    assert!(
        (14..=20).contains(&admitted),
        "{admitted} requests admitted"
    );
    assert!(
        spent.picos() <= cap.picos() + excess,
        "spent {spent} over cap {cap} by more than the in-flight excess {excess}"
    );
}

#[tokio::test]
async fn a_request_settled_twice_counts_once_whichever_replica_settles_it() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 2, UnavailablePolicy::FailClosed).await;
    let march = month("2026-03");
    let caller = Caller::new("pro");
    let cost = Money::from_picos(1_800_000);
    for store in &stores {
        store
            .reserve(&caller, march, cost, None)
            .await
            .expect("redis answers");
    }

    let settled = entry("req-1", "pro", now(), cost);
    stores[0]
        .settle(settled.clone(), cost)
        .await
        .expect("redis answers");
    stores[1]
        .settle(settled, cost)
        .await
        .expect("redis answers");

    let summary = stores[1].summary(march).await.expect("redis answers");
    assert_eq!((summary.total, summary.requests), (cost, 1));
    // The duplicate still released its own reservation.
    let reserved: Option<String> = redis::cmd("HGET")
        .arg("infermux:{2026-03}:reserved")
        .arg("pro")
        .query_async(&mut raw(&redis.url()).await)
        .await
        .expect("redis answers");
    assert_eq!(reserved, None);
}

#[tokio::test]
async fn settling_reports_the_callers_spend_exactly_as_reading_it_would() {
    let redis = RedisServer::start().await;
    let store = Arc::new(
        replicas(&redis.url(), 1, UnavailablePolicy::FailClosed)
            .await
            .remove(0),
    );
    let (march, caller) = (month("2026-03"), Caller::new("pro"));
    // Above 2^53 pico-USD, where a Lua number would round.
    let large = Money::from_picos((1 << 53) + 1);
    let small = Money::from_picos(3);
    let first = entry("req-1", "pro", now(), large);
    let settle =
        |entry, store: &Arc<RedisSpendStore>| store.clone().settle_and_spent(entry, Money::ZERO);

    assert_eq!(
        settle(first.clone(), &store).await.expect("redis answers"),
        large
    );
    let both = large.saturating_add(small);
    let second = entry("req-2", "pro", now(), small);
    assert_eq!(settle(second, &store).await.expect("redis answers"), both);
    // Settled again, a request counts once, and the spend is reported all the same.
    assert_eq!(settle(first, &store).await.expect("redis answers"), both);
    assert_eq!(
        store.spent(&caller, march).await.expect("redis answers"),
        both
    );
}

#[tokio::test]
async fn spend_is_kept_per_month_and_the_keys_expire_after_it() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 1, UnavailablePolicy::FailClosed).await;
    let store = &stores[0];
    let caller = Caller::new("free-tier");
    let cost = Money::from_picos(5);
    store
        .settle(
            entry("march", "free-tier", at("2026-03-31T23:59:59Z"), cost),
            Money::ZERO,
        )
        .await
        .expect("redis answers");
    store
        .settle(
            entry(
                "april",
                "free-tier",
                at("2026-04-01T00:00:00Z"),
                cost.times(2),
            ),
            Money::ZERO,
        )
        .await
        .expect("redis answers");

    let (march, april) = (month("2026-03"), month("2026-04"));
    assert_eq!(store.spent(&caller, march).await, Ok(cost));
    assert_eq!(store.spent(&caller, april).await, Ok(cost.times(2)));
    assert_eq!(store.summary(april).await.map(|s| s.requests), Ok(1));
    // A new month starts from zero against the cap.
    let cap = Some(cost.times(3));
    assert_eq!(
        store.reserve(&caller, march, cost.times(3), cap).await,
        Ok(Admission::Refused { spent: cost })
    );
    assert_eq!(
        store.reserve(&caller, april, cost, cap).await,
        Ok(Admission::Admitted {
            spent: cost.times(2)
        })
    );

    // The test clock stands at 2026-03-14T10:30Z: March's keys live 17 days 13.5 hours plus
    // 35 days, hour buckets 35 days from their hour.
    let mut conn = raw(&redis.url()).await;
    assert_eq!(
        ttl_of(&mut conn, "infermux:{2026-03}:totals").await,
        (17 * 24 + 13) * 3600 + 1800 + 35 * 86_400
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("redis answers");
    for key in &keys {
        assert!(
            key.starts_with("infermux:{2026-03}:") || key.starts_with("infermux:{2026-04}:"),
            "{key}"
        );
        assert!(ttl_of(&mut conn, key).await > 0, "{key} never expires");
    }
    let march_marker = format!(
        "infermux:{{2026-03}}:settled:{}:march",
        at("2026-03-31T23:59:59Z")
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_nanos()
    );
    assert!(keys.contains(&march_marker), "{keys:?}");
    // Markers only need to outlive a retry: an hour.
    assert_eq!(ttl_of(&mut conn, &march_marker).await, 3600);
    let hour = Hour::of(at("2026-03-31T23:59:59Z"));
    let bucket = format!("infermux:{{2026-03}}:hour:{}", hour.0);
    assert!(keys.contains(&bucket), "{keys:?}");
    assert!(ttl_of(&mut conn, &bucket).await >= 31 * 86_400);
}

async fn ttl_of(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("TTL")
        .arg(key)
        .query_async(conn)
        .await
        .expect("redis answers")
}

#[tokio::test]
async fn hourly_buckets_cover_each_hour_oldest_first_across_a_month_boundary() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 2, UnavailablePolicy::FailClosed).await;
    let cost = Money::from_picos(7);
    let times = [
        ("a", "2026-03-31T22:10:00Z"),
        ("b", "2026-03-31T22:50:00Z"),
        ("c", "2026-04-01T00:05:00Z"),
    ];
    for (i, (id, time)) in times.into_iter().enumerate() {
        stores[i % 2]
            .settle(entry(id, "x", at(time), cost), Money::ZERO)
            .await
            .expect("redis answers");
    }

    let first = Hour::of(at("2026-03-31T21:00:00Z"));
    let hours = stores[1].hourly(first, 4).await.expect("redis answers");
    let shown: Vec<(u64, u64)> = hours.iter().map(|h| (h.cost.picos(), h.requests)).collect();
    assert_eq!(shown, [(0, 0), (14, 2), (0, 0), (7, 1)]);
    assert_eq!(stores[0].hourly(first, 4).await, Ok(hours));
    assert_eq!(stores[0].hourly(first, 0).await, Ok(Vec::new()));
}

#[tokio::test]
async fn budgets_above_2_pow_53_pico_usd_compare_exactly() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 1, UnavailablePolicy::FailClosed).await;
    let store = &stores[0];
    let march = month("2026-03");
    let caller = Caller::new("enterprise");
    // $10,000 is 10^16 pico-USD, above 2^53 (about 9.007 * 10^15).
    let cap = Money::from_usd(10_000.0).expect("valid");
    let spent = cap.saturating_sub(Money::from_picos(2));
    store
        .settle(entry("big", "enterprise", now(), spent), Money::ZERO)
        .await
        .expect("redis answers");

    let three = Money::from_picos(3);
    assert_eq!(
        store.reserve(&caller, march, three, Some(cap)).await,
        Ok(Admission::Refused { spent })
    );
    let one = Money::from_picos(1);
    assert_eq!(
        store.reserve(&caller, march, one, Some(cap)).await,
        Ok(Admission::Admitted { spent })
    );
    assert_eq!(
        store.reserve(&caller, march, one, Some(cap)).await,
        Ok(Admission::Admitted { spent })
    );
    // Spend plus reservations now equals the cap exactly: even a free request is refused.
    assert_eq!(
        store.reserve(&caller, march, Money::ZERO, Some(cap)).await,
        Ok(Admission::Refused { spent })
    );
    assert_eq!(store.summary(march).await.map(|s| s.total), Ok(spent));
}

#[tokio::test]
async fn two_requests_reusing_a_client_request_id_both_count() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 2, UnavailablePolicy::FailClosed).await;
    let cost = Money::from_picos(9);
    // X-Request-Id comes from clients: the same id on two served requests is two costs.
    let first = entry("client-id", "pro", at("2026-03-14T10:00:00Z"), cost);
    let second = entry("client-id", "pro", at("2026-03-14T10:00:01Z"), cost);
    stores[0]
        .settle(first, Money::ZERO)
        .await
        .expect("redis answers");
    stores[1]
        .settle(second, Money::ZERO)
        .await
        .expect("redis answers");

    let summary = stores[0]
        .summary(month("2026-03"))
        .await
        .expect("redis answers");
    assert_eq!((summary.total, summary.requests), (cost.times(2), 2));
}
