//! Money that bought no answer: a failed attempt that its provider billed (an error answer
//! with `usage`, an answer rejected after decoding) is charged to the caller at that
//! provider's price, on top of the answer that was finally served, and shows in
//! `GET /_infermux/costs/waste`. The waste report and the estimated part of the spend are
//! kept by the spend store: they survive a restart (state file) and are fleet-wide (Redis).

use crate::common::{Infermux, Reply, chat, get, post_json};
use infermux_core::Money;
use infermux_test_util::{Fault, MockServer, RedisServer};
use serde_json::{Value, json};

/// The failing provider's price: $1 in, $2 out per million tokens (pico-USD per token).
const FAILING_IN: u64 = 1_000_000;
const FAILING_OUT: u64 = 2_000_000;
/// The answering provider's price: gpt-4o-mini's $0.15 / $0.60.
const SERVING_IN: u64 = 150_000;
const SERVING_OUT: u64 = 600_000;

/// A 500 whose body reports the usage the provider billed for it: 8 prompt tokens, 5 output.
fn billed_500() -> Fault {
    Fault::Status {
        status: 500,
        body: json!({
            "error": {"message": "the model crashed mid-answer", "type": "server_error"},
            "usage": {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13},
        })
        .to_string(),
        retry_after: None,
    }
}

/// What [`billed_500`] costs at the failing provider's price.
const BILLED_500: Money = Money::from_picos(8 * FAILING_IN + 5 * FAILING_OUT);

/// Two providers of `gpt-4o-mini`, tried in order: `failing` (type `failing_type`) then
/// `serving`, each with its own price.
fn config(failing: &MockServer, failing_type: &str, serving: &MockServer, extra: &str) -> String {
    format!(
        r#"
providers:
  - {{name: failing, type: {failing_type}, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: serving, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini]}}
pricing:
  - {{provider: failing, model: gpt-4o-mini, input: 1, output: 2}}
  - {{provider: serving, model: gpt-4o-mini, input: 0.15, output: 0.60}}
{extra}"#,
        failing.base_url(),
        serving.base_url()
    )
}

async fn ask(infermux: &Infermux, caller: &str) -> Reply {
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("x-infermux-caller", caller)],
        chat("gpt-4o-mini", json!({"max_tokens": 16})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("serving"));
    reply
}

/// What the served answer cost, from the usage it reports.
fn served_cost(reply: &Reply) -> Money {
    let usage = &reply.json()["usage"];
    let prompt = usage["prompt_tokens"].as_u64().expect("prompt tokens");
    let completion = usage["completion_tokens"]
        .as_u64()
        .expect("completion tokens");
    Money::from_picos(prompt * SERVING_IN + completion * SERVING_OUT)
}

