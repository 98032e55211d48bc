//! The layer alone, over a service that answers with the model it was asked for.

use std::time::{Duration, Instant};

use http::Response;
use infermux_core::{
    BoxError, InferRequest, ModelCatalog, ModelSpec, ModelSpecs, Price, PriceTable, ProviderModels,
    RequestBody, Strategy, chat::ChatRequest,
};
use tower::{ServiceExt, service_fn};

use crate::{NoCapableModel, Scorer, VirtualModelLayer, VirtualSpec, VirtualTable};

fn table(specs: Vec<VirtualSpec>) -> VirtualTable {
    let catalog = ModelCatalog::new(vec![
        ProviderModels::new(
            "openai",
            ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"],
        ),
        ProviderModels::new("local", ["llama3.2"]),
    ]);
    let price = |i, o| Price::per_million(i, o, None, None).expect("price");
    let prices = PriceTable::default()
        .with_price("openai".into(), "gpt-4o", price(2.5, 10.0))
        .with_price("openai".into(), "gpt-4o-mini", price(0.15, 0.6))
        .with_price("openai".into(), "text-embedding-3-small", price(0.02, 0.0))
        .with_price("local".into(), "llama3.2", Price::FREE);
    let model_specs = ModelSpecs::new([
        (
            "gpt-4o".into(),
            ModelSpec::chat(128_000, 16_384).multimodal().strong(),
        ),
        (
            "gpt-4o-mini".into(),
            ModelSpec::chat(128_000, 16_384).multimodal(),
        ),
        (
            "llama3.2".into(),
            ModelSpec::chat(8_192, 4_096).with_tools(),
        ),
        (
            "text-embedding-3-small".into(),
            ModelSpec::embeddings(8_191),
        ),
    ]);
    VirtualTable::new(specs, &catalog, &prices, &model_specs, Scorer::default())
}

fn request(body: serde_json::Value, prompt_tokens: u64) -> InferRequest {
    let body = if body.get("input").is_some() {
        RequestBody::Embeddings(serde_json::from_value(body).expect("embeddings"))
    } else {
        RequestBody::Chat(serde_json::from_value::<ChatRequest>(body).expect("chat"))
    };
    let mut request = InferRequest::new(body, "a".into(), "r".into());
    request.estimate.prompt_tokens = prompt_tokens;
    request
}

fn user(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

async fn served(
    layer: &VirtualModelLayer,
    request: InferRequest,
) -> Result<(String, Response<()>), BoxError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let service = tower::Layer::layer(
        layer,
        service_fn(move |request: InferRequest| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(request);
                Ok::<_, BoxError>(Response::new(()))
            }
        }),
    );
    let response = service.oneshot(request).await?;
    let seen = rx.recv().expect("the inner service was called");
    Ok((seen.body.model().to_owned(), response))
}

#[tokio::test]
async fn cheapest_skips_models_that_cannot_serve_and_records_the_route() {
    let layer = VirtualModelLayer::new(table(vec![VirtualSpec::cheapest(
        "economy",
        [
            "gpt-4o",
            "gpt-4o-mini",
            "llama3.2",
            "text-embedding-3-small",
        ],
    )]));
    // Free llama3.2 wins a short prompt.
    let (model, response) = served(&layer, request(user("economy", "hi"), 8))
        .await
        .expect("ok");
    assert_eq!(model, "llama3.2");
    assert_eq!(response.headers()["x-infermux-virtual-model"], "economy");
    assert!(response.headers().get("x-infermux-tier").is_none());
    // Its 8k window cannot hold 10k tokens: gpt-4o-mini is next.
    let (model, _) = served(&layer, request(user("economy", "hi"), 10_000))
        .await
        .expect("ok");
    assert_eq!(model, "gpt-4o-mini");
    // An embeddings request goes to the embeddings model.
    let embed = serde_json::json!({"model": "economy", "input": "hi"});
    let (model, _) = served(&layer, request(embed, 2)).await.expect("ok");
    assert_eq!(model, "text-embedding-3-small");
    // Other models pass through untouched, with no header.
    let (model, response) = served(&layer, request(user("gpt-4o", "hi"), 8))
        .await
        .expect("ok");
    assert_eq!(model, "gpt-4o");
    assert!(response.headers().is_empty());
}

