//! The official OpenAI Python SDK's Responses API (`client.responses`) against infermux in
//! front of mock OpenAI (passed through), OpenAI-compatible, Anthropic and Ollama servers (all
//! translated). CI installs the SDK into the venv that `INFERMUX_TEST_PYTHON` points at; without
//! that variable the test says so and does nothing, unless `INFERMUX_REQUIRE_EXTERNAL=1`, which
//! makes it fail.

use crate::common;

use std::process::Command;

use crate::common::Infermux;
use infermux_test_util::MockServer;

#[tokio::test]
async fn the_responses_api_works_with_every_provider_type() {
    let Some(python) = common::external("INFERMUX_TEST_PYTHON", "the Responses SDK test") else {
        return;
    };
    let (openai, compatible, anthropic, ollama) = (
        MockServer::openai().await,
        MockServer::openai().await,
        MockServer::anthropic().await,
        MockServer::ollama().await,
    );
    for mock in [&openai, &compatible, &anthropic, &ollama] {
        mock.set_tool_call_then_reply(
            "get_weather",
            r#"{"city":"Paris"}"#,
            r#"{"city": "Paris", "sky": "sunny"}"#,
        );
    }
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: compatible, type: openai_compatible, api_key: sk-c, base_url: "{}", models: [qwen3]}}
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", models: [claude-haiku-4-5]}}
  - {{name: ollama, type: ollama, base_url: "{}", models: [llama3.2]}}
"#,
        openai.base_url(),
        compatible.base_url(),
        anthropic.base_url(),
        ollama.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/responses_sdk.py");
    let base_url = infermux.url("/v1");
    let stdout = common::run_script(Command::new(python).args([
        script,
        &base_url,
        "gpt-4o-mini,qwen3,claude-haiku-4-5,llama3.2",
    ]))
    .await;
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    // The openai provider was passed the Responses body; the compatible one was translated.
    let paths = |mock: &MockServer| -> Vec<String> {
        mock.requests().into_iter().map(|r| r.path).collect()
    };
    assert!(
        paths(&openai).iter().all(|p| p == "/v1/responses"),
        "{:?}",
        paths(&openai)
    );
    assert!(
        paths(&compatible)
            .iter()
            .all(|p| p == "/v1/chat/completions"),
        "{:?}",
        paths(&compatible)
    );
    for mock in [&openai, &compatible, &anthropic, &ollama] {
        assert!(mock.request_count() > 0);
        for request in mock.requests() {
            assert_ne!(
                request.header("authorization"),
                Some("Bearer sk-client-key-never-forwarded"),
                "the client's key reached a provider"
            );
        }
    }
}
