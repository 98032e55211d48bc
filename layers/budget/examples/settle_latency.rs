//! How long a settlement waits for the durable store, under concurrent load: `TASKS` tasks
//! settle one request after another into a `FileStore` in a temp directory until `TOTAL`
//! settlements are done (a compaction every `COMPACT_EVERY` of them), and the latency of
//! each `settle` (from the call to its line being written) is summarised.
//!
//! `cargo run --release -p infermux-budget --example settle_latency -- [TOTAL] [TASKS] [WORKERS]`

#![allow(clippy::print_stdout, reason = "a command-line report")]

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use infermux_budget::FileStore;
use infermux_core::{LedgerEntry, Money, RequestId, SpendStore, Usage};

fn entry(i: u64) -> LedgerEntry {
    LedgerEntry {
        request_id: RequestId::new(format!("req-{i}")),
        at: SystemTime::now(),
        caller: "bench".into(),
        group: Some(Arc::from("chat")),
        provider: "openai".into(),
        model: Arc::from("gpt-4o-mini"),
        usage: Usage::new(8, 1),
        cost: Money::from_picos(1_800_000),
        priced: true,
        estimated: false,
        waste: None,
    }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let total = args.first().copied().unwrap_or(100_000);
    let tasks = args.get(1).copied().unwrap_or(64);
    let workers = args.get(2).copied().unwrap_or(2) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::open(dir.path().join("budgets.json")).expect("open");
    let started = Instant::now();
    let mut latencies: Vec<Duration> = runtime.block_on(async move {
        let per_task = total / tasks;
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut out = Vec::with_capacity(per_task as usize);
                    for i in 0..per_task {
                        let begun = Instant::now();
                        store
                            .settle(entry(t * per_task + i), Money::ZERO)
                            .await
                            .expect("settled");
                        out.push(begun.elapsed());
                        // Another request's work before the next settlement.
                        tokio::task::yield_now().await;
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            all.extend(handle.await.expect("joined"));
        }
        all
    });
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{} settlements in {:.2?} ({:.0}/s): p50 {:.1?} p99 {:.1?} p99.9 {:.1?} max {:.1?}",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1],
    );
}
