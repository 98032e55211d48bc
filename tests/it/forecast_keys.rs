//! `/_infermux/forecast` lists every API key with a budget or spend this month, each with its
//! monthly budget, its spend (the key ledger's, what the budget is enforced against) and its
//! projection.

use crate::common::{Infermux, chat, get, post_json};
use infermux_test_util::MockServer;
use serde_json::{Value, json};

fn config(openai: &MockServer) -> String {
    format!(
        r#"providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini]}}
keys:
  list:
    - {{name: capped, key: "${{CAPPED_KEY}}", caller: acme, monthly_usd: 2.5}}
    - {{name: open, key: "${{OPEN_KEY}}", caller: acme}}
    - {{name: idle, key: "${{IDLE_KEY}}", caller: acme, monthly_usd: 7}}
    - {{name: unused, key: "${{UNUSED_KEY}}", caller: acme}}
request_log: {{store: sqlite, path: ":memory:"}}
"#,
        openai.base_url()
    )
}

async fn ask(infermux: &Infermux, key: &str) {
    let auth = format!("Bearer {key}");
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("authorization", &auth)],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

async fn mgmt(infermux: &Infermux, path: &str) -> Value {
    let reply = get(&infermux.management_url(path), &[]).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

#[tokio::test]
async fn forecast_keys_carry_their_budgets() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start_with_env(
        &config(&openai),
        &[
            ("CAPPED_KEY", "capped-secret-1"),
            ("OPEN_KEY", "open-secret-1"),
            ("IDLE_KEY", "idle-secret-1"),
            ("UNUSED_KEY", "unused-secret-1"),
        ],
    )
    .await;
    for _ in 0..3 {
        ask(&infermux, "capped-secret-1").await;
    }
    ask(&infermux, "open-secret-1").await;

    // The key ledger counts at once; the log's rows follow in their batch.
    let keys = mgmt(&infermux, "/_infermux/keys").await;
    let spent = |id: &str| {
        keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["id"] == id)
            .map(|k| k["spent_usd"].as_f64().expect("spent"))
            .expect("the key")
    };
    let forecast = mgmt(&infermux, "/_infermux/forecast").await;
    let rows = forecast["keys"].as_array().expect("keys");
    let row = |id: &str| rows.iter().find(|r| r["key"] == id).cloned();

    let capped = row("key_capped").expect("the capped key");
    assert_eq!(capped["budget_usd"], 2.5);
    assert!(spent("key_capped") > 0.0);
    assert_eq!(capped["spent_usd"].as_f64(), Some(spent("key_capped")));
    assert!(capped["projected_month_usd"].as_f64() >= capped["spent_usd"].as_f64());

    let open = row("key_open").expect("the key without a budget, with spend");
    assert!(open["budget_usd"].is_null());
    assert_eq!(open["spent_usd"].as_f64(), Some(spent("key_open")));
    assert!(open["projected_exhaustion"].is_null());

    let idle = row("key_idle").expect("a budgeted key without spend");
    assert_eq!(idle["budget_usd"], 7.0);
    assert_eq!(idle["spent_usd"], 0.0);
    assert!(idle["projected_exhaustion"].is_null());

    assert!(
        row("key_unused").is_none(),
        "no budget and no spend: {forecast:#}"
    );
    // Highest projection first.
    assert_eq!(rows[0]["key"], "key_capped", "{forecast:#}");
}
