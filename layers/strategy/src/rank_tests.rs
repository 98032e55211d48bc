use std::time::Duration;

use infermux_core::{
    CircuitState, Price, PriceTable, PricingBasis, ProviderBoard, ProviderStatus, RouteContext,
    Strategy,
};

use super::{Ranker, Unpriced};

fn price(input_usd_per_million: f64) -> Price {
    Price::per_million(
        input_usd_per_million,
        input_usd_per_million * 4.0,
        None,
        None,
    )
    .expect("valid price")
}

/// The seed tutorial's three providers for `gpt-4o-mini`.
fn tutorial_route(strategy: Strategy) -> RouteContext {
    RouteContext {
        group: None,
        candidates: [
            ("openai", "gpt-4o-mini"),
            ("anthropic", "claude-haiku-3-5"),
            ("ollama", "llama3.2"),
        ]
        .into_iter()
        .map(|(p, m)| infermux_core::Candidate {
            provider: p.into(),
            upstream_model: m.into(),
        })
        .collect(),
        strategy: Some(strategy),
    }
}

fn tutorial_prices() -> PriceTable {
    PriceTable::new([
        ("gpt-4o-mini".into(), price(0.15)),
        ("claude-haiku-3-5".into(), price(0.80)),
    ])
    .with_provider("openai".into(), PricingBasis::Hosted)
    .with_provider("anthropic".into(), PricingBasis::Hosted)
    .with_provider("ollama".into(), PricingBasis::Free)
}

fn board() -> ProviderBoard {
    ProviderBoard::new([
        ProviderStatus::new("openai".into(), "openai"),
        ProviderStatus::new("anthropic".into(), "anthropic"),
        ProviderStatus::new("ollama".into(), "ollama"),
    ])
}

fn ranker(prices: PriceTable, board: &ProviderBoard, unpriced: Unpriced) -> Ranker {
    Ranker::new(prices, board.clone(), unpriced)
}

fn order(ranker: &Ranker, route: &RouteContext, tokens: u64) -> (Vec<String>, String) {
    let decision = ranker
        .decide("gpt-4o-mini", route, tokens, false)
        .expect("decided");
    let names = decision
        .candidates
        .iter()
        .map(|c| c.provider.to_string())
        .collect();
    (names, decision.reason)
}

// === cost_weighted ===

#[test]
fn cost_weighted_prefers_free_then_the_cheapest_input_price() {
    let ranker = ranker(tutorial_prices(), &board(), Unpriced::Warn);
    let (names, reason) = order(&ranker, &tutorial_route(Strategy::CostWeighted), 8);
    assert_eq!(names, ["ollama", "openai", "anthropic"]);
    assert_eq!(
        reason,
        "cost_weighted: ollama $0 < openai $0.0000012 < anthropic $0.0000064"
    );
}

#[test]
fn cost_weighted_without_ollama_picks_the_cheaper_hosted_model() {
    let mut route = tutorial_route(Strategy::CostWeighted);
    route.candidates.pop();
    route.candidates.reverse(); // anthropic declared first
    let ranker = ranker(tutorial_prices(), &board(), Unpriced::Warn);
    assert_eq!(order(&ranker, &route, 8).0, ["openai", "anthropic"]);
}

#[test]
fn cost_weighted_ties_keep_declared_order_and_show_as_equal() {
    let all_free = PriceTable::new([])
        .with_provider("openai".into(), PricingBasis::Free)
        .with_provider("anthropic".into(), PricingBasis::Free)
        .with_provider("ollama".into(), PricingBasis::Free);
    let ranker = ranker(all_free, &board(), Unpriced::Warn);
    let (names, reason) = order(&ranker, &tutorial_route(Strategy::CostWeighted), 8);
    assert_eq!(names, ["openai", "anthropic", "ollama"]);
    assert_eq!(
        reason,
        "cost_weighted: openai $0 = anthropic $0 = ollama $0"
    );
}

#[test]
fn cost_weighted_with_no_prompt_tokens_still_ranks_by_price() {
    let ranker = ranker(tutorial_prices(), &board(), Unpriced::Warn);
    let mut route = tutorial_route(Strategy::CostWeighted);
    route.candidates.reverse(); // ollama, anthropic, openai
    let (names, _) = order(&ranker, &route, 0);
    assert_eq!(names, ["ollama", "openai", "anthropic"]);
}

