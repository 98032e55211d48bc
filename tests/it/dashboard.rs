//! The dashboard in a real headless Chromium (over WebDriver): after a known mix of traffic
//! its numbers equal the API's, a filter changes them, the trend chart is drawn, the CSV
//! downloads, and the browser asks nothing of any server but infermux on 127.0.0.1.
//!
//! CI installs Debian's `chromium` and `chromium-driver` and points
//! `INFERMUX_TEST_CHROMEDRIVER` at the driver; screenshots land in
//! `target/tmp/dashboard/` for a person to look at.

use crate::common;

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, SystemTime},
};

use crate::common::{Infermux, chat, get, post_json};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use infermux::core::Money;
use infermux::layers::request_log::{RequestRecord, RequestStore, SqliteStore};
use infermux_test_util::MockServer;
use serde_json::{Value, json};

const TOKEN: &str = "dash-token";

/// chromedriver on a free loopback port; killed on drop.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    fn start(program: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Self {
            child: Command::new(program)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        // chromedriver takes a moment to listen: poll its port, bounded. Dropping `driver`
        // (also on panic) kills and reaps it.
        for _ in 0..200 {
            if TcpStream::connect(driver.addr).is_ok() {
                return driver;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = driver.child.kill();
        panic!("chromedriver did not listen on {}", driver.addr);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<String> {
    common::external("INFERMUX_TEST_CHROMEDRIVER", "the dashboard browser test")
}

async fn browser(driver: &Driver) -> Client {
    let chromium =
        std::env::var("INFERMUX_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--window-size=1400,1900",
                // Nothing but loopback resolves: a request to anywhere else fails.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
            ]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!("an object")
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://{}", driver.addr))
        .await
        .expect("a WebDriver session")
}

/// Two weeks of earlier traffic, so the trend has a shape: working hours, three models,
/// three callers.
async fn seed(path: &Path) {
    let store = SqliteStore::open(path).expect("store");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("now")
        .as_millis() as i64;
    let models = [
        ("gpt-4o", "openai", 2_500_000u64, 10_000_000u64),
        ("gpt-4o-mini", "openai", 150_000, 600_000),
        ("claude-sonnet-4-5", "anthropic", 3_000_000, 15_000_000),
    ];
    let callers = ["team-a", "team-b", "batch-jobs"];
    let mut rows = Vec::new();
    for day in 1..14i64 {
        for hour in [8i64, 9, 10, 11, 13, 14, 15, 16, 17, 22] {
            for (i, (model, provider, input, output)) in models.iter().enumerate() {
                let n = ((day * 7 + hour * 3 + i as i64 * 5) % 4 + 1) as u64;
                let at =
                    (now / 86_400_000 - day) * 86_400_000 + hour * 3_600_000 + i as i64 * 60_000;
                let caller = callers[(day + hour + i as i64) as usize % 3];
                let refused = (day + hour + i as i64) % 23 == 0;
                // Batch jobs ask for gpt-4o and their route group sends gpt-4o-mini.
                let routed = caller == "batch-jobs" && *model == "gpt-4o";
                let (sent, input, output) = if routed {
                    ("gpt-4o-mini", 150_000, 600_000)
                } else {
                    (*model, *input, *output)
                };
                let (prompt, completion) = if refused { (0, 0) } else { (900 * n, 250 * n) };
                // Prices are µ$ per million tokens: tokens × price is pico-USD.
                let cost = prompt * input + completion * output;
                rows.push(RequestRecord {
                    at_ms: at,
                    request_id: format!("seed-{day}-{hour}-{i}").into(),
                    protocol: "chat".into(),
                    caller: caller.into(),
                    requested_model: (*model).into(),
                    route_group: routed.then(|| "batch".into()),
                    provider: (!refused).then(|| (*provider).into()),
                    model: (!refused).then(|| sent.into()),
                    strategy: Some("priority".into()),
                    status: if refused { 429 } else { 200 },
                    error_code: refused.then(|| "budget_exceeded".into()),
                    attempts: u32::from(!refused),
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    cost: Money::from_picos(cost),
                    latency_ms: if refused { 1 } else { 300 + n * 120 },
                    client: Some("OpenAI/Python".into()),
                    ..RequestRecord::default()
                });
            }
        }
    }
    store.insert(rows).await.expect("seeded");
}

async fn api(infermux: &Infermux, path: &str) -> Value {
    let reply = get(
        &infermux.management_url(path),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    )
    .await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply.json()
}

async fn wait_loaded(client: &Client, generation: u32) {
    let loaded = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!(
            "body[data-loaded='true'][data-generation='{generation}']"
        )))
        .await;
    if let Err(error) = loaded {
        let shot = screenshot(client, "dashboard-failed.png").await;
        let state = client
            .execute("return JSON.stringify(document.body.dataset)", vec![])
            .await;
        panic!(
            "the dashboard never finished loading (generation {generation}): {error}; body {state:?}; see {}",
            shot.display()
        );
    }
}

