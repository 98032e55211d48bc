//! Per-caller budgets through the whole proxy: the tutorial's walk-through, hard caps under
//! concurrency, clamping, model override, alerts, month rollover.

use crate::common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use crate::common::{Infermux, chat, get, post_json};
use infermux_core::{Clock, Money};
use infermux_test_util::{Fault, MockServer};
use serde_json::json;

/// An OpenAI provider on `mock` serving gpt-4o-mini ($0.15 / $0.60 per 1M tokens), plus
/// `budgets`.
fn config(mock: &MockServer, budgets: &str) -> String {
    format!(
        r#"
providers:
  - name: openai
    type: openai
    api_key: "sk-test"
    base_url: "{}"
    models: [gpt-4o-mini, gpt-4o]
budgets:
{budgets}
"#,
        mock.base_url()
    )
}

fn caller(name: &str) -> [(&str, &str); 1] {
    [("x-infermux-caller", name)]
}

/// A chat completion from `who`.
async fn ask(infermux: &Infermux, who: &str, body: serde_json::Value) -> common::Reply {
    post_json(&infermux.url("/v1/chat/completions"), &caller(who), body).await
}

/// One "hi" costs 8 × $0.15/M + 1 × $0.60/M = $0.0000018.
const HI: Money = Money::from_picos(1_800_000);

#[tokio::test]
async fn the_tutorial_walk_through_refuses_before_the_provider_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("infermux-budgets.json");
    let openai = MockServer::openai().await;
    let budgets = |usd: &str| {
        format!(
            "  state_file: \"{}\"\n  callers:\n    - {{caller: \"free-tier\", monthly_usd: {usd}, action: hard_stop}}\n",
            state.display()
        )
    };

    let infermux = Infermux::start(&config(&openai, &budgets("1.00"))).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("free-tier"),
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-cost"), Some("0.0000018"));
    let by_caller = get(&infermux.management_url("/_infermux/costs/by-caller"), &[])
        .await
        .json();
    assert_eq!(
        by_caller["callers"][0],
        json!({"caller": "free-tier", "total_usd": 0.0000018, "budget_usd": 1.0,
               "budget_remaining_usd": 0.9999982, "requests": 1, "prompt_tokens": 8,
               "completion_tokens": 1, "cached_prompt_tokens": 0})
    );
    infermux.stop().await;

    let infermux = Infermux::start(&config(&openai, &budgets("0.000001"))).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("free-tier"),
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("x-infermux-error"), Some("budget_exceeded"));
    assert_eq!(
        reply.json(),
        json!({"error": {
            "message": "monthly budget of $0.000001 exceeded; current spend: $0.0000018",
            "type": "infermux_error",
            "code": "budget_exceeded"
        }})
    );
    assert_eq!(
        openai.request_count(),
        1,
        "the provider never saw the refused request"
    );
    // Other callers are not limited.
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("pro-tier"),
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn concurrent_requests_cannot_overshoot_a_hard_stop_budget() {
    let openai = MockServer::openai().await;
    // Room for 20 requests of max_tokens 1 (each reserves and costs exactly $0.0000018).
    let budget = HI.times(20);
    let infermux = Infermux::start(&config(
        &openai,
        &format!(
            "  callers:\n    - {{caller: batch, monthly_usd: {}, action: hard_stop}}\n",
            budget.to_plain_decimal()
        ),
    ))
    .await;
    let replies = futures_util::future::join_all((0..500).map(|_| {
        ask(
            &infermux,
            "batch",
            chat("gpt-4o-mini", json!({"max_tokens": 1})),
        )
    }))
    .await;
    let served = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies
        .iter()
        .filter(|r| r.status == 429 && r.header("x-infermux-error") == Some("budget_exceeded"))
        .count();
    assert_eq!(served + refused, 500, "every request is served or refused");
    assert_eq!(served, 20, "exactly the budget's worth is served");
    assert_eq!(openai.request_count(), 20);
    let costs = get(&infermux.management_url("/_infermux/costs"), &[])
        .await
        .json();
    assert_eq!(costs["total_usd"].as_f64(), Some(budget.as_usd_f64()));
}

#[tokio::test]
async fn a_worst_case_over_the_remaining_budget_is_clamped_not_refused() {
    let openai = MockServer::openai().await;
    // $0.00001: the default worst case (4096 output tokens) does not fit; 14 tokens do.
    let infermux = Infermux::start(&config(
        &openai,
        "  callers:\n    - {caller: small, monthly_usd: 0.00001, action: hard_stop}\n",
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("small"),
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // (0.00001 - 8 × 0.00000015) / 0.0000006 = 14.67 -> 14 tokens.
    assert_eq!(reply.header("x-infermux-max-tokens-clamped"), Some("14"));
    assert_eq!(openai.requests()[0].json()["max_tokens"], 14);
}

#[tokio::test]
async fn a_failed_request_releases_its_reservation() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&config(
        &openai,
        &format!(
            "  callers:\n    - {{caller: one, monthly_usd: {}, action: hard_stop}}\n",
            HI.to_plain_decimal()
        ),
    ))
    .await;
    openai.set_fault(Fault::status(500));
    let failed = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("one"),
        chat("gpt-4o-mini", json!({"max_tokens": 1})),
    )
    .await;
    assert_eq!(failed.status, 502);
    openai.clear_fault();
    let served = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("one"),
        chat("gpt-4o-mini", json!({"max_tokens": 1})),
    )
    .await;
    assert_eq!(
        served.status, 200,
        "the failed request's reservation was released"
    );
    let refused = post_json(
        &infermux.url("/v1/chat/completions"),
        &caller("one"),
        chat("gpt-4o-mini", json!({"max_tokens": 1})),
    )
    .await;
    assert_eq!(refused.status, 429);
}

