//! API keys through the official OpenAI Python SDK (its `api_key` is the infermux key): served,
//! 401, 403 and both 429s surface as the SDK's own typed errors. CI installs the SDK and
//! points `INFERMUX_TEST_PYTHON` at its interpreter; without it the test says so and does
//! nothing, unless `INFERMUX_REQUIRE_EXTERNAL=1`, when it fails.

use crate::common;

use std::process::Command;

use crate::common::{Infermux, post_json, send};
use http::Method;
use infermux_test_util::MockServer;
use serde_json::json;

#[tokio::test]
async fn the_openai_sdk_sees_every_key_rule_as_a_typed_error() {
    let Some(python) = common::external("INFERMUX_TEST_PYTHON", "the keys SDK test") else {
        return;
    };
    let mock = MockServer::openai().await;
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini, gpt-4o]}}
keys:
  required: true
"#,
        mock.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let make = |body: serde_json::Value| {
        let url = infermux.management_url("/_infermux/keys");
        async move {
            let reply = post_json(&url, &[], body).await;
            assert_eq!(reply.status, 201, "{}", reply.text());
            reply.json()
        }
    };
    let good = make(json!({"name": "good", "models": ["gpt-4o-mini"]})).await;
    let capped = make(json!({"name": "capped", "monthly_usd": 0.000005})).await;
    let rpm = make(json!({"name": "slow", "rpm": 2})).await;
    let revoked = make(json!({"name": "gone"})).await;
    let id = revoked["id"].as_str().expect("id");
    let url = infermux.management_url(&format!("/_infermux/keys/{id}"));
    assert_eq!(send(Method::DELETE, &url, &[], "").await.status, 200);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/keys_sdk.py");
    let args: Vec<String> = [&good, &capped, &rpm, &revoked]
        .iter()
        .map(|k| k["key"].as_str().expect("key").to_owned())
        .collect();
    let base_url = infermux.url("/v1");
    let stdout =
        common::run_script(Command::new(python).arg(script).arg(base_url).args(args)).await;
    assert!(stdout.contains("6 passed, 0 failed"), "{stdout}");
}
