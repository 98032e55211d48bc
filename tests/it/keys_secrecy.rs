//! No key ever leaves infermux except once, in the answer that made it: the binary runs at
//! log level `trace` and every log line, state file, metric, report and response is searched
//! for each key and every 12-character piece of it.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::common::{Reply, chat, get, post_json, send};
use http::Method;
use infermux_test_util::MockServer;
use serde_json::json;

/// Starts the binary on `config`, collecting its output in `log`; returns the proxy and
/// management addresses.
fn spawn(
    config: &std::path::Path,
    env: &[(&str, &str)],
    log: &Arc<Mutex<String>>,
) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_infermux"))
        .args(["serve", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("infermux starts");
    let (found, addresses) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().expect("stderr")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().expect("stdout")),
    ] {
        let (log, found) = (log.clone(), found.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let event = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
                if event["message"] == "infermux serving" {
                    let _ = found.send((
                        event["listen"].as_str().unwrap_or_default().to_owned(),
                        event["management_listen"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    ));
                }
                log.lock().expect("log").push_str(&line);
                log.lock().expect("log").push('\n');
            }
        });
    }
    let (proxy, management) = addresses
        .recv_timeout(Duration::from_secs(30))
        .expect("infermux announced its addresses");
    (child, proxy, management)
}

fn shown(reply: &Reply) -> String {
    format!("{:?}\n{}", reply.headers, reply.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_appear_in_logs_state_files_metrics_reports_or_responses() {
    let mock = MockServer::openai().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("infermux.yml");
    let configured_key = "cfg-key-0123456789-abcdefghij-KLMNOPQRST";
    std::fs::write(
        &config_path,
        format!(
            r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
log: {{level: trace, format: json}}
providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini, gpt-4o]}}
budgets:
  state_file: "{}"
keys:
  list:
    - {{name: configured, key: "${{CONFIGURED_KEY}}", caller: acme, monthly_usd: 10, models: [gpt-4o-mini]}}
"#,
            mock.base_url(),
            dir.path().join("budgets.json").display()
        ),
    )
    .expect("config");
    let log = Arc::new(Mutex::new(String::new()));
    let (mut child, proxy, management) = spawn(
        &config_path,
        // Every crate at trace, hyper and h2 included.
        &[("CONFIGURED_KEY", configured_key), ("RUST_LOG", "trace")],
        &log,
    );
    let proxy_url = |path: &str| format!("http://{proxy}{path}");
    let admin = |path: &str| format!("http://{management}{path}");

    let made = post_json(
        &admin("/_infermux/keys"),
        &[],
        json!({"name": "made", "caller": "acme", "daily_usd": 1, "rpm": 1000}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let made_key = made.json()["key"].as_str().expect("key").to_owned();
    let id = made.json()["id"].as_str().expect("id").to_owned();

    let mut seen = Vec::new();
    for key in [configured_key, made_key.as_str()] {
        let auth = format!("Bearer {key}");
        for (model, stream) in [
            ("gpt-4o-mini", false),
            ("gpt-4o-mini", true),
            ("gpt-4o", false),
        ] {
            let body = chat(model, json!({"stream": stream, "max_tokens": 1}));
            seen.push(shown(
                &post_json(
                    &proxy_url("/v1/chat/completions"),
                    &[("authorization", &auth)],
                    body.clone(),
                )
                .await,
            ));
            seen.push(shown(
                &post_json(
                    &proxy_url("/v1/chat/completions"),
                    &[("x-api-key", key)],
                    body,
                )
                .await,
            ));
        }
    }
    let rotated = post_json(
        &admin(&format!("/_infermux/keys/{id}/rotate")),
        &[],
        json!({"grace": "1h"}),
    )
    .await;
    assert_eq!(rotated.status, 201);
    let rotated_key = rotated.json()["key"].as_str().expect("key").to_owned();
    seen.push(shown(
        &send(
            Method::DELETE,
            &admin(&format!("/_infermux/keys/{id}")),
            &[],
            "",
        )
        .await,
    ));
    for key in [made_key.as_str(), rotated_key.as_str()] {
        let refused = post_json(
            &proxy_url("/v1/chat/completions"),
            &[("authorization", &format!("Bearer {key}"))],
            chat("gpt-4o-mini", json!({})),
        )
        .await;
        assert_eq!(refused.status, 401);
        seen.push(shown(&refused));
    }
    for path in [
        "/_infermux/keys",
        &format!("/_infermux/keys/{id}"),
        "/_infermux/costs",
        "/_infermux/costs/by-key",
        "/_infermux/costs/by-caller",
        "/metrics",
    ] {
        let reply = get(&admin(path), &[]).await;
        assert_eq!(reply.status, 200, "{path}");
        seen.push(shown(&reply));
    }
    assert!(
        seen.iter()
            .any(|s| s.contains("infermux_key_request_cost_usd")),
        "key spend is a metric"
    );

    // A graceful stop writes the final snapshots.
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    child.wait().expect("exit");
    let mut files = String::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path != config_path {
            files.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    let log = log.lock().expect("log").clone();
    assert!(log.contains("\"level\":\"TRACE\""), "trace logging is on");
    for (what, text) in [
        ("the logs", &log),
        ("the state files", &files),
        ("a response", &seen.join("\n")),
    ] {
        for key in [configured_key, made_key.as_str(), rotated_key.as_str()] {
            for piece in key.as_bytes().windows(12) {
                let piece = std::str::from_utf8(piece).expect("ascii");
                assert!(
                    !text.contains(piece),
                    "{what} hold `{piece}`, a piece of a key"
                );
            }
        }
    }
}
