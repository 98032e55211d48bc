//! `infermux pricing`, and the unpriced models `validate` and `serve` report.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

fn infermux() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infermux"))
}

const CONFIG: &str = r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
providers:
  - name: openai
    type: openai
    api_key: "sk-test-secret"
    models: [gpt-4o-mini, gpt-4o]
  - name: anthropic
    type: anthropic
    api_key: "sk-ant-secret"
    model_aliases: {gpt-4o-mini: claude-haiku-3-5}
  - name: ollama
    type: ollama
    models: [llama3.2]
  - name: groq
    type: openai_compatible
    base_url: "http://127.0.0.1:9/v1"
    models: [mystery-model-1]
pricing:
  - {provider: openai, model: gpt-4o, input: 2.0, output: 8.0, cached_input: 1.0}
log: {level: info, format: json}
"#;

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("infermux.yml");
    std::fs::write(&path, CONFIG).expect("write config");
    path
}

fn columns<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(start)
        })
        .unwrap_or_else(|| panic!("no line starting with {start}:\n{text}"))
        .split_whitespace()
        .collect()
}

#[test]
fn pricing_prints_the_effective_table_with_overrides_and_unpriced_models() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = infermux()
        .args(["pricing", "--config"])
        .arg(config_file(dir.path()))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        columns(&text, "openai gpt-4o-mini"),
        [
            "openai",
            "gpt-4o-mini",
            "0.15",
            "0.6",
            "0.075",
            "-",
            "built-in"
        ]
    );
    assert_eq!(
        columns(&text, "openai gpt-4o "),
        ["openai", "gpt-4o", "2", "8", "1", "-", "config"]
    );
    assert_eq!(
        columns(&text, "anthropic claude-haiku-3-5"),
        [
            "anthropic",
            "claude-haiku-3-5",
            "0.8",
            "4",
            "0.08",
            "1",
            "built-in",
            // The last column: the 1-hour cache write (2x input).
            "1h",
            "1.6"
        ]
    );
    assert_eq!(columns(&text, "ollama llama3.2")[2..4], ["0", "0"]);
    assert_eq!(columns(&text, "groq mystery-model-1")[6], "UNPRICED");
    assert!(
        text.contains("Unpriced models (unpriced: warn): groq mystery-model-1"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

#[test]
fn pricing_with_a_missing_config_is_a_config_error() {
    let out = infermux()
        .args(["pricing", "--config", "/nonexistent/infermux.yml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/infermux.yml"));
}

#[test]
fn validate_lists_each_unpriced_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = infermux()
        .args(["validate", "--config"])
        .arg(config_file(dir.path()))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let unpriced: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("unpriced model:"))
        .collect();
    assert_eq!(unpriced.len(), 1, "{text}");
    assert!(
        unpriced[0].starts_with("unpriced model: groq mystery-model-1"),
        "{text}"
    );
}

#[test]
fn serve_warns_about_each_unpriced_pair_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = infermux()
        .args(["serve", "--config"])
        .arg(config_file(dir.path()))
        // The request log's default file is created in the working directory.
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let serving = line.contains("infermux serving");
            seen.push(line);
            if serving {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    let lines = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("infermux logs within 30 s");
    let _ = child.kill();
    let _ = child.wait();
    let warnings: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| {
            e["level"] == "WARN"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("unpriced model"))
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    assert_eq!(warnings[0]["provider"], "groq");
    assert_eq!(warnings[0]["model"], "mystery-model-1");
}