#[tokio::test]
async fn no_able_model_is_refused_naming_what_each_lacked() {
    let layer = VirtualModelLayer::new(table(vec![VirtualSpec::cheapest("local", ["llama3.2"])]));
    let image = serde_json::json!({"model": "local", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    let error = served(&layer, request(image, 100))
        .await
        .expect_err("refused");
    let refusal = error.downcast_ref::<NoCapableModel>().expect("typed");
    assert_eq!(refusal.missing(), "llama3.2 lacks images");
}

#[tokio::test]
async fn complexity_scores_tiers_and_the_cost_header_picks_the_cheapest() {
    let auto = VirtualSpec::complexity("auto", [vec!["gpt-4o-mini"], vec!["gpt-4o"]]);
    let layer = VirtualModelLayer::new(table(vec![auto]));
    let (model, response) = served(
        &layer,
        request(user("auto", "Translate hello into French."), 12),
    )
    .await
    .expect("ok");
    assert_eq!(model, "gpt-4o-mini");
    assert_eq!(response.headers()["x-infermux-tier"], "0");
    let hard = "Prove that the halting problem is undecidable and explain the diagonal argument step by step.";
    let (model, response) = served(&layer, request(user("auto", hard), 30))
        .await
        .expect("ok");
    assert_eq!(model, "gpt-4o");
    assert_eq!(response.headers()["x-infermux-tier"], "1");
    let reason = response.headers()["x-infermux-route-reason"]
        .to_str()
        .expect("ascii");
    assert!(reason.contains("maths:"), "{reason}");
    // The same request with X-Infermux-Strategy: cost is priced like `economy`.
    let mut cost = request(user("auto", hard), 30);
    cost.strategy_override = Some(Strategy::CostWeighted);
    let (model, response) = served(&layer, cost).await.expect("ok");
    assert_eq!(model, "gpt-4o-mini");
    assert!(
        response.headers()["x-infermux-route-reason"]
            .to_str()
            .expect("ascii")
            .starts_with("pick=cheapest (X-Infermux-Strategy: cost)")
    );
}

#[test]
fn sessions_move_up_only_and_expire() {
    let mut auto = VirtualSpec::complexity("auto", [vec!["gpt-4o-mini"], vec!["gpt-4o"]]);
    auto.session_ttl = Duration::from_secs(60);
    let table = table(vec![auto]);
    let now = Instant::now();
    let with_session = |text: &str| {
        let mut r = request(user("auto", text), 20);
        r.session = Some("s1".into());
        r
    };
    let resolve = |r: &InferRequest, at| table.resolve(r, at).expect("virtual").expect("able");
    let hard = "Design a distributed consensus protocol and prove its safety step by step.";
    assert_eq!(&*resolve(&with_session(hard), now).model, "gpt-4o");
    let light = resolve(&with_session("hi"), now + Duration::from_secs(30));
    assert_eq!(&*light.model, "gpt-4o");
    assert!(light.reason.contains("session=kept"), "{}", light.reason);
    // 60 s after the last use, the session is gone.
    let later = resolve(&with_session("hi"), now + Duration::from_secs(91));
    assert_eq!(&*later.model, "gpt-4o-mini");
}

#[test]
fn a_clamped_output_limit_fits_the_chosen_model() {
    let table = table(vec![VirtualSpec::cheapest("economy", ["llama3.2"])]);
    let mut body = user("economy", "hi");
    body["max_tokens"] = 6_000.into();
    // 8 + 6000 fits llama3.2's 8k window, but its output maximum is 4096.
    let resolution = table
        .resolve(&request(body, 8), Instant::now())
        .expect("virtual")
        .expect("able");
    assert_eq!(resolution.clamp_output, Some(4_096));
}
