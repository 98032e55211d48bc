mod common;
use common::{entry, month, now, raw, replicas};
use infermux_core::{Caller, Money, SpendStore};
use infermux_spend_redis::UnavailablePolicy;
use infermux_test_util::RedisServer;

async fn used(url: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut raw(url).await).await.unwrap();
    info.lines().find_map(|l| l.strip_prefix("used_memory:")).unwrap().trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn measure() {
    let redis = RedisServer::start().await;
    let stores = replicas(&redis.url(), 1, UnavailablePolicy::FailClosed).await;
    let s = &stores[0];
    let caller = Caller::new("free-tier");
    s.settle(entry("warm", "free-tier", now(), Money::from_picos(1)), Money::ZERO).await.unwrap();
    let before = used(&redis.url()).await;
    let n = 20_000;
    for i in 0..n {
        let id = format!("{:08x}-0000-4000-8000-{:012x}", i, i);
        s.settle(entry(id, "free-tier", now(), Money::from_picos(1)), Money::ZERO).await.unwrap();
    }
    let after = used(&redis.url()).await;
    eprintln!("settle marker: {} bytes each", (after - before) / n);
    let before = used(&redis.url()).await;
    for _ in 0..n {
        s.reserve(&caller, month("2026-03"), Money::from_picos(1), None).await.unwrap();
    }
    let after = used(&redis.url()).await;
    eprintln!("hold marker: {} bytes each", (after - before) / n);
    let t = std::time::Instant::now();
    for i in 0..n {
        let id = format!("t-{i}");
        s.settle(entry(id, "free-tier", now(), Money::from_picos(1)), Money::ZERO).await.unwrap();
    }
    eprintln!("sequential settle: {:?} each", t.elapsed() / n as u32);
    let t = std::time::Instant::now();
    for _ in 0..n {
        s.reserve(&caller, month("2026-03"), Money::from_picos(1), Some(Money::from_usd(1.0).unwrap())).await.unwrap();
    }
    eprintln!("sequential reserve: {:?} each", t.elapsed() / n as u32);
    let t = std::time::Instant::now();
    let futs: Vec<_> = (0..n).map(|i| { let s = s.clone(); tokio::spawn(async move { s.settle(entry(format!("c-{i}"), "free-tier", now(), Money::from_picos(1)), Money::ZERO).await }) }).collect();
    for f in futs { f.await.unwrap().unwrap(); }
    eprintln!("concurrent settles: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
}
