//! API keys in a fleet: replicas sharing one real Redis (`budgets.store: redis`) share the
//! keys made over the API, each key's cap holds for the fleet as a whole, and a revocation on
//! one replica is refused on the others within 3 s.

use std::time::{Duration, Instant};

use crate::common::{Infermux, Reply, chat, get, post_json, send};
use http::Method;
use infermux_core::Money;
use infermux_test_util::{MockServer, RedisServer};
use serde_json::json;

/// One "hi" with `max_tokens: 1` costs $0.0000018.
const HI: Money = Money::from_picos(1_800_000);

fn config(mock: &MockServer, redis: &RedisServer) -> String {
    format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini]}}
budgets:
  store: redis
  redis_url: "{}"
"#,
        mock.base_url(),
        redis.url()
    )
}

async fn ask(replica: &Infermux, key: &str) -> Reply {
    post_json(
        &replica.url("/v1/chat/completions"),
        &[("authorization", &format!("Bearer {key}"))],
        chat("gpt-4o-mini", json!({"max_tokens": 1})),
    )
    .await
}

/// Asks `replica` until its status is `status`; returns how long that took.
async fn until_status(replica: &Infermux, key: &str, status: u16) -> Duration {
    let start = Instant::now();
    loop {
        let reply = ask(replica, key).await;
        if reply.status == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {} after 10 s: {}",
            reply.status,
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_made_on_one_replica_is_capped_fleet_wide_and_revoked_everywhere_within_3s() {
    let redis = RedisServer::start().await;
    let mock = MockServer::openai().await;
    let yaml = config(&mock, &redis);
    let (a, b) = (Infermux::start(&yaml).await, Infermux::start(&yaml).await);

    let cap = HI.times(10);
    let made = post_json(
        &a.management_url("/_infermux/keys"),
        &[],
        json!({"name": "fleet", "caller": "acme", "monthly_usd": cap.as_usd_f64()}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let key = made.json()["key"].as_str().expect("key").to_owned();
    let id = made.json()["id"].as_str().expect("id").to_owned();
    let seen = until_status(&b, &key, 200).await;
    assert!(
        seen < Duration::from_secs(3),
        "the other replica took {seen:?}"
    );

    // The cap holds across both replicas: exactly ten requests' worth is served.
    let replies = futures_util::future::join_all(
        (0..60).map(|i| ask(if i % 2 == 0 { &a } else { &b }, &key)),
    )
    .await;
    let served = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies
        .iter()
        .filter(|r| r.header("x-infermux-error") == Some("key_budget_exceeded"))
        .count();
    assert_eq!(served + refused, 60);
    assert_eq!(served, 10 - 1, "one request was served before the burst");
    for replica in [&a, &b] {
        let report = get(&replica.management_url("/_infermux/costs/by-key"), &[])
            .await
            .json();
        assert_eq!(
            report["keys"][0]["total_usd"].as_f64(),
            Some(cap.as_usd_f64()),
            "{report}"
        );
        assert_eq!(report["keys"][0]["requests"], 10);
    }

    // Revoked on one replica, refused on the other within 3 s.
    let revoked = send(
        Method::DELETE,
        &a.management_url(&format!("/_infermux/keys/{id}")),
        &[],
        "",
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let refused_after = until_status(&b, &key, 401).await;
    assert!(
        refused_after < Duration::from_secs(3),
        "the revocation took {refused_after:?} to reach the other replica"
    );
    assert_eq!(ask(&a, &key).await.status, 401);

    // Redis holds the key's hash, never the key or a piece of it.
    let redis_cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port().to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let names = redis_cli(&["--scan"]);
    let mut contents = names.clone();
    for name in names.lines().filter(|n| !n.is_empty()) {
        contents.push_str(&match redis_cli(&["TYPE", name]).trim() {
            "hash" => redis_cli(&["HGETALL", name]),
            _ => redis_cli(&["GET", name]),
        });
    }
    assert!(
        contents.contains(&id),
        "the key's record is in Redis: {contents}"
    );
    for piece in key.as_bytes().windows(12) {
        let piece = std::str::from_utf8(piece).expect("ascii");
        assert!(
            !contents.contains(piece),
            "Redis holds `{piece}`, a piece of the key"
        );
    }
}
