//! The Vercel AI SDK's default OpenAI provider (`openai(model)`, which speaks the Responses
//! API) against infermux in front of mock OpenAI (passed through), Anthropic and Ollama servers
//! (translated): `generateText` and `streamText` through a tool turn.
//!
//! CI installs `ai` and `@ai-sdk/openai` into a folder and points `INFERMUX_TEST_NODE_AI` at it
//! (the folder holding `node_modules`); without that variable the test says so and does
//! nothing, unless `INFERMUX_REQUIRE_EXTERNAL=1`, which makes it fail.

use crate::common;

use std::process::Command;

use crate::common::Infermux;
use infermux_test_util::MockServer;

#[tokio::test]
async fn the_vercel_ai_sdk_works_through_the_responses_api() {
    let Some(dir) = common::external("INFERMUX_TEST_NODE_AI", "the Vercel AI SDK test") else {
        return;
    };
    let (openai, anthropic, ollama) = (
        MockServer::openai().await,
        MockServer::anthropic().await,
        MockServer::ollama().await,
    );
    for mock in [&openai, &anthropic, &ollama] {
        mock.set_tool_call_then_reply(
            "get_weather",
            r#"{"city":"Paris"}"#,
            "It is sunny in Paris.",
        );
    }
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", models: [claude-haiku-4-5]}}
  - {{name: ollama, type: ollama, base_url: "{}", models: [llama3.2]}}
"#,
        openai.base_url(),
        anthropic.base_url(),
        ollama.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/vercel_ai.cjs");
    let base_url = infermux.url("/v1");
    let stdout = common::run_script(
        Command::new("node")
            .args([script, &base_url, "gpt-4o-mini,claude-haiku-4-5,llama3.2"])
            .env("NODE_PATH", format!("{dir}/node_modules")),
    )
    .await;
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(
        openai.requests().iter().all(|r| r.path == "/v1/responses"),
        "the AI SDK's default provider speaks the Responses API"
    );
    for mock in [&openai, &anthropic, &ollama] {
        assert!(mock.request_count() >= 4, "two tool turns each");
    }
}