#[test]
fn unpriced_candidates_rank_last_under_warn() {
    let prices = tutorial_prices().with_provider("ollama".into(), PricingBasis::Hosted);
    let ranker = ranker(prices, &board(), Unpriced::Warn);
    let mut route = tutorial_route(Strategy::CostWeighted);
    route.candidates.rotate_right(1); // ollama (now unpriced) declared first
    let (names, reason) = order(&ranker, &route, 8);
    assert_eq!(names, ["openai", "anthropic", "ollama"]);
    assert!(reason.ends_with("< ollama unpriced"), "{reason}");
}

#[test]
fn unpriced_candidates_are_dropped_under_reject_and_refused_when_none_is_left() {
    let prices = tutorial_prices().with_provider("ollama".into(), PricingBasis::Hosted);
    let ranker = ranker(prices, &board(), Unpriced::Reject);
    let (names, _) = order(&ranker, &tutorial_route(Strategy::Priority), 8);
    assert_eq!(names, ["openai", "anthropic"]);

    let mut only_unpriced = tutorial_route(Strategy::Priority);
    only_unpriced.candidates.drain(..2);
    let error = ranker
        .decide("gpt-4o-mini", &only_unpriced, 8, false)
        .expect_err("refused");
    assert_eq!(error.requested(), "gpt-4o-mini");
    assert_eq!(error.unpriced().len(), 1);
    assert!(
        error.to_string().contains("ollama (as `llama3.2`)"),
        "{error}"
    );
}

#[test]
fn unavailable_providers_rank_after_routable_ones() {
    let board = board();
    let ollama = board.get(&"ollama".into()).expect("on board");
    ollama.set_circuit(CircuitState::Open);
    let ranker = ranker(tutorial_prices(), &board, Unpriced::Warn);
    let (names, reason) = order(&ranker, &tutorial_route(Strategy::CostWeighted), 8);
    assert_eq!(names, ["openai", "anthropic", "ollama"]);
    assert!(reason.ends_with("< ollama $0 (circuit open)"), "{reason}");
}

// === priority ===

#[test]
fn priority_keeps_declared_order_and_skips_unhealthy_ones() {
    let board = board();
    let ranker = ranker(tutorial_prices(), &board, Unpriced::Warn);
    let route = tutorial_route(Strategy::Priority);
    let (names, reason) = order(&ranker, &route, 8);
    assert_eq!(names, ["openai", "anthropic", "ollama"]);
    assert_eq!(reason, "priority: openai > anthropic > ollama");

    board
        .get(&"openai".into())
        .expect("on board")
        .set_healthy(false);
    let (names, reason) = order(&ranker, &route, 8);
    assert_eq!(names, ["anthropic", "ollama", "openai"]);
    assert_eq!(reason, "priority: anthropic > ollama > openai (unhealthy)");
}

#[test]
fn an_unknown_strategy_means_priority_and_an_override_is_named() {
    let ranker = ranker(tutorial_prices(), &board(), Unpriced::Warn);
    let mut route = tutorial_route(Strategy::Priority);
    route.strategy = None;
    let decision = ranker
        .decide("gpt-4o-mini", &route, 8, true)
        .expect("decided");
    assert_eq!(
        decision.reason,
        "priority: openai > anthropic > ollama (X-Infermux-Strategy)"
    );
}

// === round_robin ===

#[test]
fn round_robin_cycles_through_healthy_candidates() {
    let board = board();
    let ranker = ranker(tutorial_prices(), &board, Unpriced::Warn);
    let route = tutorial_route(Strategy::RoundRobin);
    let firsts: Vec<String> = (0..6)
        .map(|_| order(&ranker, &route, 8).0.remove(0))
        .collect();
    assert_eq!(
        firsts,
        [
            "openai",
            "anthropic",
            "ollama",
            "openai",
            "anthropic",
            "ollama"
        ]
    );

    board
        .get(&"anthropic".into())
        .expect("on board")
        .set_circuit(CircuitState::Open);
    let rounds: Vec<Vec<String>> = (0..2).map(|_| order(&ranker, &route, 8).0).collect();
    // Turns 6 and 7 over the two healthy providers; the open one is always last.
    assert_eq!(rounds[0], ["openai", "ollama", "anthropic"]);
    assert_eq!(rounds[1], ["ollama", "openai", "anthropic"]);
    let (_, reason) = order(&ranker, &route, 8);
    assert_eq!(
        reason,
        "round_robin: turn 1 of 2 healthy: openai > ollama > anthropic (circuit open)"
    );
}

