//! The cost of counting a prompt's tokens at ingress, with the BPE tokenizer of
//! `gpt-4o-mini` (o200k): a 2k-token prompt (counted inline on the runtime worker) and a 1 MiB
//! prompt (counted on the counting threads, above `tokens::INLINE_ESTIMATE_BYTES`, 16 KiB).
//!
//! - `token_count/estimate_2k_tokens`: the estimate of a chat request of about 2,000 tokens;
//! - `token_count/estimate_1mib`: the same for a 1 MiB prompt;
//! - `token_count/estimate_1mib_remembered`: the 1 MiB prompt sent again by the same caller,
//!   its count remembered (`BpeTokenCounter::estimate_request`, as ingress counts);
//! - `token_count/with_estimate_1mib`: the 1 MiB prompt through `tokens::with_estimate`, as
//!   ingress counts it (the hand-off to a counting thread included).
//! - `token_count_bpe/{compact,tiktoken}/{hi,1kb,64kb}`: one text counted in `o200k_base` by
//!   infermux's counter (the compact table) and by tiktoken-rs's `CoreBPE` as infermux used
//!   to (the model looked up, then `encode_ordinary(..).len()`).
//!
//! Run with `cargo bench --bench token_count`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use infermux::{
    core::{InferRequest, RequestBody, TokenCounter, chat::ChatRequest},
    tokens::{BpeTokenCounter, with_estimate},
};

/// Varied English-like text of `bytes` bytes.
fn text(bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "router",
        "counts",
        "every",
        "prompt",
        "token",
        "before",
        "sending",
        "it",
        "upstream",
        "budget",
        "reservation",
        "settles",
        "exactly",
        "once",
        "streams",
        "cost",
        "provider",
        "answer",
        "cache",
    ];
    let mut out = String::with_capacity(bytes + 16);
    let mut i = 0usize;
    while out.len() < bytes {
        out.push_str(WORDS[(i * 7 + i / 3) % WORDS.len()]);
        out.push_str(if i % 13 == 12 { ". " } else { " " });
        i += 1;
    }
    out.truncate(bytes);
    out
}

fn chat(prompt: &str) -> RequestBody {
    let chat: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": prompt}]
    }))
    .expect("chat");
    RequestBody::Chat(chat)
}

fn bench(c: &mut Criterion) {
    let counter = BpeTokenCounter::new();
    infermux::tokens::warm_up(["gpt-4o-mini"]);
    let mut group = c.benchmark_group("token_count");
    // About 2,000 tokens: short words count about one token each.
    let small = chat(&text(12_400));
    let tokens = counter.estimate(&small).prompt_tokens;
    assert!((1_800..2_200).contains(&tokens), "{tokens} tokens");
    group.bench_function("estimate_2k_tokens", |b| {
        b.iter(|| black_box(counter.estimate(black_box(&small))));
    });
    let large = chat(&text(1 << 20));
    group.sample_size(10);
    group.bench_function("estimate_1mib", |b| {
        b.iter(|| black_box(counter.estimate(black_box(&large))));
    });
    // An agent's conversation sent again: its count is remembered for its caller.
    let again = InferRequest::new(large.clone(), "bench".into(), "r".into());
    counter.estimate_request(&again);
    group.bench_function("estimate_1mib_remembered", |b| {
        b.iter(|| black_box(counter.estimate_request(black_box(&again))));
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    // A caller of its own for each request: nothing is remembered.
    let mut callers = 0u64;
    group.bench_function("with_estimate_1mib", |b| {
        b.iter(|| {
            callers += 1;
            let caller = format!("bench-{callers}");
            let request = InferRequest::new(large.clone(), caller.as_str().into(), "r".into());
            runtime
                .block_on(with_estimate(counter, request, 1 << 20))
                .expect("counted")
        });
    });
    group.finish();
}

/// The compact counter against tiktoken-rs's `CoreBPE`, on the same texts.
fn compact_vs_tiktoken(c: &mut Criterion) {
    let counter = BpeTokenCounter::new();
    infermux::tokens::warm_up(["gpt-4o-mini"]);
    let tiktoken = tiktoken_rs::o200k_base_singleton();
    let mut group = c.benchmark_group("token_count_bpe");
    for (name, prompt) in [
        ("hi", "hi".to_owned()),
        ("1kb", text(1024)),
        ("64kb", text(64 * 1024)),
    ] {
        assert_eq!(
            counter.count("gpt-4o-mini", &prompt),
            tiktoken.encode_ordinary(&prompt).len() as u64
        );
        group.bench_function(format!("compact/{name}"), |b| {
            b.iter(|| black_box(counter.count(black_box("gpt-4o-mini"), black_box(&prompt))));
        });
        group.bench_function(format!("tiktoken/{name}"), |b| {
            b.iter(|| {
                black_box(tiktoken_rs::tokenizer::get_tokenizer(black_box(
                    "gpt-4o-mini",
                )));
                black_box(tiktoken.encode_ordinary(black_box(&prompt)).len())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench, compact_vs_tiktoken);
criterion_main!(benches);
