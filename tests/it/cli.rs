//! The real binary: command line, exit codes, the embedded default config, graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::common::{Reaped, chat, get, post_json};
use infermux_test_util::{Fault, MockServer};
use serde_json::json;

fn infermux() -> Command {
    Command::new(env!("CARGO_BIN_EXE_infermux"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

/// Waits for the JSON log line announcing the bound addresses; returns (proxy, management).
fn wait_until_serving(child: &mut Child) -> (String, String) {
    serve_and_log(child).0
}

/// Like [`wait_until_serving`], and also returns a thread that yields every log line once
/// the process has exited.
fn serve_and_log(child: &mut Child) -> ((String, String), std::thread::JoinHandle<Vec<String>>) {
    let stderr = child.stderr.take().expect("stderr piped");
    let (found, addresses) = std::sync::mpsc::channel();
    // Keeps draining stderr so the child never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
            if event["message"] == "infermux serving" {
                let addr = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
                let _ = found.send(Ok((addr("listen"), addr("management_listen"))));
            }
            seen.push(line);
        }
        let _ = found.send(Err(seen.join("\n")));
        seen
    });
    match addresses.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(addresses)) => (addresses, reader),
        Ok(Err(log)) => panic!("infermux exited before serving:\n{log}"),
        Err(_) => panic!("infermux did not announce its addresses within 30 s"),
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = infermux().arg("--version").output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("infermux {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = infermux().arg("frobnicate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_accepts_a_good_config_and_never_prints_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "infermux.yml",
        "providers:\n  - {name: openai, type: openai, api_key: \"${OPENAI_API_KEY}\", models: [gpt-4o-mini]}\n",
    );
    let out = infermux()
        .args(["validate", "--config"])
        .arg(&path)
        .env("OPENAI_API_KEY", "sk-very-secret-value")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("openai"));
    assert!(!stdout.contains("sk-very-secret-value"));
}

#[test]
fn validate_rejects_a_bad_config_with_exit_1_naming_the_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "broken.yml",
        "providers:\n  - name: openai\n    type: openai\n    base_ulr: \"https://api.openai.com/v1\"\n    models: [gpt-4o]\n",
    );
    let out = infermux()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.yml"), "{stderr}");
    assert!(
        stderr.contains("base_ulr") && stderr.contains("base_url"),
        "{stderr}"
    );
}