async fn report(infermux: &Infermux, path: &str) -> (String, Value) {
    let reply = get(&infermux.management_url(path), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    (reply.text(), reply.json())
}

/// Waits (bounded) until the ledger holds `n` entries: a billed attempt settles on its own
/// task, beside the answer.
async fn until_ledger_holds(infermux: &Infermux, n: u64) -> Value {
    for _ in 0..300 {
        let (_, totals) = report(infermux, "/_infermux/costs").await;
        if totals["requests"].as_u64() >= Some(n) {
            return totals;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the ledger never held {n} entries");
}

/// The waste report holding `requests` wasted attempts of `failing` for `reason`, `each` costing
/// `cost`, as exact text.
fn waste_text(period: &str, reason: &str, requests: u64, cost: Money) -> String {
    let usd = cost.to_plain_decimal();
    format!(
        "{{\"period\":\"{period}\",\"total_usd\":{usd},\"requests\":{requests},\"by_provider\":{{\"failing\":{{\"total_usd\":{usd},\"requests\":{requests},\"by_reason\":{{\"{reason}\":{{\"total_usd\":{usd},\"requests\":{requests}}}}}}}}}}}"
    )
}

async fn assert_waste(infermux: &Infermux, reason: &str, requests: u64, cost: Money) {
    let (text, json) = report(infermux, "/_infermux/costs/waste").await;
    let period = json["period"].as_str().expect("period");
    assert_eq!(text, waste_text(period, reason, requests, cost));
}

#[tokio::test]
async fn an_error_answer_with_usage_is_charged_to_the_caller_and_reported_as_waste() {
    let failing = MockServer::openai().await;
    let serving = MockServer::openai().await;
    failing.set_faults(vec![billed_500()]);
    let budgets = "budgets:\n  callers:\n    - {caller: acme, monthly_usd: 1, action: hard_stop}\n";
    let infermux = Infermux::start(&config(&failing, "openai", &serving, budgets)).await;

    let reply = ask(&infermux, "acme").await;
    assert_eq!(failing.request_count(), 1, "the failing provider was tried");
    let served = served_cost(&reply);
    // The answer's own cost is its header; the billed attempt is charged beside it.
    assert_eq!(
        reply.header("x-infermux-cost"),
        Some(served.to_plain_decimal().as_str())
    );
    until_ledger_holds(&infermux, 2).await;

    let total = BILLED_500.saturating_add(served);
    let (text, callers) = report(&infermux, "/_infermux/costs/by-caller").await;
    let row = &callers["callers"][0];
    assert_eq!(row["caller"], "acme", "{text}");
    assert!(
        text.contains(&format!("\"total_usd\":{}", total.to_plain_decimal())),
        "the caller pays both attempts: {text}"
    );
    let remaining = Money::from_usd(1.0)
        .expect("usd")
        .saturating_sub(total)
        .to_plain_decimal();
    assert!(
        text.contains(&format!("\"budget_remaining_usd\":{remaining}")),
        "{text}"
    );
    let (text, _) = report(&infermux, "/_infermux/costs").await;
    for (provider, cost) in [("failing", BILLED_500), ("serving", served)] {
        assert!(
            text.contains(&format!("\"{provider}\":{}", cost.to_plain_decimal())),
            "{text}"
        );
    }
    assert_waste(&infermux, "provider_error", 1, BILLED_500).await;
}

#[tokio::test]
async fn an_answer_rejected_after_decoding_is_charged_as_a_bad_response() {
    // An Anthropic answer with its usage but content that is not a list of blocks: infermux
    // cannot decode it and fails over, but Anthropic billed it.
    let failing = MockServer::anthropic().await;
    let serving = MockServer::openai().await;
    failing.set_faults(vec![Fault::Status {
        status: 200,
        body: json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "gpt-4o-mini",
            "content": "not a list of blocks", "stop_reason": "end_turn",
            "usage": {"input_tokens": 6, "cache_read_input_tokens": 2, "output_tokens": 3},
        })
        .to_string(),
        retry_after: None,
    }]);
    let infermux = Infermux::start(&config(&failing, "anthropic", &serving, "")).await;

    let reply = ask(&infermux, "acme").await;
    until_ledger_holds(&infermux, 2).await;
    // 8 prompt tokens (2 of them cache reads, at the input price: no cached_input price) and 3
    // output tokens at the failing provider's price.
    let billed = Money::from_picos(8 * FAILING_IN + 3 * FAILING_OUT);
    let total = billed.saturating_add(served_cost(&reply));
    let (text, _) = report(&infermux, "/_infermux/costs").await;
    assert!(
        text.contains(&format!("\"total_usd\":{}", total.to_plain_decimal())),
        "{text}"
    );
    assert_waste(&infermux, "bad_response", 1, billed).await;
}

#[tokio::test]
async fn a_failure_without_usage_costs_nothing() {
    let failing = MockServer::openai().await;
    let serving = MockServer::openai().await;
    failing.set_faults(vec![Fault::status(503)]);
    let infermux = Infermux::start(&config(&failing, "openai", &serving, "")).await;
    let reply = ask(&infermux, "acme").await;
    let totals = until_ledger_holds(&infermux, 1).await;
    assert_eq!(totals["requests"], 1, "{totals}");
    let (text, _) = report(&infermux, "/_infermux/costs").await;
    assert!(
        text.contains(&format!(
            "\"total_usd\":{}",
            served_cost(&reply).to_plain_decimal()
        )),
        "{text}"
    );
    let (_, waste) = report(&infermux, "/_infermux/costs/waste").await;
    assert_eq!(waste["requests"], 0, "{waste}");
}

/// The estimated part of the spend, from `/_infermux/costs`.
async fn estimated(infermux: &Infermux) -> (String, u64) {
    let (text, totals) = report(infermux, "/_infermux/costs").await;
    let usd = text
        .split("\"estimated_usd\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .expect("estimated_usd")
        .to_owned();
    (usd, totals["estimated_requests"].as_u64().expect("count"))
}

#[tokio::test]
async fn waste_and_estimated_spend_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("budgets.json");
    let failing = MockServer::openai().await;
    let serving = MockServer::openai().await;
    // The serving provider reports no usage: infermux counts it, an estimate.
    serving.set_omit_usage(true);
    failing.set_faults(vec![billed_500()]);
    let yaml = config(
        &failing,
        "openai",
        &serving,
        &format!("budgets:\n  state_file: \"{}\"\n", state.display()),
    );

    let infermux = Infermux::start(&yaml).await;
    let reply = ask(&infermux, "acme").await;
    let served: Money = {
        let header = reply.header("x-infermux-cost").expect("cost header");
        Money::from_usd(header.parse().expect("decimal")).expect("usd")
    };
    assert!(served > Money::ZERO);
    until_ledger_holds(&infermux, 2).await;
    let before = estimated(&infermux).await;
    assert_eq!(before, (served.to_plain_decimal(), 1));
    assert_waste(&infermux, "provider_error", 1, BILLED_500).await;
    infermux.stop().await;

    let infermux = Infermux::start(&yaml).await;
    assert_eq!(estimated(&infermux).await, before);
    let (text, _) = report(&infermux, "/_infermux/costs/by-caller").await;
    assert!(
        text.contains(&format!("\"estimated_usd\":{}", served.to_plain_decimal())),
        "the caller's estimated part survives too: {text}"
    );
    assert_waste(&infermux, "provider_error", 1, BILLED_500).await;
    // The journal marks the estimated entry and the wasted one.
    let journal =
        std::fs::read_to_string(dir.path().join("budgets.json.journal")).unwrap_or_default();
    let snapshot = std::fs::read_to_string(&state).unwrap_or_default();
    assert!(
        journal.contains("\"waste\":\"provider_error\"") || snapshot.contains("\"provider_error\""),
        "journal: {journal}\nsnapshot: {snapshot}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_one_redis_show_the_fleets_waste_and_estimates() {
    let redis = RedisServer::start().await;
    let failing = MockServer::openai().await;
    let serving = MockServer::openai().await;
    serving.set_omit_usage(true);
    // Each replica's first attempt fails, billed.
    failing.set_faults(vec![billed_500(), billed_500()]);
    let yaml = config(
        &failing,
        "openai",
        &serving,
        &format!(
            "budgets:\n  store: redis\n  redis_url: \"{}\"\n",
            redis.url()
        ),
    );
    let (a, b) = (Infermux::start(&yaml).await, Infermux::start(&yaml).await);
    let first = ask(&a, "acme").await;
    let second = ask(&b, "acme").await;
    let served: Money = [first, second]
        .iter()
        .map(|r| {
            let header = r.header("x-infermux-cost").expect("cost header");
            Money::from_usd(header.parse().expect("decimal")).expect("usd")
        })
        .fold(Money::ZERO, Money::saturating_add);
    for replica in [&a, &b] {
        until_ledger_holds(replica, 4).await;
        assert_eq!(estimated(replica).await, (served.to_plain_decimal(), 2));
        let (text, _) = report(replica, "/_infermux/costs/by-caller").await;
        assert!(
            text.contains(&format!("\"estimated_usd\":{}", served.to_plain_decimal())),
            "{text}"
        );
        assert_waste(replica, "provider_error", 2, BILLED_500.times(2)).await;
    }
}

#[tokio::test]
async fn a_billed_attempt_is_charged_to_the_clients_key_once() {
    let failing = MockServer::openai().await;
    let serving = MockServer::openai().await;
    failing.set_faults(vec![billed_500()]);
    let keys = "keys:\n  list:\n    - {name: fixed, key: \"fixed-secret\"}\n";
    let infermux = Infermux::start(&config(&failing, "openai", &serving, keys)).await;
    let made = post_json(
        &infermux.management_url("/_infermux/keys"),
        &[],
        json!({"name": "acme-prod", "caller": "acme", "monthly_usd": 1}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let (key, id) = (
        made.json()["key"].as_str().expect("key").to_owned(),
        made.json()["id"].as_str().expect("id").to_owned(),
    );
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("authorization", &format!("Bearer {key}"))],
        chat("gpt-4o-mini", json!({"max_tokens": 16})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let total = BILLED_500.saturating_add(served_cost(&reply));
    until_ledger_holds(&infermux, 2).await;
    let path = format!("/_infermux/keys/{id}");
    let mut spent = Value::Null;
    for _ in 0..300 {
        spent = report(&infermux, &path).await.1["spent_usd"].clone();
        if spent.as_f64() == Some(total.as_usd_f64()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        spent.as_f64(),
        Some(total.as_usd_f64()),
        "the key pays both attempts"
    );
    let (text, _) = report(&infermux, "/_infermux/costs/by-caller").await;
    assert!(
        text.contains(&format!("\"total_usd\":{}", total.to_plain_decimal())),
        "{text}"
    );
}
