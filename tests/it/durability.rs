//! Spend survives a SIGKILL: the real binary is killed in the middle of a burst, and the
//! restarted infermux reports at least the cost of every response that completed, and at
//! most that plus the requests that were in flight (settled, but cut before the client read
//! them). Graceful shutdown leaves a compact snapshot a person can read.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::common::{Infermux, chat, get, post_json};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use infermux_test_util::{Fault, MockServer};
use serde_json::json;

/// One "hi" with gpt-4o-mini, in pico-USD.
const HI_PICOS: u64 = 1_800_000;

fn config(mock: &MockServer, state: &Path) -> String {
    format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini]}}
budgets:
  state_file: "{}"
log: {{level: info, format: json}}
"#,
        mock.base_url(),
        state.display()
    )
}

/// POSTs `body` and reads the whole answer: `None` when the connection broke.
async fn try_post(url: &str, body: &serde_json::Value) -> Option<(u16, String)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::from(body.to_string()))
        .ok()?;
    let response = client.request(request).await.ok()?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Starts the binary and waits for its "infermux serving" log line; returns the proxy address.
fn spawn(config_path: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_infermux"))
        .args(["serve", "--config"])
        .arg(config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("infermux starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
            if event["message"] == "infermux serving" {
                let _ = found.send(event["listen"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let address = address
        .recv_timeout(Duration::from_secs(30))
        .expect("infermux announced its address");
    (child, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spend_of_completed_responses_survives_sigkill() {
    let openai = MockServer::openai().await;
    openai.set_fault(Fault::Latency(Duration::from_millis(30)));
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("budgets.json");
    let config_path = dir.path().join("infermux.yml");
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nmanagement_listen: \"127.0.0.1:0\"\n{}",
        config(&openai, &state)
    );
    std::fs::write(&config_path, yaml).expect("config");
    let (mut child, address) = spawn(&config_path);

    let completed = Arc::new(AtomicUsize::new(0));
    let completed_picos = Arc::new(AtomicU64::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let burst: Vec<_> = (0..400)
        .map(|i| {
            let (url, completed, picos, enough) = (
                format!("http://{address}/v1/chat/completions"),
                completed.clone(),
                completed_picos.clone(),
                enough.clone(),
            );
            tokio::spawn(async move {
                let stream = i % 2 == 0;
                let body = chat("gpt-4o-mini", json!({"stream": stream}));
                let whole = try_post(&url, &body).await.is_some_and(|(status, text)| {
                    status == 200 && (!stream || text.ends_with("data: [DONE]\n\n"))
                });
                if whole {
                    picos.fetch_add(HI_PICOS, Ordering::SeqCst);
                    if completed.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                        enough.notify_one();
                    }
                }
            })
        })
        .collect();
    enough.notified().await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    for task in burst {
        task.await.expect("request task");
    }
    let sent = openai.request_count() as u64;
    let completed_picos = completed_picos.load(Ordering::SeqCst);

    let infermux = Infermux::start(&config(&openai, &state)).await;
    let report = get(&infermux.management_url("/_infermux/costs"), &[])
        .await
        .json();
    let persisted = (report["total_usd"].as_f64().expect("total") * 1e12).round() as u64;
    assert!(
        persisted >= completed_picos,
        "lost spend: persisted {persisted} < completed {completed_picos}"
    );
    assert!(
        persisted <= sent * HI_PICOS,
        "counted twice: persisted {persisted} > every request the provider saw ({sent})"
    );
    eprintln!(
        "completed responses: {}, provider requests: {sent}, persisted requests: {}",
        completed_picos / HI_PICOS,
        report["requests"]
    );
}

#[tokio::test]
async fn a_graceful_stop_leaves_a_compact_readable_snapshot() {
    let openai = MockServer::openai().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("budgets.json");
    let infermux = Infermux::start(&config(&openai, &state)).await;
    for caller in ["a", "b"] {
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[("x-infermux-caller", caller)],
            chat("gpt-4o-mini", json!({})),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    infermux.stop().await;
    let journal =
        std::fs::read_to_string(dir.path().join("budgets.json.journal")).expect("journal");
    assert!(
        journal.is_empty(),
        "the journal is compacted at shutdown: {journal}"
    );
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("snapshot")).expect("json");
    let month = infermux_core::Month::of(std::time::SystemTime::now()).to_string();
    assert_eq!(snapshot["months"][&month]["total_usd"], "0.0000036");
    assert_eq!(snapshot["months"][&month]["callers"]["a"]["requests"], 1);
}
