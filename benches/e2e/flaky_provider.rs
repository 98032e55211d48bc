//! Failover under errors: a load of chat completions through infermux while one of its two
//! providers answers 500 to half of its requests, at random.
//!
//! Both providers are the loopback mock (`infermux-test-util`); infermux runs in process with
//! the default circuit breaker (30 s window, 10 requests, 0.5 error rate) except a 5 s
//! recovery, so the run sees the circuit open, probe and close again several times. The
//! clients are `CONCURRENCY` tasks on one pooled HTTP/1.1 client, each sending one request
//! after the other for `SECONDS`. At the end it prints the client-side success rate, which
//! provider served how much, the latency percentiles and the circuit transitions.
//!
//! Usage: `cargo run --release --example flaky_provider -- [SECONDS] [CONCURRENCY] [BREAKER]`
//! (default 60 s, 32 clients, `BREAKER` = `on`). With `off`, the circuit never opens
//! (`min_requests` out of reach), so every other request to the flaky provider fails over on
//! its own: failover alone, without the breaker's help. Exits 1 when the success rate is
//! under 99.9%.

#![allow(clippy::print_stdout, reason = "a command-line report")]

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use infermux::{config, server::Server};
use infermux_test_util::{Fault, MockServer};
use tokio_util::sync::CancellationToken;

/// How many faults are queued at a time on the flaky provider; refilled every 50 ms.
const FAULT_BATCH: usize = 20_000;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let breaker = match args.next().as_deref() {
        Some("off") => "{min_requests: 1000000000}",
        _ => "{recovery: 5s}",
    };

    let (flaky, steady) = (MockServer::openai().await, MockServer::openai().await);
    let yaml = format!(
        r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
log: {{level: error}}
routing: {{strategy: priority}}
providers:
  - name: flaky
    type: openai
    api_key: "sk-flaky"
    base_url: "{}"
    models: [gpt-4o-mini]
    circuit_breaker: {breaker}
  - name: steady
    type: openai
    api_key: "sk-steady"
    base_url: "{}"
    models: [gpt-4o-mini]
"#,
        flaky.base_url(),
        steady.base_url()
    );
    let config = match config::parse(&yaml, "flaky_provider.yml", &|_: &str| None) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (Ok(proxy), Ok(management)) = (server.proxy_addr(), server.management_addr()) else {
        eprintln!("error: no local address");
        return ExitCode::FAILURE;
    };
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server.run(shutdown.clone()));

    // Half of the flaky provider's answers are 500s, at random.
    let faults = tokio::spawn(half_failing(flaky, shutdown.clone()));

    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http::<Full<Bytes>>();
    let url = format!("http://{proxy}/v1/chat/completions");
    let body = Bytes::from_static(
        br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
    );
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, body, tally) = (client.clone(), url.clone(), body.clone(), tally.clone());
        clients.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let request = Request::post(url.as_str())
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()));
                let Ok(request) = request else { break };
                let sent = Instant::now();
                let outcome = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let provider = response
                            .headers()
                            .get("x-infermux-provider")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let read = response.into_body().collect().await.is_ok();
                        (status.is_success() && read).then_some(provider)
                    }
                    Err(_) => None,
                };
                latencies.push(sent.elapsed());
                tally.count(outcome.as_ref().map(|p| p.as_deref()));
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = clients.join_all().await.into_iter().flatten().collect();
    let elapsed = started.elapsed();

    let metrics = fetch(&client, &format!("http://{management}/metrics")).await;
    shutdown.cancel();
    let _ = faults.await;
    let _ = serving.await;

    latencies.sort();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let ok = tally.ok.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let total = ok + failed;
    let rate = if total == 0 {
        0.0
    } else {
        ok as f64 / total as f64
    };
    println!(
        "duration            {:.1} s, {concurrency} clients, circuit_breaker {breaker}",
        elapsed.as_secs_f64()
    );
    println!(
        "requests            {total} ({:.0}/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    println!("succeeded           {ok}");
    println!("failed              {failed}");
    println!("success rate        {:.4}%", rate * 100.0);
    println!(
        "served by           flaky {}, steady {}",
        tally.flaky.load(Ordering::Relaxed),
        tally.steady.load(Ordering::Relaxed)
    );
    println!(
        "latency (ms)        p50 {:.2}, p99 {:.2}, max {:.2}",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    for line in metrics.lines().filter(|l| {
        l.starts_with("infermux_circuit_transitions_total")
            || l.starts_with("infermux_failovers_total")
            || l.starts_with("infermux_provider_skipped_total")
    }) {
        println!("{line}");
    }
    if rate >= 0.999 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    flaky: AtomicU64,
    steady: AtomicU64,
}

impl Tally {
    fn count(&self, outcome: Option<Option<&str>>) {
        let Some(provider) = outcome else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.ok.fetch_add(1, Ordering::Relaxed);
        match provider {
            Some("flaky") => self.flaky.fetch_add(1, Ordering::Relaxed),
            Some("steady") => self.steady.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

/// Keeps the mock's fault queue full of a random half-and-half of 500s and normal answers.
async fn half_failing(mock: MockServer, shutdown: CancellationToken) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let faults = (0..FAULT_BATCH)
            .map(|_| {
                // xorshift64: a fixed seed, so runs are comparable.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state & 1 == 0 {
                    Fault::status(500)
                } else {
                    Fault::Latency(Duration::ZERO)
                }
            })
            .collect();
        mock.set_faults(faults);
    }
}

async fn fetch(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    url: &str,
) -> String {
    let Ok(request) = Request::get(url).body(Full::new(Bytes::new())) else {
        return String::new();
    };
    match client.request(request).await {
        Ok(response) => match response.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(_) => String::new(),
        },
        Err(_) => String::new(),
    }
}
