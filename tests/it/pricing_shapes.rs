//! Pricing shapes through the whole proxy, at the built-in prices, compared exactly with the
//! provider's own billing formula: Anthropic's 1-hour cache writes (complete and streamed) and
//! OpenAI's priority and flex service tiers.

use std::time::Duration;

use crate::common::{Infermux, chat, get, post_json};
use infermux_test_util::MockServer;
use serde_json::json;

/// Waits (bounded) until the ledger holds `n` requests: a stream is settled as it ends.
async fn ledger_total(infermux: &Infermux, n: u64) -> String {
    for _ in 0..200 {
        let reply = get(&infermux.management_url("/_infermux/costs"), &[]).await;
        if reply.json()["requests"].as_u64() >= Some(n) {
            return reply.text();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the ledger never held {n} requests");
}

/// `tokens` at `usd_per_million` USD per 1M tokens, in pico-USD.
fn picos(tokens: u64, usd_per_million: f64) -> u64 {
    // USD per 1M tokens is pico-USD per token × 10⁻⁶; list prices have at most six decimals.
    tokens * (usd_per_million * 1e6).round() as u64
}

fn usd(picos: u64) -> String {
    infermux::core::Money::from_picos(picos).to_plain_decimal()
}

#[tokio::test]
async fn anthropic_one_hour_cache_writes_are_priced_at_their_own_rate() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_cache_usage_by_lifetime(20_000, 1_000, 2_000);
    let infermux = Infermux::start(&format!(
        "providers:\n  - {{name: anthropic, type: anthropic, api_key: sk-ant, base_url: \"{}\", models: [claude-opus-5-5]}}\n",
        anthropic.base_url()
    ))
    .await;
    // Anthropic's bill for claude-opus-5-5 ($4 in, $20 out, $0.20 read, $5 5-minute and $8
    // 1-hour writes): input_tokens 8 ("hi"), 20000 read, 1000 + 2000 written, 1 output.
    let expected = usd(picos(8, 4.0)
        + picos(20_000, 0.20)
        + picos(1_000, 5.0)
        + picos(2_000, 8.0)
        + picos(1, 20.0));
    let url = infermux.url("/v1/chat/completions");
    let reply = post_json(
        &url,
        &[],
        chat("claude-opus-5-5", json!({"max_tokens": 16})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-cost"), Some(expected.as_str()));
    // The same usage streamed: charged the same.
    let body = chat("claude-opus-5-5", json!({"max_tokens": 16, "stream": true}));
    let stream = post_json(&url, &[], body).await;
    assert_eq!(stream.status, 200, "{}", stream.text());
    let total = ledger_total(&infermux, 2).await;
    let both = usd(2
        * (picos(8, 4.0)
            + picos(20_000, 0.20)
            + picos(1_000, 5.0)
            + picos(2_000, 8.0)
            + picos(1, 20.0)));
    assert!(total.contains(&format!("\"total_usd\":{both}")), "{total}");
}

#[tokio::test]
async fn openai_service_tiers_are_priced_at_their_rates() {
    let openai = MockServer::openai().await;
    openai.set_cache_usage(4, 0);
    let infermux = Infermux::start(&format!(
        "providers:\n  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-5]}}\n",
        openai.base_url()
    ))
    .await;
    let url = infermux.url("/v1/chat/completions");
    // OpenAI's bill: prompt_tokens 8 of which cached_tokens 4, completion_tokens 1.
    for (tier, input, cached, output) in [
        ("priority", 2.50, 0.25, 20.0),
        ("default", 1.25, 0.125, 10.0),
    ] {
        openai.set_service_tier(tier);
        let expected = usd(picos(4, input) + picos(4, cached) + picos(1, output));
        let reply = post_json(&url, &[], chat("gpt-5", json!({}))).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.header("x-infermux-cost"),
            Some(expected.as_str()),
            "{tier}"
        );
    }
    // A streamed priority answer, the tier read from its chunks.
    openai.set_service_tier("priority");
    let body = chat(
        "gpt-5",
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    let stream = post_json(&url, &[], body).await;
    let expected: f64 = (picos(4, 2.50) + picos(4, 0.25) + picos(1, 20.0)) as f64 / 1e12;
    let chunks = stream.chunks();
    let usage = &chunks.last().expect("usage chunk")["usage"];
    assert_eq!(usage["cost"], expected);
}
