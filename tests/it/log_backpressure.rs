//! A stalled reader of stderr never stalls requests: the real binary logs every request (at
//! `debug`) into a pipe that nobody reads once it has announced its address. The pipe fills
//! after a few hundred lines; every request must still be answered.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::{Reaped, chat, post_json};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_are_answered_while_nobody_reads_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("infermux.yml");
    std::fs::write(
        &config_path,
        r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
providers:
  - {name: mock, type: mock, models: [mock]}
log: {level: debug, format: json}
"#,
    )
    .expect("config");
    let mut child = Reaped(
        Command::new(env!("CARGO_BIN_EXE_infermux"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("infermux starts"),
    );
    // Read up to the "infermux serving" line, then keep the pipe open and never read again.
    let mut stderr = BufReader::new(child.0.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("stderr") > 0,
            "infermux exited"
        );
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["message"] == "infermux serving" {
            break event["listen"].as_str().expect("listen").to_owned();
        }
    };
    let url = format!("http://{address}/v1/chat/completions");

    // 64 KiB of pipe holds a few hundred lines; 2,000 requests log far more than that.
    let answered = tokio::time::timeout(Duration::from_secs(120), async {
        let mut answered = 0;
        for _ in 0..125 {
            let batch: Vec<_> = (0..16)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move {
                        post_json(&url, &[], chat("mock", json!({}))).await.status
                    })
                })
                .collect();
            for request in batch {
                assert_eq!(request.await.expect("request task"), 200);
                answered += 1;
            }
        }
        answered
    })
    .await;
    drop(child);
    drop(stderr);
    assert_eq!(
        answered.expect("every request answered while stderr is full"),
        2000
    );
}
