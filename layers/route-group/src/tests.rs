//! The layer alone, over a `service_fn` inner service.

use std::sync::{Arc, Mutex};

use http::Response;
use infermux_core::{
    BoxError, InferRequest, ModelCatalog, ProviderModels, RequestBody, RouteContext, Strategy,
    chat::ChatRequest,
};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use crate::{GroupSpec, ModelNotServed, RouteGroupLayer, RouteTable};

fn table() -> RouteTable {
    let catalog = ModelCatalog::new(vec![
        ProviderModels {
            provider: "openai".into(),
            models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
            aliases: vec![],
        },
        ProviderModels {
            provider: "anthropic".into(),
            models: vec![],
            aliases: vec![("gpt-4o".into(), "claude-opus-4-5".into())],
        },
    ]);
    let groups = [GroupSpec {
        name: "reasoning".into(),
        models: vec!["gpt-4o".into()],
        strategy: Some(Strategy::Priority),
        providers: vec![],
    }];
    RouteTable::new(&catalog, Strategy::CostWeighted, &groups)
}

fn chat(model: &str, strategy_override: Option<Strategy>) -> InferRequest {
    let body: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": model, "messages": [{"role": "user", "content": "hi"}]
    }))
    .expect("valid chat");
    let mut request = InferRequest::new(RequestBody::Chat(body), "anonymous".into(), "r".into());
    request.strategy_override = strategy_override;
    request
}

/// Runs `request` through the layer over an inner service that records the route it saw.
async fn run(
    request: InferRequest,
) -> (
    Result<Response<&'static str>, BoxError>,
    Option<RouteContext>,
) {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let service = ServiceBuilder::new()
        .layer(RouteGroupLayer::new(table()))
        .service(service_fn(move |request: InferRequest| {
            *record.lock().expect("lock") = Some(request.route);
            async { Ok::<_, BoxError>(Response::new("ok")) }
        }));
    let result = service.oneshot(request).await;
    let route = seen.lock().expect("lock").take();
    (result, route)
}

#[tokio::test]
async fn a_grouped_model_is_routed_and_named_on_the_response() {
    let (result, route) = run(chat("gpt-4o", None)).await;
    let response = result.expect("served");
    assert_eq!(response.headers()["x-infermux-route-group"], "reasoning");
    let route = route.expect("inner called");
    assert_eq!(route.group.as_deref(), Some("reasoning"));
    assert_eq!(route.strategy, Some(Strategy::Priority));
    let providers: Vec<&str> = route
        .candidates
        .iter()
        .map(|c| c.provider.as_str())
        .collect();
    assert_eq!(providers, ["openai", "anthropic"]);
}

#[tokio::test]
async fn an_ungrouped_model_has_no_group_header_and_the_default_strategy() {
    let (result, route) = run(chat("gpt-4o-mini", None)).await;
    assert!(
        result
            .expect("served")
            .headers()
            .get("x-infermux-route-group")
            .is_none()
    );
    assert_eq!(
        route.expect("inner called").strategy,
        Some(Strategy::CostWeighted)
    );
}

#[tokio::test]
async fn the_request_override_wins_over_the_group() {
    let (_, route) = run(chat("gpt-4o", Some(Strategy::RoundRobin))).await;
    assert_eq!(
        route.expect("inner called").strategy,
        Some(Strategy::RoundRobin)
    );
}

#[tokio::test]
async fn an_unknown_model_is_refused_without_calling_the_inner_service() {
    let (result, route) = run(chat("gpt-9", None)).await;
    let error = result.expect_err("refused");
    assert!(error.is::<ModelNotServed>(), "{error}");
    assert!(route.is_none());
}

#[tokio::test]
async fn a_group_set_above_routes_within_it_even_for_models_it_does_not_list() {
    // gpt-4o-mini is not a model of `reasoning`, but a virtual model limited to the group
    // set it: the group's providers, strategy and header apply.
    let mut request = chat("gpt-4o-mini", None);
    request.route.group = Some("reasoning".into());
    let (response, route) = run(request).await;
    let response = response.expect("routed");
    assert_eq!(response.headers()["x-infermux-route-group"], "reasoning");
    let route = route.expect("called");
    assert_eq!(route.strategy, Some(Strategy::Priority));
    assert_eq!(route.candidates.len(), 1);
    assert_eq!(route.candidates[0].provider.as_str(), "openai");
}
