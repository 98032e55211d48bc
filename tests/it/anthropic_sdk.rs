//! The official Anthropic Python SDK against infermux in front of mock Anthropic, OpenAI and
//! Ollama servers and the built-in mock. CI installs the SDK into the venv that
//! `INFERMUX_TEST_PYTHON` points at; without that variable the test says so and does nothing,
//! unless `INFERMUX_REQUIRE_EXTERNAL=1`, which makes it fail.

use crate::common;

use std::process::Command;

use crate::common::Infermux;
use infermux_test_util::MockServer;

#[tokio::test]
async fn the_anthropic_sdk_works_with_every_provider_type() {
    let Some(python) = common::external("INFERMUX_TEST_PYTHON", "the Anthropic SDK test") else {
        return;
    };
    let (anthropic, openai, ollama) = (
        MockServer::anthropic().await,
        MockServer::openai().await,
        MockServer::ollama().await,
    );
    for mock in [&anthropic, &openai, &ollama] {
        mock.set_tool_call_then_reply(
            "get_weather",
            r#"{"city":"Paris"}"#,
            "It is sunny in Paris.",
        );
    }
    let yaml = format!(
        r#"
providers:
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", models: [claude-opus-5-5]}}
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: ollama, type: ollama, base_url: "{}", models: [llama3.2]}}
routing: {{strategy: priority}}
pricing:
  - {{provider: anthropic, model: claude-opus-5-5, input: 5.0, output: 25.0, cached_input: 0.5}}
"#,
        anthropic.base_url(),
        openai.base_url(),
        ollama.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sdk/anthropic_sdk_smoke.py"
    );
    let base_url = infermux.url("");
    let stdout = common::run_script(Command::new(python).args([
        script,
        &base_url,
        "claude-opus-5-5,gpt-4o-mini,llama3.2",
    ]))
    .await;
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    for mock in [&anthropic, &openai, &ollama] {
        assert!(mock.request_count() > 0, "every provider was asked");
        for request in mock.requests() {
            for header in ["x-api-key", "authorization"] {
                assert!(
                    !request
                        .header(header)
                        .is_some_and(|v| v.contains("sk-ant-client-key-never-forwarded")),
                    "the client's key reached a provider"
                );
            }
        }
    }
}
