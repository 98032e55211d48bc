//! Claude Code itself, run non-interactively against infermux in front of a mock Anthropic, a
//! mock OpenAI and a mock Ollama provider: a turn with a tool call, then the final answer,
//! with its default model (`claude-opus-5-5`) and with a named one, streamed and (after a
//! stream broken mid-way, which Claude Code retries with `stream: false`) not streamed.
//!
//! CI installs `@anthropic-ai/claude-code` and points `INFERMUX_TEST_CLAUDE` at its `claude`
//! binary; without that variable the test says so and does nothing, unless
//! `INFERMUX_REQUIRE_EXTERNAL=1`, which makes it fail.

use crate::common;

use std::process::Command;

use crate::common::Infermux;
use infermux_test_util::{Fault, MockServer};
use serde_json::Value;

const ANSWER: &str = "Your notes say the meeting moved to Thursday.";

fn claude_binary() -> Option<String> {
    common::external("INFERMUX_TEST_CLAUDE", "the Claude Code test")
}

/// infermux serving Claude Code's default model and `claude-sonnet-4-5` from `provider`.
async fn infermux_for(kind: &str, mock: &MockServer, upstream: &str) -> Infermux {
    let key = if kind == "ollama" {
        ""
    } else {
        "api_key: sk-provider, "
    };
    let yaml = format!(
        r#"
providers:
  - {{name: {kind}, type: {kind}, {key}base_url: "{}", models: [claude-opus-5-5, claude-sonnet-4-5], model_aliases: {{claude-opus-5-5: {upstream}, claude-sonnet-4-5: {upstream}}}}}
routing: {{strategy: priority}}
pricing:
  - {{provider: {kind}, model: {upstream}, input: 5.0, output: 25.0}}
"#,
        mock.base_url()
    );
    Infermux::start(&yaml).await
}

/// What the file Claude Code is made to read says.
const NOTES: &str = "The meeting moved to Thursday.";

/// A throw-away project directory holding `notes.txt`; `mock` will have the model read it.
fn project_for(mock: &MockServer) -> tempfile::TempDir {
    let project = tempfile::tempdir().expect("project");
    let notes = project.path().join("notes.txt");
    std::fs::write(&notes, NOTES).expect("file");
    let arguments = serde_json::json!({ "file_path": notes }).to_string();
    mock.set_tool_call_then_reply("Read", &arguments, ANSWER);
    project
}

/// Runs `claude -p` in a throw-away home, in `project`; returns its JSON result.
async fn run_claude(
    claude: &str,
    project: &tempfile::TempDir,
    base_url: String,
    model: Option<&'static str>,
) -> Value {
    let home = tempfile::tempdir().expect("home");
    let claude = claude.to_owned();
    let (home_path, project_path) = (home.path().to_owned(), project.path().to_owned());
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("timeout");
        command
            .args(["180", &claude, "-p", "What do my notes say?"])
            .args(["--output-format", "json"])
            .current_dir(&project_path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home_path)
            .env("ANTHROPIC_BASE_URL", base_url)
            .env("ANTHROPIC_API_KEY", "sk-ant-client-key-never-forwarded")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        if let Some(model) = model {
            command.args(["--model", model]);
        }
        command.output()
    })
    .await
    .expect("join")
    .expect("claude runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "no JSON result from claude ({}):\n{stdout}\n{stderr}",
                output.status
            )
        });
    assert!(output.status.success(), "{result}\n{stderr}");
    result
}

fn assert_turn(result: &Value, mock: &MockServer, what: &str) {
    assert_eq!(result["is_error"], false, "{what}: {result}");
    assert_eq!(result["result"], ANSWER, "{what}: {result}");
    let requests = mock.requests();
    let bodies: Vec<Value> = requests.iter().map(|r| r.json()).collect();
    assert!(
        bodies.iter().any(|b| b.to_string().contains(NOTES)),
        "{what}: the tool's result went back to the model; last request: {}",
        bodies
            .last()
            .map(|b| b["messages"].to_string())
            .unwrap_or_default()
    );
    for request in &requests {
        for header in ["x-api-key", "authorization"] {
            assert!(
                !request
                    .header(header)
                    .is_some_and(|v| v.contains("sk-ant-client-key-never-forwarded")),
                "{what}: the client's key reached the provider"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_completes_a_tool_turn_through_every_provider_type() {
    let Some(claude) = claude_binary() else {
        return;
    };
    for (kind, upstream) in [
        ("anthropic", "claude-opus-5-5"),
        ("openai", "gpt-4o-mini"),
        ("ollama", "llama3.2"),
    ] {
        let mock = match kind {
            "anthropic" => MockServer::anthropic().await,
            "openai" => MockServer::openai().await,
            _ => MockServer::ollama().await,
        };
        let project = project_for(&mock);
        let infermux = infermux_for(kind, &mock, upstream).await;
        for model in [None, Some("claude-sonnet-4-5")] {
            let what = format!("{kind}, model {}", model.unwrap_or("default"));
            let before = mock.request_count();
            let result = run_claude(&claude, &project, infermux.url(""), model).await;
            assert_turn(&result, &mock, &what);
            assert!(
                mock.request_count() >= before + 2,
                "{what}: two model calls"
            );
        }
        // A stream broken mid-way: Claude Code retries the same body with `stream: false`.
        mock.set_faults(vec![Fault::CutStreamAfter(1)]);
        let result = run_claude(&claude, &project, infermux.url(""), None).await;
        let what = format!("{kind}, after a broken stream");
        assert_turn(&result, &mock, &what);
        let plain = mock
            .requests()
            .iter()
            .filter(|r| r.json()["stream"] == false || r.json()["stream"].is_null())
            .count();
        assert!(plain > 0, "{what}: the non-streaming retry was served");
    }
}
