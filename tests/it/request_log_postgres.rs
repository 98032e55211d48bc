//! The request log of a fleet: replicas with `request_log.store: postgres` on one database
//! show the same requests and the same usage, whichever replica served them; a bad URL or an
//! unreachable server stops start-up with an error naming `request_log.url`.
//!
//! A throwaway PostgreSQL cluster is started on a free loopback port
//! ([`PostgresServer`]); the tests panic with an install hint when PostgreSQL is missing.

use std::time::{Duration, Instant};

use crate::common::{Infermux, chat, get, post_json};
use infermux_test_util::{Fault, MockServer, PostgresServer};
use serde_json::{Value, json};

/// How long rows may take to reach the database (the writer batches for 100 ms).
const DEADLINE: Duration = Duration::from_secs(10);

fn config(openai: &MockServer, url: &str) -> String {
    format!(
        "providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini, gpt-4o]}}
request_log:
  store: postgres
  url: \"{url}\"
  retention: 30d
",
        openai.base_url()
    )
}

async fn send(replica: &Infermux, caller: &str, model: &str, extra: Value) -> u16 {
    post_json(
        &replica.url("/v1/chat/completions"),
        &[("x-infermux-caller", caller)],
        chat(model, extra),
    )
    .await
    .status
    .as_u16()
}

async fn mgmt(replica: &Infermux, path: &str) -> Value {
    let reply = get(&replica.management_url(path), &[]).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

/// Polls `/_infermux/usage` of `replica` until `requests` rows are in the database.
async fn once_logged(replica: &Infermux, requests: u64) {
    let start = Instant::now();
    loop {
        let usage = mgmt(replica, "/_infermux/usage?since=1d").await;
        if usage["total"]["requests"] == requests {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "never logged {requests} requests: {usage:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_database_show_the_same_requests_and_usage() {
    let server = PostgresServer::start();
    let url = server.create_database("fleet");
    let openai = MockServer::openai().await;
    let a = Infermux::start(&config(&openai, &url)).await;
    let b = Infermux::start(&config(&openai, &url)).await;

    // Traffic through each replica: served, streamed and failed.
    for _ in 0..3 {
        assert_eq!(send(&a, "team-a", "gpt-4o-mini", json!({})).await, 200);
    }
    assert_eq!(send(&b, "team-b", "gpt-4o", json!({})).await, 200);
    assert_eq!(
        send(&b, "team-b", "gpt-4o", json!({"stream": true})).await,
        200
    );
    openai.set_fault(Fault::status(500));
    assert!(send(&b, "team-a", "gpt-4o-mini", json!({})).await >= 500);
    openai.clear_fault();
    let n = 6;
    once_logged(&a, n).await;
    once_logged(&b, n).await;

    // Every query answers the same on both replicas, and covers both replicas' traffic.
    for path in [
        "/_infermux/requests?since=1d",
        "/_infermux/requests?since=1d&caller=team-a",
        "/_infermux/requests?since=1d&limit=2",
        "/_infermux/usage?since=1d&group_by=model",
        "/_infermux/usage?since=1d&group_by=caller",
        "/_infermux/usage?since=1d&group_by=provider",
        "/_infermux/usage?since=1d&group_by=hour_of_day",
        "/_infermux/usage?since=1d&group_by=day&status=error",
    ] {
        let on_a = mgmt(&a, path).await;
        let on_b = mgmt(&b, path).await;
        // `since`/`until` are echoed as the moment each replica read them.
        let strip = |mut v: Value| {
            if let Some(map) = v.as_object_mut() {
                map.remove("since");
                map.remove("until");
            }
            v
        };
        assert_eq!(strip(on_a), strip(on_b), "{path}");
    }
    let requests = mgmt(&a, "/_infermux/requests?since=1d").await;
    let rows = requests["requests"].as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    let ids: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["request_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 6, "one row per request");
    assert!(rows[0]["status"].as_u64() >= Some(500), "newest first");

    let by_caller = mgmt(&b, "/_infermux/usage?since=1d&group_by=caller").await;
    let caller = |name: &str| {
        by_caller["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["key"] == name)
            .cloned()
            .expect("caller row")
    };
    assert_eq!(caller("team-a")["requests"], 4);
    assert_eq!(caller("team-a")["errors"], 1);
    assert_eq!(caller("team-b")["requests"], 2);
    let sum = caller("team-a")["cost_usd"].as_f64().expect("cost")
        + caller("team-b")["cost_usd"].as_f64().expect("cost");
    let total = by_caller["total"]["cost_usd"].as_f64().expect("total");
    assert!(total > 0.0);
    assert!((sum - total).abs() < 1e-12, "{sum} vs {total}");

    // Paging continues across replicas: a cursor from one is good on the other.
    let first = mgmt(&a, "/_infermux/requests?since=1d&limit=4").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = mgmt(
        &b,
        &format!("/_infermux/requests?since=1d&limit=4&cursor={cursor}"),
    )
    .await;
    let mut paged: Vec<Value> = first["requests"].as_array().expect("rows").clone();
    paged.extend(second["requests"].as_array().expect("rows").iter().cloned());
    assert_eq!(&paged, rows);
    assert!(second["next_cursor"].is_null());
}

/// Starts infermux with `yaml` and returns its start-up error.
async fn start_error(yaml: &str) -> String {
    let yaml = format!("listen: \"127.0.0.1:0\"\nmanagement_listen: \"127.0.0.1:0\"\n{yaml}");
    let config = infermux::config::parse(&yaml, "test.yml", &|_| None).expect("a valid config");
    match infermux::server::Server::bind(config).await {
        Ok(_) => panic!("started without its request log database"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn an_unreachable_database_or_a_bad_url_stops_start_up_naming_request_log_url() {
    let openai = MockServer::openai().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let unreachable = start_error(&config(
        &openai,
        &format!("postgres://infermux:s3cret@127.0.0.1:{port}/log"),
    ))
    .await;
    assert!(unreachable.contains("request_log.url"), "{unreachable}");
    assert!(
        !unreachable.contains("spend store"),
        "the request log is not the spend store: {unreachable}"
    );
    assert!(
        unreachable.contains(&format!("127.0.0.1:{port}/log")),
        "{unreachable}"
    );
    assert!(!unreachable.contains("s3cret"), "{unreachable}");

    // A URL that cannot work is refused by the config check already (`infermux validate`).
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nmanagement_listen: \"127.0.0.1:0\"\n{}",
        config(&openai, "postgres://infermux:s3cret@db:port/log")
    );
    let bad = infermux::config::parse(&yaml, "test.yml", &|_| None)
        .expect_err("a bad port")
        .to_string();
    assert!(bad.contains("request_log.url"), "{bad}");
    assert!(bad.contains("not a PostgreSQL URL"), "{bad}");
    assert!(!bad.contains("s3cret"), "{bad}");
}
