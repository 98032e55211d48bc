//! The request log through the whole proxy: one row per request (served, refused, failed,
//! streamed), the query endpoints over it, and usage sums that equal the cost ledger's.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Infermux, Reply, chat, get, post_json};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

/// A provider serving two models, a capped caller, and the log in memory.
fn config(openai: &MockServer) -> String {
    format!(
        "providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini, gpt-4o]}}
budgets:
  callers:
    - {{caller: capped, monthly_usd: 0, action: hard_stop}}
    - {{caller: team-a, monthly_usd: 5, action: alert}}
request_log: {{store: sqlite, path: \":memory:\", retention: 30d}}
",
        openai.base_url()
    )
}

async fn send(infermux: &Infermux, caller: &str, model: &str, extra: Value) -> Reply {
    post_json(
        &infermux.url("/v1/chat/completions"),
        &[
            ("x-infermux-caller", caller),
            ("user-agent", "OpenAI/Python 1.99.0"),
        ],
        chat(model, extra),
    )
    .await
}

async fn mgmt(infermux: &Infermux, path: &str) -> Value {
    let reply = get(&infermux.management_url(path), &[]).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

/// The known mix: 3 × team-a/gpt-4o-mini, 2 × team-b/gpt-4o (one streamed), one refused
/// (capped, 429) and one failed (the provider answers 500 to every attempt).
async fn traffic(infermux: &Infermux, openai: &MockServer) -> usize {
    for _ in 0..3 {
        assert_eq!(
            send(infermux, "team-a", "gpt-4o-mini", json!({}))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        send(infermux, "team-b", "gpt-4o", json!({})).await.status,
        200
    );
    let stream = send(infermux, "team-b", "gpt-4o", json!({"stream": true})).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        send(infermux, "capped", "gpt-4o-mini", json!({}))
            .await
            .status,
        429
    );
    openai.set_fault(Fault::status(500));
    let failed = send(infermux, "team-a", "gpt-4o-mini", json!({})).await;
    assert!(failed.status.as_u16() >= 500, "{}", failed.text());
    openai.clear_fault();
    7
}

#[tokio::test]
async fn every_request_is_one_row_and_the_queries_agree_with_the_ledger() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&config(&openai)).await;
    let n = traffic(&infermux, &openai).await;

    // Newest first, one row each, no prompt or answer anywhere.
    let page = mgmt(&infermux, "/_infermux/requests").await;
    let rows = page["requests"].as_array().expect("rows");
    assert_eq!(rows.len(), n, "{page:#}");
    assert!(page["next_cursor"].is_null());
    let times: Vec<&str> = rows
        .iter()
        .map(|r| r["time"].as_str().expect("time"))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert!(
        !page.to_string().contains("Hello"),
        "a row holds no prompt or answer"
    );
    let failed = &rows[0];
    assert_eq!(failed["caller"], "team-a");
    assert!(failed["status"].as_u64() >= Some(500));
    assert_eq!(failed["cost_usd"], 0.0);
    let refused = &rows[1];
    assert_eq!(refused["status"], 429);
    assert_eq!(refused["error_code"], "budget_exceeded");
    assert_eq!(refused["attempts"], 0);
    assert!(refused["provider"].is_null());
    let stream = &rows[2];
    assert_eq!(stream["stream"], true);
    assert_eq!(stream["provider"], "openai");
    assert_eq!(stream["model"], "gpt-4o");
    assert_eq!(stream["usage"], "reported");
    assert!(stream["ttft_ms"].is_u64());
    assert!(stream["completion_tokens"].as_u64() > Some(0));
    let served = &rows[6];
    assert_eq!(served["protocol"], "chat");
    assert_eq!(served["client"], "OpenAI/Python");
    assert_eq!(served["requested_model"], "gpt-4o-mini");
    assert_eq!(served["strategy"], "priority");
    assert_eq!(served["status"], 200);
    assert!(served["cost_usd"].as_f64() > Some(0.0));

    // Cursor pages of 2 walk every row once, in the same order.
    let mut walked = Vec::new();
    let mut path = "/_infermux/requests?limit=2".to_owned();
    loop {
        let page = mgmt(&infermux, &path).await;
        for row in page["requests"].as_array().expect("rows") {
            walked.push(row["request_id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/_infermux/requests?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let all: Vec<String> = rows
        .iter()
        .map(|r| r["request_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(walked, all);

    // Filters.
    let b = mgmt(&infermux, "/_infermux/requests?caller=team-b").await;
    assert_eq!(b["requests"].as_array().map(Vec::len), Some(2));
    let errors = mgmt(&infermux, "/_infermux/requests?status=error").await;
    assert_eq!(errors["requests"].as_array().map(Vec::len), Some(2));
    let mini = mgmt(
        &infermux,
        "/_infermux/requests?model=gpt-4o-mini&status=200",
    )
    .await;
    assert_eq!(mini["requests"].as_array().map(Vec::len), Some(3));
    let future = mgmt(&infermux, "/_infermux/requests?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["requests"].as_array().map(Vec::len), Some(0));
    let bad = get(
        &infermux.management_url("/_infermux/requests?colour=red"),
        &[],
    )
    .await;
    assert_eq!(bad.status, 400);

    // Usage by model: rows add up to the total, the total equals the ledger.
    let ledger = mgmt(&infermux, "/_infermux/costs").await;
    let by_model_ledger = mgmt(&infermux, "/_infermux/costs/by-model").await;
    let usage = mgmt(&infermux, "/_infermux/usage?group_by=model").await;
    assert_eq!(usage["group_by"], "model");
    assert_eq!(usage["total"]["requests"], n);
    assert_eq!(
        usage["total"]["cost_usd"], ledger["total_usd"],
        "{usage:#} vs {ledger:#}"
    );
    for row in usage["rows"].as_array().expect("rows") {
        let model = row["key"].as_str().expect("model");
        assert_eq!(
            row["cost_usd"], by_model_ledger["by_model"][model],
            "{model}"
        );
    }
    let sum_requests: u64 = usage["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["requests"].as_u64().expect("n"))
        .sum();
    assert_eq!(sum_requests, n as u64);
    let by_caller = mgmt(&infermux, "/_infermux/usage?group_by=caller&since=24h").await;
    let callers: BTreeMap<&str, u64> = by_caller["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().expect("caller"),
                r["requests"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(
        callers,
        BTreeMap::from([("team-a", 4), ("team-b", 2), ("capped", 1)])
    );
    let hours = mgmt(&infermux, "/_infermux/usage?group_by=hour_of_day").await;
    assert!(hours["rows"][0]["key"].as_u64() < Some(24));
    let filtered = mgmt(
        &infermux,
        "/_infermux/usage?group_by=provider&caller=team-b",
    )
    .await;
    assert_eq!(filtered["total"]["requests"], 2);

    // CSV: a header and one line per row.
    let csv = get(
        &infermux.management_url("/_infermux/requests.csv?caller=team-a"),
        &[],
    )
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("time,request_id,protocol,caller"));
    assert_eq!(lines.len(), 1 + 4);
    assert!(lines[1..].iter().all(|l| l.contains(",team-a,")));

    // Forecast: every caller with spend or a budget.
    let forecast = mgmt(&infermux, "/_infermux/forecast").await;
    let names: BTreeSet<&str> = forecast["callers"]
        .as_array()
        .expect("callers")
        .iter()
        .map(|c| c["caller"].as_str().expect("caller"))
        .collect();
    assert!(names.contains("team-a") && names.contains("team-b") && names.contains("capped"));
    let a = forecast["callers"]
        .as_array()
        .expect("callers")
        .iter()
        .find(|c| c["caller"] == "team-a")
        .expect("team-a");
    assert_eq!(a["budget_usd"], 5.0);
    assert!(a["burn_usd_per_day"].as_f64() > Some(0.0));
    assert!(a["projected_month_usd"].as_f64() >= a["spent_usd"].as_f64());
    assert!(forecast["keys"].is_array());

    // Finer time series come from the log: 24 h of 5-minute buckets.
    let series = mgmt(&infermux, "/_infermux/costs/timeseries?hours=24&bucket=5m").await;
    let buckets = series["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 24 * 12);
    let counted: u64 = buckets
        .iter()
        .map(|b| b["requests"].as_u64().expect("n"))
        .sum();
    assert_eq!(counted, n as u64);
    let days = mgmt(&infermux, "/_infermux/costs/timeseries?hours=48&bucket=1d").await;
    assert_eq!(days["buckets"].as_array().map(Vec::len), Some(2));

    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    assert!(
        !metrics.contains("infermux_request_log_dropped_total 1"),
        "nothing dropped"
    );
    infermux.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_and_root_redirects_to_it() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "{}management_token: \"s3cret\"\n",
        config(&openai)
    ))
    .await;
    let root = get(&infermux.management_url("/"), &[]).await;
    assert_eq!(root.status, 302);
    assert_eq!(root.header("location"), Some("/ui"));
    let page = get(&infermux.management_url("/ui"), &[]).await;
    assert_eq!(page.status, 200, "the page itself needs no token");
    assert!(page.text().contains("<title>infermux"));
    for asset in [
        "/ui/app.js",
        "/ui/app.css",
        "/ui/vendor/uPlot.iife.min.js",
        "/ui/vendor/uPlot.min.css",
    ] {
        let reply = get(&infermux.management_url(asset), &[]).await;
        assert_eq!(reply.status, 200, "{asset}");
        assert!(
            reply
                .header("content-security-policy")
                .is_some_and(|csp| csp.starts_with("default-src 'self'"))
        );
    }
    for ours in ["/ui", "/ui/app.js", "/ui/app.css"] {
        let text = get(&infermux.management_url(ours), &[]).await.text();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{ours} names no other server"
        );
    }
    // The data does need the token.
    let data = get(&infermux.management_url("/_infermux/usage"), &[]).await;
    assert_eq!(data.status, 401);
    let data = get(
        &infermux.management_url("/_infermux/usage"),
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(data.status, 200);
    infermux.stop().await;
}

#[tokio::test]
async fn requests_refused_at_the_edge_are_rows_too() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&config(&openai)).await;
    let headers = [
        ("x-infermux-caller", "team-a"),
        ("content-type", "application/json"),
        ("user-agent", "Anthropic/JS 0.60.0"),
    ];
    for path in ["/v1/chat/completions", "/v1/messages"] {
        let reply = common::send(
            http::Method::POST,
            &infermux.url(path),
            &headers,
            "{\"model\": \"gpt-4o-mini\", \"messages\": [",
        )
        .await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
    }
    let page = mgmt(&infermux, "/_infermux/requests").await;
    let rows = page["requests"].as_array().expect("rows");
    let protocols: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["protocol"].as_str().expect("protocol"))
        .collect();
    assert_eq!(protocols, BTreeSet::from(["chat", "messages"]), "{page:#}");
    for row in rows {
        assert_eq!(row["status"], 400);
        assert_eq!(row["caller"], "team-a");
        assert_eq!(row["client"], "Anthropic/JS");
        assert_eq!(row["attempts"], 0);
        assert_eq!(row["cost_usd"], 0.0);
        assert!(row["error_code"].is_string(), "{row}");
        assert!(row["provider"].is_null());
    }
    assert!(
        !page.to_string().contains("gpt-4o-mini"),
        "nothing of an unreadable body is kept: {page:#}"
    );
}

#[tokio::test]
async fn an_alert_budget_fires_once_when_the_projection_crosses_it() {
    let openai = MockServer::openai().await;
    let hook = MockServer::openai().await;
    // Mid-March: the burn window is the last 7 days, 17.5 days are left.
    let clock = std::sync::Arc::new(infermux::core::FixedClock(
        humantime::parse_rfc3339("2026-03-14T12:00:00Z").expect("time"),
    ));
    // One request costs $0.0000018: spent stays under the $0.0000045 budget, but at that
    // rate the month ends at 1.8 + 1.8 × 17.5 / 7 = $0.0000063.
    let infermux = Infermux::start_with_clock(
        &format!(
            "providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini]}}
budgets:
  alert_webhook: \"{}/hooks/budget\"
  callers:
    - {{caller: pro, monthly_usd: 0.0000045, action: alert, alert_on_forecast: true}}
    - {{caller: calm, monthly_usd: 1, action: alert, alert_on_forecast: true}}
",
            openai.base_url(),
            hook.base_url()
        ),
        clock,
    )
    .await;
    assert_eq!(
        send(&infermux, "pro", "gpt-4o-mini", json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&infermux, "calm", "gpt-4o-mini", json!({}))
            .await
            .status,
        200
    );
    let forecast = mgmt(&infermux, "/_infermux/forecast").await;
    let pro = forecast["callers"]
        .as_array()
        .expect("callers")
        .iter()
        .find(|c| c["caller"] == "pro")
        .expect("pro")
        .clone();
    assert_eq!(pro["spent_usd"], 0.0000018);
    assert_eq!(pro["projected_month_usd"], 0.0000063);
    assert_eq!(pro["projected_exhaustion"], "2026-03-25");
    // Asked again: the alert does not repeat.
    mgmt(&infermux, "/_infermux/forecast").await;
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    // The webhook is posted in the background: poll (bounded) for it.
    let mut posts: Vec<Value> = Vec::new();
    for _ in 0..500 {
        posts = hook
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/hooks/budget"))
            .map(|r| r.json())
            .collect();
        if !posts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        !posts.is_empty(),
        "no forecast alert was posted; metrics:\n{metrics}"
    );
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["type"], "budget_forecast_alert");
    assert_eq!(posts[0]["caller"], "pro");
    assert_eq!(posts[0]["projected_month_usd"], 0.0000063);
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    assert!(
        metrics.contains("infermux_budget_alerts_total{caller=\"pro\",threshold=\"forecast\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains("caller=\"calm\",threshold=\"forecast\""));
    infermux.stop().await;
}
