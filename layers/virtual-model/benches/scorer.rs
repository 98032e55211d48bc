//! The complexity scorer's cost per request: a 100-token and an 8k-token prompt, and the
//! whole resolution (capabilities, cost estimates, score) of an `auto` request.
//!
//! `cargo bench -p infermux-virtual-model --bench scorer`; figures in docs/PERFORMANCE.md.

#![allow(missing_docs, clippy::unwrap_used)]

use std::{hint::black_box, time::Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use infermux_core::{
    InferRequest, ModelCatalog, ModelSpec, ModelSpecs, Price, PriceTable, ProviderModels,
    RequestBody,
    chat::{ChatMessage, ChatRequest, MessageContent},
};
use infermux_virtual_model::{Scorer, VirtualSpec, VirtualTable};

/// About 100 tokens of a realistic prompt.
const PARAGRAPH: &str = "Our checkout service times out under load. Explain why connection \
    pooling to PostgreSQL might be exhausted when p99 latency rises, compare raising the pool \
    size with adding a queue in front of the database, and propose a step by step plan to \
    verify the cause with metrics before changing anything. Include what to log.";

fn chat(text: String) -> ChatRequest {
    ChatRequest {
        model: "auto".into(),
        messages: vec![
            ChatMessage {
                role: "system".into(),
                content: Some(MessageContent::Text("You are a helpful assistant.".into())),
                ..ChatMessage::default()
            },
            ChatMessage {
                role: "user".into(),
                content: Some(MessageContent::Text(text)),
                ..ChatMessage::default()
            },
        ],
        ..ChatRequest::default()
    }
}

fn bench(c: &mut Criterion) {
    let scorer = Scorer::default();
    let short = chat(PARAGRAPH.to_owned());
    // 80 paragraphs: about 8k tokens (33 KB).
    let long = chat(PARAGRAPH.repeat(80));
    let tokens = |chat: &ChatRequest| {
        chat.messages
            .iter()
            .filter_map(|m| m.content.as_ref())
            .map(|c| c.text().len() as u64 / 4)
            .sum::<u64>()
    };
    let (short_tokens, long_tokens) = (tokens(&short), tokens(&long));
    let mut group = c.benchmark_group("scorer");
    group.bench_function("score/100_tokens", |b| {
        b.iter(|| black_box(scorer.score(black_box(&short), short_tokens)))
    });
    group.bench_function("score/8k_tokens", |b| {
        b.iter(|| black_box(scorer.score(black_box(&long), long_tokens)))
    });
    group.finish();

    let catalog = ModelCatalog::new(vec![
        ProviderModels::new("openai", ["gpt-4o", "gpt-4o-mini"]),
        ProviderModels::new("anthropic", ["claude-sonnet-4-5", "claude-haiku-4-5"]),
    ]);
    let price = |i, o| Price::per_million(i, o, None, None).unwrap();
    let prices = PriceTable::default()
        .with_price("openai".into(), "gpt-4o", price(2.5, 10.0))
        .with_price("openai".into(), "gpt-4o-mini", price(0.15, 0.6))
        .with_price("anthropic".into(), "claude-sonnet-4-5", price(3.0, 15.0))
        .with_price("anthropic".into(), "claude-haiku-4-5", price(1.0, 5.0));
    let strong = ModelSpec::chat(200_000, 64_000).multimodal().strong();
    let light = ModelSpec::chat(200_000, 64_000).multimodal();
    let specs = ModelSpecs::new([
        ("gpt-4o".into(), strong),
        ("gpt-4o-mini".into(), light),
        ("claude-sonnet-4-5".into(), strong),
        ("claude-haiku-4-5".into(), light),
    ]);
    let table = VirtualTable::new(
        VirtualSpec::defaults(&catalog, &specs),
        &catalog,
        &prices,
        &specs,
        Scorer::default(),
    );
    let mut request = InferRequest::new(RequestBody::Chat(short), "a".into(), "r".into());
    request.estimate.prompt_tokens = short_tokens;
    c.bench_function("resolve/auto_100_tokens_4_models", |b| {
        b.iter(|| black_box(table.resolve(black_box(&request), Instant::now())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
