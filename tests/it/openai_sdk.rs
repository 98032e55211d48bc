//! The official OpenAI Python SDK against infermux in front of mock OpenAI, Anthropic and
//! Ollama servers. CI installs the SDK and points `INFERMUX_TEST_PYTHON` at its interpreter;
//! without that variable the test says so and does nothing, unless `INFERMUX_REQUIRE_EXTERNAL=1`,
//! which makes it fail.

use crate::common;

use std::process::Command;

use crate::common::Infermux;
use infermux_test_util::MockServer;

#[tokio::test]
async fn the_official_sdk_works_with_every_provider_type() {
    let Some(python) = common::external("INFERMUX_TEST_PYTHON", "the OpenAI SDK smoke test") else {
        return;
    };
    let (openai, anthropic, ollama) = (
        MockServer::openai().await,
        MockServer::anthropic().await,
        MockServer::ollama().await,
    );
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o-mini, text-embedding-3-small]}}
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", models: [claude-haiku-4-5]}}
  - {{name: ollama, type: ollama, base_url: "{}", models: [llama3.2, nomic-embed-text]}}
  - {{name: mock, type: mock, models: [mock-chat, mock-embed]}}
"#,
        openai.base_url(),
        anthropic.base_url(),
        ollama.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_sdk_smoke.py");
    let base_url = infermux.url("/v1");
    let stdout = common::run_script(Command::new(python).args([
        script,
        &base_url,
        "gpt-4o-mini,claude-haiku-4-5,llama3.2",
        "text-embedding-3-small,nomic-embed-text",
    ]))
    .await;
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    for mock in [&openai, &anthropic, &ollama] {
        for request in mock.requests() {
            assert_ne!(
                request.header("authorization"),
                Some("Bearer sk-client-key-never-forwarded"),
                "the client's key reached a provider"
            );
        }
    }
}
