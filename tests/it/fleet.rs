//! A fleet: several infermux replicas sharing budgets and the cost ledger on one real Redis
//! (`budgets.store: redis`). A hard_stop budget holds for the fleet as a whole, every
//! replica reports the same totals, and a Redis outage follows `budgets.redis_unavailable`
//! without restarting anything.

use std::time::{Duration, Instant};

use crate::common::{Infermux, Reply, chat, get, post_json};
use infermux_core::Money;
use infermux_test_util::{MockServer, RedisServer};
use serde_json::json;

/// One "hi" with `max_tokens: 1` reserves and costs 8 × $0.15/M + 1 × $0.60/M = $0.0000018.
const HI: Money = Money::from_picos(1_800_000);

const DEADLINE: Duration = Duration::from_secs(20);

/// An OpenAI provider on `mock` serving gpt-4o-mini, spend on `redis`, and `callers`.
fn config(mock: &MockServer, redis: &RedisServer, unavailable: &str, callers: &str) -> String {
    format!(
        r#"
providers:
  - name: openai
    type: openai
    api_key: "sk-test"
    base_url: "{}"
    models: [gpt-4o-mini]
budgets:
  store: redis
  redis_url: "{}"
  redis_unavailable: {unavailable}
  callers:
{callers}
"#,
        mock.base_url(),
        redis.url(),
    )
}

async fn replicas(count: usize, yaml: &str) -> Vec<Infermux> {
    let mut fleet = Vec::with_capacity(count);
    for _ in 0..count {
        fleet.push(Infermux::start(yaml).await);
    }
    fleet
}

async fn ask(replica: &Infermux, caller: &str) -> Reply {
    post_json(
        &replica.url("/v1/chat/completions"),
        &[("x-infermux-caller", caller)],
        chat("gpt-4o-mini", json!({"max_tokens": 1})),
    )
    .await
}

/// Every cost report of `replica`, by path.
async fn reports(replica: &Infermux) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for path in [
        "/_infermux/costs",
        "/_infermux/costs/by-model",
        "/_infermux/costs/by-caller",
        "/_infermux/costs/by-group",
        "/_infermux/costs/timeseries?hours=24&bucket=1h",
    ] {
        let reply = get(&replica.management_url(path), &[]).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        all.push(reply.json());
    }
    all
}

/// Polls `/_infermux/costs` of `replica` until `requests` are counted.
async fn costs_once_counted(replica: &Infermux, requests: u64) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let reply = get(&replica.management_url("/_infermux/costs"), &[]).await;
        if reply.status == 200 && reply.json()["requests"] == requests {
            return reply.json();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "never counted {requests} requests: {} {}",
            reply.status,
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hard_stop_budget_holds_across_three_replicas_and_every_replica_reports_the_same() {
    let redis = RedisServer::start().await;
    let openai = MockServer::openai().await;
    let budget = HI.times(20);
    let callers = format!(
        "    - {{caller: batch, monthly_usd: {}, action: hard_stop}}\n",
        budget.to_plain_decimal()
    );
    let fleet = replicas(3, &config(&openai, &redis, "fail_closed", &callers)).await;

    let replies =
        futures_util::future::join_all((0..500).map(|i| ask(&fleet[i % fleet.len()], "batch")))
            .await;

    let served = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies
        .iter()
        .filter(|r| r.status == 429 && r.header("x-infermux-error") == Some("budget_exceeded"))
        .count();
    assert_eq!(served + refused, 500, "every request is served or refused");
    assert_eq!(
        served, 20,
        "exactly the budget's worth is served, fleet-wide"
    );
    assert_eq!(openai.request_count(), 20);

    // Every replica answers every report with the same numbers, to the last digit.
    let mut seen = Vec::new();
    for replica in &fleet {
        seen.push(reports(replica).await);
    }
    if seen
        .iter()
        .any(|r| r[4]["buckets"][0] != seen[0][4]["buckets"][0])
    {
        // The hour turned between two reads: read again.
        seen.clear();
        for replica in &fleet {
            seen.push(reports(replica).await);
        }
    }
    for other in &seen[1..] {
        assert_eq!(other, &seen[0]);
    }
    let costs = &seen[0][0];
    assert_eq!(costs["total_usd"].as_f64(), Some(budget.as_usd_f64()));
    assert_eq!(costs["requests"], 20);
    assert_eq!(costs["by_provider"], json!({"openai": budget.as_usd_f64()}));
    let caller = &seen[0][2]["callers"][0];
    assert_eq!(caller["caller"], "batch");
    assert_eq!(caller["requests"], 20);
    assert_eq!(caller["budget_remaining_usd"], json!(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_closed_refuses_capped_callers_while_redis_is_down_and_recovers_by_itself() {
    let mut redis = RedisServer::start().await;
    let openai = MockServer::openai().await;
    let callers = "    - {caller: capped, monthly_usd: 1.00, action: hard_stop}\n";
    let fleet = replicas(2, &config(&openai, &redis, "fail_closed", callers)).await;
    assert_eq!(ask(&fleet[0], "capped").await.status, 200);

    redis.kill();
    let refused = ask(&fleet[0], "capped").await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(
        refused.header("x-infermux-error"),
        Some("budget_store_unavailable")
    );
    assert_eq!(refused.json()["error"]["code"], "budget_store_unavailable");
    assert_eq!(openai.request_count(), 1, "no provider was called");
    // A caller without a hard cap is served; its spend waits in the replica.
    assert_eq!(ask(&fleet[1], "uncapped").await.status, 200);

    redis.restart().await;
    let start = Instant::now();
    while ask(&fleet[0], "capped").await.status != 200 {
        assert!(start.elapsed() < DEADLINE, "never served again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Replica 0 reports all three served requests, replica 1's queued one included.
    let costs = costs_once_counted(&fleet[0], 3).await;
    assert_eq!(costs["total_usd"].as_f64(), Some(HI.times(3).as_usd_f64()));
    // The outage shows in the metrics.
    let metrics = get(&fleet[1].management_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains("infermux_spend_store_errors_total"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_open_serves_capped_callers_while_redis_is_down_and_reconciles_once() {
    let mut redis = RedisServer::start().await;
    let openai = MockServer::openai().await;
    let callers = "    - {caller: capped, monthly_usd: 1.00, action: hard_stop}\n";
    let fleet = replicas(2, &config(&openai, &redis, "fail_open", callers)).await;

    redis.kill();
    for _ in 0..5 {
        assert_eq!(ask(&fleet[0], "capped").await.status, 200);
    }
    redis.restart().await;

    // The other replica sees the five requests served during the outage, each once.
    let costs = costs_once_counted(&fleet[1], 5).await;
    assert_eq!(costs["total_usd"].as_f64(), Some(HI.times(5).as_usd_f64()));
    assert_eq!(ask(&fleet[1], "capped").await.status, 200);
    let costs = costs_once_counted(&fleet[0], 6).await;
    assert_eq!(costs["total_usd"].as_f64(), Some(HI.times(6).as_usd_f64()));
}
