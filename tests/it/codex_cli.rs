//! The Codex CLI itself (`codex exec`), run non-interactively against infermux in front of a
//! mock OpenAI (passed through), a mock Anthropic and a mock Ollama provider (translated): a
//! turn with a tool call, then the final answer, with Codex's default model and a named one.
//!
//! CI installs `@openai/codex` and points `INFERMUX_TEST_CODEX` at its `codex` binary; without
//! that variable the test says so and does nothing, unless `INFERMUX_REQUIRE_EXTERNAL=1`, which
//! makes it fail.

use crate::common;

use std::process::Command;

use crate::common::Infermux;
use infermux_test_util::MockServer;
use serde_json::{Value, json};

const ANSWER: &str = "Your notes say the meeting moved to Thursday.";
/// Codex's default model.
const DEFAULT_MODEL: &str = "gpt-6.2-sol";
const CLIENT_KEY: &str = "sk-codex-client-key-never-forwarded";

fn codex_binary() -> Option<String> {
    common::external("INFERMUX_TEST_CODEX", "the Codex CLI test")
}

/// infermux serving Codex's default model and `gpt-4o-mini` from `mock`, as `upstream`.
async fn infermux_for(kind: &str, mock: &MockServer, upstream: &str) -> Infermux {
    let key = if kind == "ollama" {
        ""
    } else {
        "api_key: sk-provider, "
    };
    let yaml = format!(
        r#"
providers:
  - {{name: {kind}, type: {kind}, {key}base_url: "{}", models: [{DEFAULT_MODEL}, gpt-4o-mini], model_aliases: {{{DEFAULT_MODEL}: {upstream}, gpt-4o-mini: {upstream}}}}}
routing: {{strategy: priority}}
pricing:
  - {{provider: {kind}, model: {upstream}, input: 1.0, output: 2.0}}
"#,
        mock.base_url()
    );
    Infermux::start(&yaml).await
}

/// Runs `codex exec` in a throw-away `CODEX_HOME` pointed at `base_url`, in `project`; returns
/// its stdout (JSON lines) and stderr.
async fn run_codex(
    codex: &str,
    project: &std::path::Path,
    base_url: String,
    model: Option<&'static str>,
) -> (String, String) {
    let home = tempfile::tempdir().expect("home");
    let mut config = format!(
        "model_provider = \"imx\"\ncheck_for_update_on_startup = false\n\n[analytics]\nenabled = false\n\n\
         [model_providers.imx]\nname = \"infermux\"\nbase_url = \"{base_url}\"\nenv_key = \"IMX_API_KEY\"\nwire_api = \"responses\"\n"
    );
    if let Some(model) = model {
        config = format!("model = \"{model}\"\n{config}");
    }
    std::fs::write(home.path().join("config.toml"), config).expect("config");
    let codex = codex.to_owned();
    let (home_path, project_path) = (home.path().to_owned(), project.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["180", &codex, "exec", "--skip-git-repo-check", "--json"])
            .args(["-s", "read-only", "-C"])
            .arg(&project_path)
            .arg("What do my notes say? Read notes.txt.")
            .stdin(std::process::Stdio::null())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home_path)
            .env("CODEX_HOME", &home_path)
            .env("IMX_API_KEY", CLIENT_KEY)
            .output()
    })
    .await
    .expect("join")
    .expect("codex runs");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What the tool the mock calls prints when it ran.
const NOTES: &str = "The meeting moved to Thursday.";