async fn attr(client: &Client, css: &str, name: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr(name)
        .await
        .expect("attribute")
        .unwrap_or_default()
}

async fn number(client: &Client, css: &str) -> f64 {
    attr(client, css, "data-value")
        .await
        .parse()
        .unwrap_or_else(|_| panic!("{css} holds a number"))
}

fn as_f64(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let path = dir.join(name);
    std::fs::write(&path, client.screenshot().await.expect("screenshot")).expect("written");
    path
}

#[tokio::test]
async fn the_dashboard_shows_what_the_api_says_and_follows_its_filters() {
    let Some(program) = chromedriver() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("requests.db");
    seed(&db).await;
    let openai = MockServer::openai().await;
    let anthropic = MockServer::anthropic().await;
    let infermux = Infermux::start(&format!(
        "management_token: \"{TOKEN}\"
providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini, gpt-4o]}}
  - {{name: anthropic, type: anthropic, api_key: sk-ant, base_url: \"{}\", models: [claude-sonnet-4-5]}}
budgets:
  callers:
    - {{caller: team-a, monthly_usd: 0.05, action: alert}}
    - {{caller: team-b, monthly_usd: 20, action: hard_stop}}
request_log: {{path: \"{}\"}}
",
        openai.base_url(),
        anthropic.base_url(),
        db.display()
    ))
    .await;
    // The known mix of today's traffic.
    for (caller, model, n) in [
        ("team-a", "gpt-4o-mini", 3),
        ("team-b", "gpt-4o", 2),
        ("team-b", "claude-sonnet-4-5", 1),
    ] {
        for _ in 0..n {
            let reply = post_json(
                &infermux.url("/v1/chat/completions"),
                &[("x-infermux-caller", caller)],
                chat(model, json!({"max_tokens": 64})),
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }

    let driver = Driver::start(&program);
    let client = browser(&driver).await;
    let origin = format!("http://{}", infermux.management);
    client.goto(&format!("{origin}/")).await.expect("opens");
    // `/` redirected to `/ui`, which asks for the token once.
    let input = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#token-dialog[open] #token-input"))
        .await
        .expect("the page asks for the token");
    assert_eq!(client.current_url().await.expect("url").path(), "/ui");
    input.send_keys(TOKEN).await.expect("typed");
    client
        .find(Locator::Css("#token-submit"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submitted");
    wait_loaded(&client, 1).await;

    // The cards equal the API's summary of the same range (this month).
    let since = client
        .execute(
            "return new URLSearchParams(document.querySelector('#csv').search).get('since')",
            vec![],
        )
        .await
        .expect("since");
    let since = since.as_str().expect("since").to_owned();
    let summary = api(
        &infermux,
        &format!("/_infermux/usage/summary?since={since}"),
    )
    .await;
    assert_eq!(
        number(&client, "#card-spend .value").await,
        as_f64(&summary["spend_usd"])
    );
    assert_eq!(
        number(&client, "#card-requests .value").await,
        as_f64(&summary["requests"])
    );
    assert_eq!(
        number(&client, "#card-tokens .value").await,
        as_f64(&summary["tokens"])
    );
    // The projection moves with the clock (less of the month is left a moment later).
    let projected = number(&client, "#card-projected .value").await;
    let expected = as_f64(&summary["projected_month_usd"]);
    assert!(
        (projected - expected).abs() <= expected * 1e-4,
        "{projected} vs {expected}"
    );
    assert!(as_f64(&summary["requests"]) >= 6.0);
    // The breakdown by model, row by row.
    let by_model = api(
        &infermux,
        &format!("/_infermux/usage?group_by=model&since={since}"),
    )
    .await;
    let shown = client
        .find_all(Locator::Css("#by-model tr[data-key]"))
        .await
        .expect("rows");
    let rows = by_model["rows"].as_array().expect("rows");
    assert_eq!(shown.len(), rows.len());
    for (el, row) in shown.iter().zip(rows) {
        assert_eq!(
            el.attr("data-key").await.expect("key").as_deref(),
            row["key"].as_str()
        );
        let cost: f64 = el
            .attr("data-cost")
            .await
            .expect("cost")
            .unwrap_or_default()
            .parse()
            .expect("cost");
        assert_eq!(cost, as_f64(&row["cost_usd"]));
    }
    // The trend chart is drawn: a canvas with painted pixels, one band per model.
    let painted = client
        .execute(
            "const c = document.querySelector('#trend canvas'); if (!c) return 0;
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;",
            vec![],
        )
        .await
        .expect("pixels");
    assert!(
        painted.as_u64() > Some(1_000),
        "the chart has bars: {painted}"
    );
    assert_eq!(
        attr(&client, "#trend", "data-series").await,
        rows.len().to_string()
    );
    // Budgets: team-a's bar and projection.
    let budget = attr(&client, ".budget[data-name='team-a']", "data-budget").await;
    assert_eq!(budget.parse::<f64>().ok(), Some(0.05));

    // A filter changes every part: caller team-b.
    let requests_before = number(&client, "#card-requests .value").await;
    client
        .find(Locator::Css("#f-caller"))
        .await
        .expect("select")
        .select_by_value("team-b")
        .await
        .expect("chosen");
    wait_loaded(&client, 2).await;
    let filtered = api(
        &infermux,
        &format!("/_infermux/usage/summary?since={since}&caller=team-b"),
    )
    .await;
    let requests_after = number(&client, "#card-requests .value").await;
    assert_eq!(requests_after, as_f64(&filtered["requests"]));
    assert!(requests_after < requests_before);
    assert_eq!(
        number(&client, "#card-spend .value").await,
        as_f64(&filtered["spend_usd"])
    );
    let callers = client
        .find_all(Locator::Css("#by-caller tr[data-key]"))
        .await
        .expect("rows");
    assert_eq!(callers.len(), 1);
    let recent = client
        .find_all(Locator::Css("#recent tbody tr[data-id]"))
        .await
        .expect("rows");
    let api_recent = api(
        &infermux,
        &format!("/_infermux/requests?since={since}&caller=team-b&limit=50"),
    )
    .await;
    assert_eq!(
        recent.len(),
        api_recent["requests"].as_array().map_or(0, Vec::len)
    );
    screenshot(&client, "dashboard-filtered.png").await;

    // The CSV of what is shown downloads (the page fetches it with the token).
    let href = attr(&client, "#csv", "href").await;
    assert!(href.contains("caller=team-b"), "{href}");
    let csv = client
        .execute(
            "return fetch(document.querySelector('#csv').href, {headers: {Authorization: 'Bearer ' + arguments[0]}})
                .then(r => r.text().then(t => ({type: r.headers.get('content-type'), text: t})));",
            vec![json!(TOKEN)],
        )
        .await
        .expect("csv");
    assert_eq!(csv["type"], "text/csv; charset=utf-8");
    let text = csv["text"].as_str().expect("text");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("time,request_id,"));
    assert!(lines.len() > 1 && lines[1..].iter().all(|l| l.contains(",team-b,")));

    // Back to everyone over 30 days: the overview of the guide.
    client
        .find(Locator::Css("#f-caller"))
        .await
        .expect("select")
        .select_by_value("")
        .await
        .expect("all");
    wait_loaded(&client, 3).await;
    client
        .find(Locator::Css("#f-range"))
        .await
        .expect("select")
        .select_by_value("30d")
        .await
        .expect("30 days");
    wait_loaded(&client, 4).await;
    let month = api(&infermux, "/_infermux/usage/summary?since=30d").await;
    assert_eq!(
        number(&client, "#card-requests .value").await,
        as_f64(&month["requests"])
    );
    screenshot(&client, "dashboard-overview.png").await;

    // Nothing was asked of any other server.
    let urls = client
        .execute("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);", vec![])
        .await
        .expect("urls");
    let urls = urls.as_array().expect("urls");
    assert!(urls.len() > 5);
    for url in urls {
        let url = url.as_str().expect("url");
        assert!(url.starts_with(&origin), "the page asked {url}");
    }
    client.close().await.expect("closed");
    infermux.stop().await;
}
