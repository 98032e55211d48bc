//! No silent $0: an OpenAI-compatible upstream that reports no usage is charged what
//! infermux counts itself (the prompt and the output delivered), the charge is counted in
//! `infermux_estimated_usage_total`, and a `hard_stop` budget trips on it. A stream the
//! provider cuts is charged its prompt and what was generated, and reported as waste.

use std::time::Duration;

use crate::common::{Infermux, chat, get, post_json};
use infermux::{core::TokenCounter, tokens::BpeTokenCounter};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

const REPLY: &str = "Counted by infermux, because the server said nothing about usage.";

fn config(mock: &MockServer, extra: &str) -> String {
    named_config("compat", mock, extra)
}

/// The metrics registry is shared by the tests of this file: a test that reads a counter
/// names its provider alone.
fn named_config(name: &str, mock: &MockServer, extra: &str) -> String {
    format!(
        "providers:\n  - {{name: {name}, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini]}}\n{extra}",
        mock.base_url()
    )
}

/// gpt-4o-mini's list price: $0.15 in, $0.60 out per million tokens, in pico-USD per token.
const INPUT_PICOS: u64 = 150_000;
const OUTPUT_PICOS: u64 = 600_000;

/// The charge for the "hi" prompt (8 tokens, as OpenAI bills it) and `REPLY` as infermux's
/// tokenizer counts it, as an exact decimal of USD.
fn expected_cost() -> (u64, String) {
    let output = BpeTokenCounter::new().count("gpt-4o-mini", REPLY);
    let picos = 8 * INPUT_PICOS + output * OUTPUT_PICOS;
    let cost = infermux::core::Money::from_picos(picos).to_plain_decimal();
    (output, cost)
}

/// `path`'s report shows `total_usd` as exactly `cost`.
async fn assert_usd(infermux: &Infermux, path: &str, cost: &str) {
    let text = get(&infermux.management_url(path), &[]).await.text();
    assert!(text.contains(&format!("\"total_usd\":{cost}")), "{text}");
}

async fn report(infermux: &Infermux, path: &str) -> Value {
    get(&infermux.management_url(path), &[]).await.json()
}

/// Waits (bounded) until the ledger holds `n` requests: a stream is settled as it ends.
async fn wait_for_ledger(infermux: &Infermux, n: u64) -> Value {
    for _ in 0..200 {
        let totals = report(infermux, "/_infermux/costs").await;
        if totals["requests"].as_u64() >= Some(n) {
            return totals;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the ledger never held {n} requests");
}

#[tokio::test]
async fn a_complete_answer_without_usage_is_charged_as_counted() {
    let mock = MockServer::openai().await;
    mock.set_omit_usage(true);
    mock.set_reply(REPLY);
    let infermux = Infermux::start(&named_config("compat-complete", &mock, "")).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.json().get("usage").is_none(),
        "the upstream sent no usage"
    );
    let (output, cost) = expected_cost();
    assert!(output > 1);
    assert_eq!(reply.header("x-infermux-cost"), Some(cost.as_str()));
    let callers = report(&infermux, "/_infermux/costs/by-caller").await;
    assert_eq!(callers["callers"][0]["prompt_tokens"], 8);
    assert_eq!(callers["callers"][0]["completion_tokens"], output);
    let by_caller = get(&infermux.management_url("/_infermux/costs/by-caller"), &[]).await;
    assert!(
        by_caller.text().contains(&format!("\"total_usd\":{cost}")),
        "{}",
        by_caller.text()
    );
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("infermux_estimated_usage_total{")
                && l.contains("provider=\"compat-complete\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_long_prompt_nothing_decided_by_is_counted_once_its_answer_has_no_usage() {
    // One provider, `priority`, no budget: ingress leaves a long complete prompt uncounted,
    // and the answer without usage has it counted then, exactly.
    let mock = MockServer::openai().await;
    mock.set_omit_usage(true);
    mock.set_reply(REPLY);
    let infermux = Infermux::start(&named_config("compat-long", &mock, "")).await;
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Summarise the user's notes."},
            {"role": "user", "content": "Notes on the migration, day by day. ".repeat(800)}
        ]
    });
    assert!(body.to_string().len() > infermux::tokens::INLINE_ESTIMATE_BYTES);
    let reply = post_json(&infermux.url("/v1/chat/completions"), &[], body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let chat = serde_json::from_value(body).expect("chat");
    let prompt = BpeTokenCounter::new()
        .estimate(&infermux::core::RequestBody::Chat(chat))
        .prompt_tokens;
    assert!(prompt > 5000, "{prompt}");
    let output = BpeTokenCounter::new().count("gpt-4o-mini", REPLY);
    let callers = report(&infermux, "/_infermux/costs/by-caller").await;
    assert_eq!(callers["callers"][0]["prompt_tokens"], prompt);
    assert_eq!(callers["callers"][0]["completion_tokens"], output);
    let cost = infermux::core::Money::from_picos(prompt * INPUT_PICOS + output * OUTPUT_PICOS);
    assert_eq!(
        reply.header("x-infermux-cost"),
        Some(cost.to_plain_decimal().as_str())
    );
}