#[test]
fn serve_with_a_broken_config_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "infermux.yml", "providers: []\n");
    let out = infermux()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn serve_without_a_config_answers_from_the_embedded_mock_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = infermux()
        .arg("serve")
        .current_dir(dir.path())
        .env("INFERMUX_LISTEN", "127.0.0.1:0")
        .env("INFERMUX_MANAGEMENT_LISTEN", "127.0.0.1:0")
        .env("INFERMUX_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (proxy, management) = wait_until_serving(&mut child);
    let reply = post_json(
        &format!("http://{proxy}/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("mock"));
    assert!(
        reply.json()["choices"][0]["message"]["content"]
            .as_str()
            .is_some()
    );
    assert_eq!(
        get(&format!("http://{management}/healthz"), &[])
            .await
            .status,
        200
    );
    terminate(&child);
    assert!(child.wait().expect("exit").success());
}

/// On one worker (`TOKIO_WORKER_THREADS=1`, as on a one-CPU machine) the binary serves on a
/// current-thread runtime; everything that crosses a thread still completes: the spend
/// journal's group commit, the SQLite request log's writer, the tokenizer table built on the
/// blocking pool, streams, and the graceful stop that compacts the journal.
#[tokio::test]
async fn one_worker_serves_on_a_current_thread_runtime() {
    let openai = MockServer::openai().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("budgets.json");
    let config = format!(
        r#"listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
log: {{format: json}}
providers:
  - {{name: openai, type: openai, api_key: k, base_url: "{}", models: [gpt-4o-mini]}}
budgets:
  state_file: "{}"
  callers:
    - {{caller: team, monthly_usd: 10, action: hard_stop}}
request_log: {{path: "{}"}}
"#,
        openai.base_url(),
        state.display(),
        dir.path().join("requests.db").display()
    );
    let path = write(dir.path(), "infermux.yml", &config);
    let mut child = Reaped(
        infermux()
            .args(["serve", "--config"])
            .arg(&path)
            .env("TOKIO_WORKER_THREADS", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let ((proxy, management), log) = serve_and_log(&mut child.0);

    let requests: Vec<_> = (0..64)
        .map(|i| {
            let url = format!("http://{proxy}/v1/chat/completions");
            tokio::spawn(async move {
                let stream = i % 2 == 0;
                let reply = post_json(
                    &url,
                    &[("x-infermux-caller", "team")],
                    chat("gpt-4o-mini", json!({"stream": stream})),
                )
                .await;
                assert_eq!(reply.status, 200, "{}", reply.text());
                assert!(!stream || reply.text().ends_with("data: [DONE]\n\n"));
            })
        })
        .collect();
    for request in requests {
        request.await.expect("request");
    }
    let costs = get(&format!("http://{management}/_infermux/costs"), &[])
        .await
        .json();
    assert_eq!(costs["requests"], 64);
    // 64 times "hi" to gpt-4o-mini at list price, 1,800,000 pico-USD each.
    let picos = (costs["total_usd"].as_f64().expect("total") * 1e12).round() as u64;
    assert_eq!(picos, 64 * 1_800_000);
    let rows = get(
        &format!("http://{management}/_infermux/requests?limit=100"),
        &[],
    )
    .await
    .json();
    assert_eq!(rows["requests"].as_array().map(Vec::len), Some(64));

    terminate(&child.0);
    assert!(child.0.wait().expect("exit").success());
    let serving = log
        .join()
        .expect("log")
        .into_iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .find(|event| event["message"] == "infermux serving")
        .expect("serving line");
    assert_eq!(serving["runtime"], "current_thread");
    assert_eq!(serving["workers"], 1);
    let journal =
        std::fs::read_to_string(dir.path().join("budgets.json.journal")).expect("journal");
    assert!(journal.is_empty(), "compacted at the stop: {journal}");
    let snapshot = std::fs::read_to_string(&state).expect("snapshot");
    assert!(snapshot.contains("\"requests\": 64"), "{snapshot}");
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let openai = MockServer::openai().await;
    openai.set_fault(Fault::Latency(Duration::from_millis(700)));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "listen: \"127.0.0.1:0\"\nmanagement_listen: \"127.0.0.1:0\"\nlog: {{format: json}}\nproviders:\n  - {{name: openai, type: openai, api_key: k, base_url: \"{}\", models: [gpt-4o-mini]}}\n",
        openai.base_url()
    );
    let path = write(dir.path(), "infermux.yml", &config);
    let mut child = infermux()
        .args(["serve", "--config"])
        .arg(&path)
        // The request log's default file goes in the working directory: the temp dir.
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (proxy, _) = wait_until_serving(&mut child);
    let in_flight = tokio::spawn(async move {
        post_json(
            &format!("http://{proxy}/v1/chat/completions"),
            &[],
            chat("gpt-4o-mini", json!({})),
        )
        .await
    });
    openai.wait_for_requests(1).await;
    terminate(&child);
    let reply = in_flight.await.expect("request task");
    assert_eq!(
        reply.status,
        200,
        "the in-flight request completes: {}",
        reply.text()
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("exit");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn api_keys_never_reach_the_logs_even_at_trace_level() {
    let openai = MockServer::openai().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "listen: \"127.0.0.1:0\"\nmanagement_listen: \"127.0.0.1:0\"\nlog: {{level: trace, format: json}}\nproviders:\n  - {{name: openai, type: openai, api_key: \"${{OPENAI_API_KEY}}\", base_url: \"{}\", models: [gpt-4o-mini]}}\n",
        openai.base_url()
    );
    let path = write(dir.path(), "infermux.yml", &config);
    let secret = "sk-proj-this-must-never-be-logged";
    let mut child = infermux()
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(dir.path())
        .env("OPENAI_API_KEY", secret)
        .env("RUST_LOG", "trace")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let ((proxy, _), reader) = serve_and_log(&mut child);
    let url = format!("http://{proxy}/v1/chat/completions");
    assert_eq!(
        post_json(&url, &[], chat("gpt-4o-mini", json!({})))
            .await
            .status,
        200
    );
    openai.set_fault(Fault::status(500));
    let failed = post_json(&url, &[], chat("gpt-4o-mini", json!({"stream": true}))).await;
    assert_eq!(failed.status, 502);
    assert!(!failed.text().contains(secret));
    assert_eq!(
        openai.requests()[0].header("authorization"),
        Some(&*format!("Bearer {secret}"))
    );
    terminate(&child);
    assert!(
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("exit")
            .success()
    );
    let log = reader.join().expect("log reader");
    assert!(log.len() > 5, "trace logging is on: {} lines", log.len());
    assert!(
        !log.iter().any(|line| line.contains(secret)),
        "the key leaked into the log"
    );
}
