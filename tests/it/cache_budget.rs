//! A request asking Anthropic for 1-hour prompt caching (`cache_control.ttl: "1h"`) may write
//! every prompt token at the 1-hour cache write price, so a `hard_stop` budget reserves it at
//! that price while it is in flight: beside a 5-minute request the budget still has room for
//! another request, beside a 1-hour one it has none.

use std::time::{Duration, Instant};

use crate::common::{Infermux, Reply, post_json};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

/// Prompt text of 8000 bytes: about 2000 tokens to infermux's estimate for a Claude model.
fn long_prompt(cache_control: Value) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1,
        "system": [{"type": "text", "text": "cache me ".repeat(889), "cache_control": cache_control}],
        "messages": [{"role": "user", "content": "hi"}],
    })
}

async fn messages(url: String, caller: &'static str, body: Value) -> Reply {
    post_json(
        &url,
        &[
            ("x-infermux-caller", caller),
            ("anthropic-version", "2023-06-01"),
        ],
        body,
    )
    .await
}

/// Waits until the mock has received `n` requests.
async fn until_received(mock: &MockServer, n: usize) {
    let start = Instant::now();
    while mock.request_count() < n {
        assert!(start.elapsed() < Duration::from_secs(10), "never received");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `cache_control`'s long prompt as `caller` and holds it at the provider, then asks a
/// short question as the same caller: the short one's status.
async fn beside_a_long_prompt(
    infermux: &Infermux,
    anthropic: &MockServer,
    caller: &'static str,
    cache_control: Value,
) -> u16 {
    let received = anthropic.request_count();
    anthropic.set_faults(vec![Fault::Stall]);
    let held = tokio::spawn(messages(
        infermux.url("/v1/messages"),
        caller,
        long_prompt(cache_control),
    ));
    // Admitted (its reservation held) once it reached the provider.
    until_received(anthropic, received + 1).await;
    let short = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1,
        "messages": [{"role": "user", "content": "hi"}],
    });
    let reply = messages(infermux.url("/v1/messages"), caller, short).await;
    held.abort();
    reply.status.as_u16()
}

#[tokio::test]
async fn a_one_hour_cache_request_is_reserved_at_the_one_hour_write_price() {
    let anthropic = MockServer::anthropic().await;
    // About 2000 prompt tokens: the 5-minute worst case is about 2000 × $3.75/M = $0.0075,
    // the 1-hour one about 2000 × $6/M = $0.012. The budget lies between them, with room for
    // the estimate to be 10% off either way.
    let budget = 2000.0 * 4.8 / 1_000_000.0;
    let yaml = format!(
        r#"
providers:
  - {{name: anthropic, type: anthropic, api_key: sk-ant-test, base_url: "{}", models: [claude-sonnet-4-5]}}
pricing:
  - {{provider: anthropic, model: claude-sonnet-4-5, input: 3, output: 15, cached_input: 0.30, cache_write: 3.75, cache_write_1h: 6}}
budgets:
  callers:
    - {{caller: five-minutes, monthly_usd: {budget}, action: hard_stop}}
    - {{caller: one-hour, monthly_usd: {budget}, action: hard_stop}}
"#,
        anthropic.base_url()
    );
    let infermux = Infermux::start(&yaml).await;

    let five = beside_a_long_prompt(
        &infermux,
        &anthropic,
        "five-minutes",
        json!({"type": "ephemeral"}),
    )
    .await;
    assert_eq!(five, 200, "a 5-minute write leaves room in the budget");
    let one = beside_a_long_prompt(
        &infermux,
        &anthropic,
        "one-hour",
        json!({"type": "ephemeral", "ttl": "1h"}),
    )
    .await;
    assert_eq!(one, 429, "a 1-hour write may take the whole budget");
}
