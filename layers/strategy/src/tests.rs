//! The layer alone, over a `service_fn` inner service.

use std::sync::{Arc, Mutex};

use http::Response;
use infermux_core::{
    BoxError, Candidate, InferRequest, Price, PriceTable, PricingBasis, ProviderBoard,
    ProviderStatus, RequestBody, Strategy, chat::ChatRequest,
};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::{Ranker, StrategyLayer, Unpriced, UnpricedModel};

fn request(strategy: Strategy, candidates: &[(&str, &str)]) -> InferRequest {
    let body: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]
    }))
    .expect("valid chat");
    let mut request = InferRequest::new(RequestBody::Chat(body), "anonymous".into(), "r".into());
    request.estimate.prompt_tokens = 8;
    request.route.strategy = Some(strategy);
    request.route.candidates = candidates
        .iter()
        .map(|(p, m)| Candidate {
            provider: (*p).into(),
            upstream_model: (*m).into(),
        })
        .collect();
    request
}

fn prices() -> PriceTable {
    let mini = Price::per_million(0.15, 0.60, None, None).expect("valid");
    PriceTable::new([("gpt-4o-mini".into(), mini)])
        .with_provider("openai".into(), PricingBasis::Hosted)
        .with_provider("groq".into(), PricingBasis::Hosted)
        .with_provider("ollama".into(), PricingBasis::Free)
}

/// Runs `request` through the layer; returns the result and the providers the inner service
/// saw, in order.
async fn run(
    ranker: Ranker,
    request: InferRequest,
) -> (
    Result<Response<&'static str>, BoxError>,
    Option<Vec<String>>,
) {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let service = ServiceBuilder::new()
        .layer(StrategyLayer::new(ranker))
        .service(service_fn(move |request: InferRequest| {
            let order = request
                .route
                .candidates
                .iter()
                .map(|c| c.provider.to_string())
                .collect();
            *record.lock().expect("lock") = Some(order);
            async { Ok::<_, BoxError>(Response::new("ok")) }
        }));
    let result = service.oneshot(request).await;
    let order = seen.lock().expect("lock").take();
    (result, order)
}

#[tokio::test]
async fn candidates_reach_the_inner_service_ranked_and_the_reason_comes_back() {
    let ranker = Ranker::new(prices(), ProviderBoard::default(), Unpriced::Warn);
    let req = request(
        Strategy::CostWeighted,
        &[("openai", "gpt-4o-mini"), ("ollama", "llama3.2")],
    );
    let (result, order) = run(ranker, req).await;
    assert_eq!(order.expect("called"), ["ollama", "openai"]);
    let response = result.expect("served");
    assert_eq!(
        response.headers()["x-infermux-route-reason"],
        "cost_weighted: ollama $0 < openai $0.0000012"
    );
}

#[tokio::test]
async fn an_override_is_named_in_the_reason() {
    let ranker = Ranker::new(prices(), ProviderBoard::default(), Unpriced::Warn);
    let mut req = request(
        Strategy::Priority,
        &[("openai", "gpt-4o-mini"), ("ollama", "llama3.2")],
    );
    req.strategy_override = Some(Strategy::Priority);
    let (result, _) = run(ranker, req).await;
    assert_eq!(
        result.expect("served").headers()["x-infermux-route-reason"],
        "priority: openai > ollama (X-Infermux-Strategy)"
    );
}

#[tokio::test]
async fn all_unpriced_under_reject_is_refused_before_the_inner_service() {
    let ranker = Ranker::new(prices(), ProviderBoard::default(), Unpriced::Reject);
    let req = request(Strategy::CostWeighted, &[("groq", "mystery-model")]);
    let (result, order) = run(ranker, req).await;
    let error = result.expect_err("refused");
    assert!(error.is::<UnpricedModel>(), "{error}");
    assert!(order.is_none());
}

#[tokio::test(start_paused = true)]
async fn least_latency_follows_recorded_latency() {
    let board = ProviderBoard::new([
        ProviderStatus::new("openai".into(), "openai"),
        ProviderStatus::new("ollama".into(), "ollama"),
    ]);
    let ranker = Ranker::new(prices(), board.clone(), Unpriced::Warn);
    let candidates = [("openai", "gpt-4o-mini"), ("ollama", "llama3.2")];
    // Each provider's latency is measured on the paused clock, as dispatch would.
    for (name, delay) in [("openai", 40), ("ollama", 15)] {
        let started = tokio::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        board
            .get(&name.into())
            .expect("on board")
            .record_latency(started.elapsed());
    }
    let (result, order) = run(ranker, request(Strategy::LeastLatency, &candidates)).await;
    assert_eq!(order.expect("called"), ["ollama", "openai"]);
    assert_eq!(
        result.expect("served").headers()["x-infermux-route-reason"],
        "least_latency: ollama 15.0ms < openai 40.0ms"
    );
}

#[tokio::test]
async fn a_request_without_candidates_passes_through() {
    let ranker = Ranker::new(prices(), ProviderBoard::default(), Unpriced::Reject);
    let (result, order) = run(ranker, request(Strategy::CostWeighted, &[])).await;
    assert!(order.expect("called").is_empty());
    assert!(
        result
            .expect("served")
            .headers()
            .get("x-infermux-route-reason")
            .is_none()
    );
}
