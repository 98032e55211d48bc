//! The cost of the routing decision and of the pre-send token count.
//!
//! - `route_group/*`: [`RouteTable::route`], the route-group lookup of one request (a map
//!   lookup and a clone of the candidate list), for 3 and for 50 providers serving the model.
//! - `strategy/<strategy>/<n>_providers`: [`Ranker::decide`] (price and board lookups, the
//!   sort, the route-reason line) for each strategy over 3 and 50 candidates, all routable
//!   and, for `least_latency`, all measured.
//! - `tokens/*`: [`BpeTokenCounter::estimate`] of a chat request whose one user message is
//!   about 2,000 tokens, for an OpenAI model (exact BPE, `o200k_base`) and for a model counted
//!   by the 4-bytes-per-token approximation.
//!
//! Run with `cargo bench --bench routing` (append `-- --measurement-time 3 --warm-up-time 1`
//! for a quicker pass). Results: `docs/PERFORMANCE.md`, "Routing".

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use infermux::{
    core::{
        Candidate, ModelCatalog, Price, PriceTable, PricingBasis, ProviderBoard, ProviderModels,
        ProviderName, ProviderStatus, RequestBody, RouteContext, Strategy,
    },
    tokens::{self, BpeTokenCounter},
};
use infermux_route_group::RouteTable;
use infermux_strategy::{Ranker, Unpriced};
use serde_json::json;

fn providers(n: usize) -> Vec<ProviderName> {
    (0..n)
        .map(|i| ProviderName::new(format!("provider-{i}")))
        .collect()
}

fn catalog(names: &[ProviderName]) -> ModelCatalog {
    ModelCatalog::new(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| ProviderModels {
                provider: name.clone(),
                models: vec![format!("model-{i}").into()],
                aliases: vec![("gpt-4o-mini".into(), format!("model-{i}").into())],
            })
            .collect(),
    )
}

/// Every provider priced differently (one in three free), all measured on the board.
fn ranker(names: &[ProviderName]) -> Ranker {
    let mut prices = PriceTable::new((0..names.len()).map(|i| {
        let usd = 0.05 * (names.len() - i) as f64;
        let price = Price::per_million(usd, usd * 4.0, None, None).unwrap_or_default();
        (Arc::from(format!("model-{i}")), price)
    }));
    for (i, name) in names.iter().enumerate() {
        let basis = if i % 3 == 2 {
            PricingBasis::Free
        } else {
            PricingBasis::Hosted
        };
        prices = prices.with_provider(name.clone(), basis);
    }
    let board = ProviderBoard::new(
        names
            .iter()
            .map(|n| ProviderStatus::new(n.clone(), "openai")),
    );
    for (i, status) in board.iter().enumerate() {
        status.record_latency(Duration::from_millis(50 + (i as u64 * 37) % 400));
    }
    Ranker::new(prices, board, Unpriced::Warn)
}

fn route(names: &[ProviderName], strategy: Strategy) -> RouteContext {
    RouteContext {
        group: None,
        candidates: names
            .iter()
            .enumerate()
            .map(|(i, name)| Candidate {
                provider: name.clone(),
                upstream_model: format!("model-{i}").into(),
            })
            .collect(),
        strategy: Some(strategy),
    }
}

fn routing_decision(c: &mut Criterion) {
    for n in [3, 50] {
        let names = providers(n);
        let table = RouteTable::new(&catalog(&names), Strategy::CostWeighted, &[]);
        c.bench_function(&format!("route_group/{n}_providers"), |b| {
            b.iter(|| black_box(table.route(black_box("gpt-4o-mini"), None)))
        });
        let ranker = ranker(&names);
        for strategy in [
            Strategy::Priority,
            Strategy::RoundRobin,
            Strategy::LeastLatency,
            Strategy::CostWeighted,
        ] {
            let route = route(&names, strategy);
            c.bench_function(
                &format!("strategy/{}/{n}_providers", strategy.as_str()),
                |b| {
                    b.iter(|| {
                        black_box(ranker.decide(
                            "gpt-4o-mini",
                            black_box(&route),
                            black_box(2_000),
                            false,
                        ))
                    })
                },
            );
        }
    }
}

fn token_counting(c: &mut Criterion) {
    tokens::warm_up(["gpt-4o"]);
    // About 2,000 tokens of ordinary English prose.
    let sentence = "The quick brown fox jumps over the lazy dog while the committee reviews \
                    its quarterly budget and the weather stays mild for the season. ";
    let text = sentence.repeat(74);
    for model in ["gpt-4o-mini", "claude-haiku-3-5"] {
        let body: RequestBody = RequestBody::Chat(
            serde_json::from_value(json!({
                "model": model, "messages": [{"role": "user", "content": text}]
            }))
            .unwrap_or_else(|e| panic!("valid chat: {e}")),
        );
        let counter = BpeTokenCounter::new();
        let tokens = counter.estimate(&body).prompt_tokens;
        c.bench_function(&format!("tokens/{model}_{tokens}_prompt_tokens"), |b| {
            b.iter(|| black_box(counter.estimate(black_box(&body))))
        });
    }
}

criterion_group!(benches, routing_decision, token_counting);
criterion_main!(benches);