#[test]
fn round_robin_is_fair_under_concurrency() {
    let ranker = ranker(tutorial_prices(), &board(), Unpriced::Warn);
    let route = tutorial_route(Strategy::RoundRobin);
    let counts = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..300)
                        .map(|_| order(&ranker, &route, 8).0.remove(0))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut counts = std::collections::HashMap::<String, usize>::new();
        for handle in handles {
            for first in handle.join().expect("thread") {
                *counts.entry(first).or_default() += 1;
            }
        }
        counts
    });
    // 1200 turns over 3 candidates: each gets exactly a third.
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [400; 3]);
}

// === least_latency ===

#[test]
fn least_latency_explores_untried_providers_then_follows_the_average() {
    let board = board();
    let ranker = ranker(tutorial_prices(), &board, Unpriced::Warn);
    let route = tutorial_route(Strategy::LeastLatency);
    let status = |name: &str| board.get(&name.into()).expect("on board").clone();

    // Warm-up: nobody measured yet, declared order.
    assert_eq!(
        order(&ranker, &route, 8).0,
        ["openai", "anthropic", "ollama"]
    );
    status("openai").record_latency(Duration::from_millis(300));
    // Untried providers are explored before a measured one.
    let (names, reason) = order(&ranker, &route, 8);
    assert_eq!(names, ["anthropic", "ollama", "openai"]);
    assert_eq!(
        reason,
        "least_latency: anthropic untried < ollama untried < openai 300.0ms"
    );
    status("anthropic").record_latency(Duration::from_millis(50));
    status("ollama").record_latency(Duration::from_millis(120));
    assert_eq!(
        order(&ranker, &route, 8).0,
        ["anthropic", "ollama", "openai"]
    );

    // Anthropic slows down; the moving average follows.
    for _ in 0..10 {
        status("anthropic").record_latency(Duration::from_millis(900));
    }
    assert_eq!(
        order(&ranker, &route, 8).0,
        ["ollama", "openai", "anthropic"]
    );

    // The fastest provider is skipped while its circuit is open.
    status("ollama").set_circuit(CircuitState::Open);
    assert_eq!(
        order(&ranker, &route, 8).0,
        ["openai", "anthropic", "ollama"]
    );
}

#[test]
fn least_latency_ties_keep_declared_order() {
    let board = board();
    for status in board.iter() {
        status.record_latency(Duration::from_millis(10));
    }
    let ranker = ranker(tutorial_prices(), &board, Unpriced::Warn);
    assert_eq!(
        order(&ranker, &tutorial_route(Strategy::LeastLatency), 8).0,
        ["openai", "anthropic", "ollama"]
    );
}

#[test]
fn providers_missing_from_the_board_count_as_routable_and_untried() {
    let ranker = ranker(tutorial_prices(), &ProviderBoard::default(), Unpriced::Warn);
    assert_eq!(
        order(&ranker, &tutorial_route(Strategy::LeastLatency), 8).0,
        ["openai", "anthropic", "ollama"]
    );
}

#[test]
fn long_candidate_lists_are_cut_short_in_the_reason() {
    let mut route = tutorial_route(Strategy::Priority);
    route.candidates = (0..20)
        .map(|i| infermux_core::Candidate {
            provider: format!("p{i}").as_str().into(),
            upstream_model: "gpt-4o-mini".into(),
        })
        .collect();
    let ranker = ranker(tutorial_prices(), &board(), Unpriced::Warn);
    let (names, reason) = order(&ranker, &route, 8);
    assert_eq!(names.len(), 20);
    assert_eq!(
        reason,
        "priority: p0 > p1 > p2 > p3 > p4 > p5 > p6 > p7 ... +12 more"
    );
}