#[tokio::test]
async fn model_override_switches_the_model_once_spend_reaches_the_threshold() {
    let openai = MockServer::openai().await;
    // Override from 0.5 × $0.0000036 = $0.0000018: after the first request.
    let infermux = Infermux::start(&config(
        &openai,
        "  callers:\n    - {caller: batch, monthly_usd: 0.0000036, action: model_override, model_override: gpt-4o-mini, override_at: 0.5}\n",
    ))
    .await;
    let send = || ask(&infermux, "batch", chat("gpt-4o", json!({})));
    let first = send().await;
    assert_eq!(first.header("x-infermux-model"), Some("gpt-4o"));
    assert_eq!(first.header("x-infermux-model-override"), None);
    let second = send().await;
    assert_eq!(second.status, 200);
    assert_eq!(second.header("x-infermux-model"), Some("gpt-4o-mini"));
    assert_eq!(
        second.header("x-infermux-model-override"),
        Some("gpt-4o-mini")
    );
    assert_eq!(openai.requests()[1].json()["model"], "gpt-4o-mini");
}

/// A clock the test moves.
#[derive(Debug)]
struct TestClock(Mutex<SystemTime>);

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

#[tokio::test]
async fn spend_resets_when_the_utc_month_changes() {
    let openai = MockServer::openai().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let march_end = humantime::parse_rfc3339("2026-03-31T23:59:00Z").expect("time");
    let clock = Arc::new(TestClock(Mutex::new(march_end)));
    let infermux = Infermux::start_with_clock(
        &config(
            &openai,
            &format!(
                "  state_file: \"{}\"\n  callers:\n    - {{caller: one, monthly_usd: {}, action: hard_stop}}\n",
                dir.path().join("b.json").display(),
                HI.to_plain_decimal()
            ),
        ),
        clock.clone(),
    )
    .await;
    let send = || {
        ask(
            &infermux,
            "one",
            chat("gpt-4o-mini", json!({"max_tokens": 1})),
        )
    };
    assert_eq!(send().await.status, 200);
    assert_eq!(send().await.status, 429);
    let march = get(&infermux.management_url("/_infermux/costs"), &[])
        .await
        .json();
    assert_eq!(march["period"], "2026-03");
    *clock.0.lock().expect("clock") = march_end + Duration::from_secs(120);
    assert_eq!(send().await.status, 200, "a new month, a new budget");
    let april = get(&infermux.management_url("/_infermux/costs"), &[])
        .await
        .json();
    assert_eq!(april["period"], "2026-04");
    assert_eq!(april["total_usd"], 0.0000018);
}

#[tokio::test]
async fn each_alert_threshold_fires_once_with_a_log_metric_and_webhook() {
    let openai = MockServer::openai().await;
    let hook = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "{}  alert_webhook: \"{}/hooks/budget\"\n",
        config(
            &openai,
            &format!(
                "  callers:\n    - {{caller: pro, monthly_usd: {}, action: alert, alert_at: [0.5, 1.0]}}\n",
                HI.times(2).to_plain_decimal()
            ),
        ),
        hook.base_url()
    ))
    .await;
    for _ in 0..3 {
        // 1.8 µ$ crosses half the budget, 3.6 µ$ all of it, 5.4 µ$ nothing new: alerts
        // never stop an `alert` caller.
        let reply = ask(&infermux, "pro", chat("gpt-4o-mini", json!({}))).await;
        assert_eq!(reply.status, 200);
    }
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    let fired: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("infermux_budget_alerts_total{"))
        .collect();
    assert_eq!(fired.len(), 2, "{metrics}");
    assert!(fired.iter().all(|l| l.ends_with(" 1")), "{fired:?}");
    assert!(metrics.contains("infermux_budget_remaining_usd{caller=\"pro\"} 0"));

    let mut posts = Vec::new();
    for _ in 0..500 {
        posts = hook
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/hooks/budget"))
            .collect();
        if posts.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut thresholds: Vec<f64> = posts
        .iter()
        .map(|p| p.json()["threshold"].as_f64().expect("threshold"))
        .collect();
    thresholds.sort_by(f64::total_cmp);
    assert_eq!(thresholds, [0.5, 1.0]);
    let first = posts[0].json();
    assert_eq!(first["caller"], "pro");
    assert_eq!(first["budget_usd"], 0.0000036);
}

#[tokio::test]
async fn a_failing_spend_store_is_a_503_with_its_own_code() {
    let error: infermux_core::BoxError = Box::new(infermux_budget::BudgetStoreUnavailable::new(
        infermux_core::StoreError::Unavailable("disk full at /var/lib/infermux".into()),
    ));
    let response = infermux::error::into_response(&error);
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["x-infermux-error"],
        "budget_store_unavailable"
    );
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("budget_store_unavailable"), "{body}");
    assert!(
        !body.contains("/var/lib"),
        "store details stay in the logs: {body}"
    );
}
