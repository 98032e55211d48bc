//! infermux's budget and cost accounting in front of your own model handler, in your own
//! axum app.
//!
//! ```text
//! cargo run --example own_handler
//! curl -s localhost:3000/v1/chat/completions -H 'X-Infermux-Caller: alice' \
//!   -d '{"model": "my-model", "messages": [{"role": "user", "content": "hi"}]}'
//! ```
//!
//! Each answer costs alice $0.002 (`X-Infermux-Cost`), her monthly budget: the second
//! request is refused with 429 `budget_exceeded`.

mod common;

// docs/library.md: begin
use std::sync::Arc;

use infermux::prelude::*;
use tower::{ServiceBuilder, service_fn};

/// Your model: OpenAI-shaped JSON, the tokens it used, and who served it.
async fn my_model(request: InferRequest) -> Result<http::Response<InferBody>, BoxError> {
    let usage = Usage::new(1_000, 1_000);
    let json = r#"{"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "hello"}}]}"#;
    let mut response = http::Response::new(InferBody::full_with_usage(json, usage));
    let served = Served::new("my-llm", request.body.model());
    response.extensions_mut().insert(served);
    Ok(response)
}

/// Your app: alice may spend $0.002 a month on `my-model`, at $1 per 1M tokens.
fn app(store: Arc<MemoryStore>) -> axum::Router {
    let price = Price::per_million(1.0, 1.0, None, None).expect("valid price");
    let prices = PriceTable::default().with_price("my-llm".into(), "my-model", price);
    let models = ProviderModels::new("my-llm", ["my-model"]);
    let worst_case = WorstCase::new(ModelCatalog::new(vec![models]), prices.clone());
    let alice = BudgetPolicy::hard_stop(Money::from_usd(0.002).expect("valid amount"));
    let policies = BudgetPolicies::new([("alice".into(), alice)]);
    let llm = ServiceBuilder::new()
        .budget(store.clone(), policies, worst_case)
        .cost(store, prices)
        .service(service_fn(my_model));
    let llm = Ingress::new(llm, IngressSettings::new(1 << 20, ["my-model"]));
    axum::Router::new().route_service("/v1/chat/completions", llm)
}
// docs/library.md: end

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt::init();
    common::serve(app(Arc::new(MemoryStore::new())), "127.0.0.1:3000").await
}

#[cfg(test)]
mod tests {
    use http::{Method, StatusCode};

    use super::*;

    const CHAT: &str = r#"{"model": "my-model", "messages": [{"role": "user", "content": "hi"}]}"#;

    #[tokio::test]
    async fn alice_is_charged_then_refused_once_her_budget_is_spent() {
        let store = Arc::new(MemoryStore::new());
        let addr = common::spawn(app(store.clone())).await;
        let path = "/v1/chat/completions";

        let first = common::send(addr, Method::POST, path, "alice", CHAT).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.json);
        assert_eq!(first.headers["x-infermux-cost"], "0.002");
        assert_eq!(first.json["choices"][0]["message"]["content"], "hello");

        let second = common::send(addr, Method::POST, path, "alice", CHAT).await;
        assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(second.json["error"]["code"], "budget_exceeded");

        // Callers without a budget are accounted, never refused.
        let bob = common::send(addr, Method::POST, path, "bob", CHAT).await;
        assert_eq!(bob.status, StatusCode::OK);

        let month = Month::of(std::time::SystemTime::now());
        let alice = store.spent(&"alice".into(), month).await.expect("spent");
        assert_eq!(alice.to_plain_decimal(), "0.002");
        let summary = store.summary(month).await.expect("summary");
        assert_eq!(
            (summary.requests, summary.total.to_plain_decimal().as_str()),
            (2, "0.004")
        );
    }

    #[test]
    fn the_guide_shows_this_code() {
        common::assert_in_guide(&common::guide_excerpt(include_str!("own_handler.rs")));
    }
}