/// A function tool Codex offers, arguments for it, and what its output holds once it ran: a
/// shell function reading `notes.txt` when Codex offers one at the top level, else the `sleep`
/// function of its `clock` namespace tool (named as infermux flattens it for chat-style
/// providers).
fn tool_call(tools: &[Value]) -> Option<(String, String, &'static str)> {
    let names: Vec<&str> = tools
        .iter()
        .filter(|t| t["type"] == "function")
        .filter_map(|t| t["name"].as_str())
        .collect();
    let (name, arguments, marker) = if names.contains(&"shell_command") {
        ("shell_command", json!({"command": "cat notes.txt"}), NOTES)
    } else if names.contains(&"exec_command") {
        ("exec_command", json!({"cmd": "cat notes.txt"}), NOTES)
    } else if names.contains(&"shell") {
        ("shell", json!({"command": ["cat", "notes.txt"]}), NOTES)
    } else if tools
        .iter()
        .any(|t| t["type"] == "namespace" && t["name"] == "clock")
    {
        ("clock__sleep", json!({"duration_ms": 1}), "Sleep completed")
    } else {
        return None;
    };
    Some((name.to_owned(), arguments.to_string(), marker))
}

/// The function tools of a Responses body, wherever Codex put them.
fn tools_of(body: &Value) -> Vec<Value> {
    let mut tools: Vec<Value> = body["tools"].as_array().cloned().unwrap_or_default();
    for item in body["input"].as_array().into_iter().flatten() {
        if item["type"] == "additional_tools" {
            tools.extend(item["tools"].as_array().cloned().unwrap_or_default());
        }
    }
    tools
}

/// The tool call to script for `model`, learnt from one turn of Codex against a mock OpenAI
/// that only answers text.
async fn probe(
    codex: &str,
    project: &std::path::Path,
    model: Option<&'static str>,
) -> (String, String, &'static str) {
    let mock = MockServer::openai().await;
    mock.set_reply(ANSWER);
    let infermux = infermux_for("openai", &mock, "gpt-4o-mini").await;
    let (stdout, stderr) = run_codex(codex, project, infermux.url("/v1"), model).await;
    assert!(stdout.contains(ANSWER), "{stdout}\n{stderr}");
    let first = mock
        .requests()
        .first()
        .map(|r| r.json())
        .unwrap_or_else(|| panic!("codex sent nothing:\n{stdout}\n{stderr}"));
    let tools = tools_of(&first);
    tool_call(&tools).unwrap_or_else(|| panic!("no usable tool among {tools:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_completes_a_tool_turn_through_every_provider_type() {
    let Some(codex) = codex_binary() else {
        return;
    };
    let project = tempfile::tempdir().expect("project");
    std::fs::write(project.path().join("notes.txt"), NOTES).expect("notes");
    for model in [None, Some("gpt-4o-mini")] {
        let (tool, arguments, marker) = probe(&codex, project.path(), model).await;
        for (kind, upstream) in [
            ("openai", "gpt-4o-mini"),
            ("anthropic", "claude-haiku-4-5"),
            ("ollama", "llama3.2"),
        ] {
            let mock = match kind {
                "anthropic" => MockServer::anthropic().await,
                "openai" => MockServer::openai().await,
                _ => MockServer::ollama().await,
            };
            mock.set_tool_call_then_reply(&tool, &arguments, ANSWER);
            let infermux = infermux_for(kind, &mock, upstream).await;
            let what = format!(
                "{kind}, model {}, tool {tool}",
                model.unwrap_or(DEFAULT_MODEL)
            );
            let (stdout, stderr) =
                run_codex(&codex, project.path(), infermux.url("/v1"), model).await;
            assert!(
                stdout.contains(ANSWER),
                "{what}: no final answer\n{stdout}\n{stderr}"
            );
            let requests = mock.requests();
            assert!(
                requests.len() >= 2,
                "{what}: two model calls, got {}",
                requests.len()
            );
            // The tool really ran, and its output went back to the model.
            let last = requests
                .last()
                .map(|r| r.json().to_string())
                .unwrap_or_default();
            assert!(
                last.contains(marker),
                "{what}: the tool's output did not reach the model: {}",
                &last[last.len().saturating_sub(800)..]
            );
            for request in &requests {
                for header in ["x-api-key", "authorization"] {
                    assert!(
                        !request
                            .header(header)
                            .is_some_and(|v| v.contains(CLIENT_KEY)),
                        "{what}: the client's key reached the provider"
                    );
                }
            }
        }
    }
}
