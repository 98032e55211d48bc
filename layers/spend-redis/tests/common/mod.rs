//! Helpers shared by the Redis store tests: a fixed clock, ledger entries, store handles.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use infermux_core::{Caller, FixedClock, LedgerEntry, Money, Month, RequestId, Usage};
use infermux_spend_redis::{RedisSpendStore, RedisStoreOptions, UnavailablePolicy};

pub fn at(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).expect("valid time")
}

pub fn month(text: &str) -> Month {
    Month::parse(text).expect("valid month")
}

/// Mid-March 2026, the tests' "now".
pub fn now() -> SystemTime {
    at("2026-03-14T10:30:00Z")
}

/// `count` store instances on one Redis, as `count` replicas would hold them.
pub async fn replicas(url: &str, count: usize, policy: UnavailablePolicy) -> Vec<RedisSpendStore> {
    let clock = Arc::new(FixedClock(now()));
    let mut options = RedisStoreOptions::new(policy);
    options.connect_timeout = Duration::from_millis(300);
    options.response_timeout = Duration::from_millis(500);
    options.replay_interval = Duration::from_millis(50);
    let mut stores = Vec::with_capacity(count);
    for _ in 0..count {
        let store = RedisSpendStore::open(url, options, clock.clone()).expect("valid url");
        stores.push(store);
    }
    stores
}

/// A settled request of `caller` at `at`.
pub fn entry(id: impl Into<String>, caller: &str, at: SystemTime, cost: Money) -> LedgerEntry {
    LedgerEntry {
        request_id: RequestId::new(id.into()),
        at,
        caller: Caller::new(caller),
        group: Some("chat".into()),
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        usage: Usage {
            prompt_tokens: 8,
            completion_tokens: 1,
            cached_prompt_tokens: 2,
            ..Usage::default()
        },
        cost,
        priced: true,
        estimated: false,
        waste: None,
    }
}

/// Polls `condition` until it holds, failing after `deadline`.
pub async fn eventually(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A plain connection for inspecting keys.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("valid url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers")
}