#[tokio::test]
async fn a_stream_without_usage_is_charged_as_counted() {
    let mock = MockServer::openai().await;
    mock.set_omit_usage(true);
    mock.set_reply(REPLY);
    let infermux = Infermux::start(&config(&mock, "")).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.streamed_text(), REPLY);
    wait_for_ledger(&infermux, 1).await;
    let (_, cost) = expected_cost();
    assert_usd(&infermux, "/_infermux/costs", &cost).await;
}

#[tokio::test]
async fn a_hard_stop_budget_trips_on_usage_the_upstream_never_reported() {
    let mock = MockServer::openai().await;
    mock.set_omit_usage(true);
    mock.set_reply(REPLY);
    // Room for one request, not two: the first one's counted cost fills it.
    let (_, cost) = expected_cost();
    let budgets = format!(
        "budgets:\n  callers:\n    - {{caller: capped, monthly_usd: {cost}, action: hard_stop}}\n"
    );
    let infermux = Infermux::start(&config(&mock, &budgets)).await;
    let headers = [("x-infermux-caller", "capped")];
    let body = chat("gpt-4o-mini", json!({"max_tokens": 16}));
    let url = infermux.url("/v1/chat/completions");
    let first = post_json(&url, &headers, body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let second = post_json(&url, &headers, body).await;
    assert_eq!(second.status, 429, "{}", second.text());
    assert_eq!(second.json()["error"]["code"], "budget_exceeded");
}

#[tokio::test]
async fn a_stream_the_provider_cuts_is_charged_and_reported_as_waste() {
    let mock = MockServer::openai().await;
    mock.set_reply(REPLY);
    let infermux = Infermux::start(&config(&mock, "")).await;
    // Cut after the role chunk and one content chunk.
    mock.set_fault(Fault::CutStreamAfter(2));
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let delivered: String = reply
        .sse_data()
        .iter()
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!delivered.is_empty() && delivered != REPLY, "{delivered:?}");
    wait_for_ledger(&infermux, 1).await;
    let output = BpeTokenCounter::new().count("gpt-4o-mini", &delivered);
    let picos = 8 * INPUT_PICOS + output * OUTPUT_PICOS;
    let cost = infermux::core::Money::from_picos(picos).to_plain_decimal();
    assert_usd(&infermux, "/_infermux/costs", &cost).await;
    let waste = get(&infermux.management_url("/_infermux/costs/waste"), &[]).await;
    let expected = format!(
        "{{\"period\":\"{}\",\"total_usd\":{cost},\"requests\":1,\"by_provider\":{{\"compat\":{{\"total_usd\":{cost},\"requests\":1,\"by_reason\":{{\"stream_interrupted\":{{\"total_usd\":{cost},\"requests\":1}}}}}}}}}}",
        waste.json()["period"].as_str().expect("period")
    );
    assert_eq!(waste.text(), expected);
}
