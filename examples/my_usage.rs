//! Show your users what they spent: a `/my-usage` route of your own, read from infermux's
//! spend store, beside the router that fills it.
//!
//! ```text
//! cargo run --example my_usage
//! curl -s localhost:3000/llm/v1/chat/completions -H 'X-Infermux-Caller: alice' \
//!   -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
//! curl -s localhost:3000/my-usage -H 'X-Infermux-Caller: alice'
//! ```

mod common;

// docs/library.md: begin
use std::{sync::Arc, time::SystemTime};

use axum::{Json, Router, extract::State, http::HeaderMap, http::StatusCode, routing::get};
use infermux::{ingress::CALLER_HEADER, prelude::*};

/// The caller's spend this month, straight from the spend store.
async fn my_usage(
    State(store): State<Arc<dyn SpendStore>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let caller = match headers.get(CALLER_HEADER).and_then(|v| v.to_str().ok()) {
        Some(name) => Caller::new(name),
        None => return Err(StatusCode::UNAUTHORIZED),
    };
    let month = Month::of(SystemTime::now());
    let unavailable = |_| StatusCode::SERVICE_UNAVAILABLE;
    let spent = store.spent(&caller, month).await.map_err(unavailable)?;
    let summary = store.summary(month).await.map_err(unavailable)?;
    let totals = summary.callers.get(&caller).copied().unwrap_or_default();
    Ok(Json(serde_json::json!({
        "caller": caller.as_str(),
        "month": month.to_string(),
        "spent_usd": spent.to_plain_decimal(),
        "requests": totals.requests,
        "tokens": totals.prompt_tokens + totals.completion_tokens,
    })))
}

/// The router under `/llm`, and `/my-usage` reading the store it writes.
fn app(mux: &Infermux<impl InferStack>) -> Router {
    let store = mux.shared().accounting.store().clone();
    Router::new()
        .route("/my-usage", get(my_usage))
        .with_state(store)
        .nest_service("/llm", mux.proxy())
}
// docs/library.md: end

/// The router's config: a priced mock provider.
const CONFIG: &str = r#"
providers:
  - {name: mock, type: mock, models: [gpt-4o-mini]}
pricing:
  - {provider: mock, model: gpt-4o-mini, input: 0.15, output: 0.60}
"#;

async fn infermux() -> Result<Infermux<impl InferStack>, Box<dyn std::error::Error>> {
    let config = infermux::config::parse(CONFIG, "embedded.yml", &|_| None)?;
    Ok(Infermux::from_config(&config).await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let mux = infermux().await?;
    common::serve(app(&mux), "127.0.0.1:3000").await?;
    mux.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    const CHAT: &str =
        r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#;

    #[tokio::test]
    async fn each_caller_sees_exactly_what_the_proxy_charged_them() {
        let mux = infermux().await.expect("router");
        let addr = common::spawn(app(&mux)).await;
        let path = "/llm/v1/chat/completions";
        let mut charged = Vec::new();
        for _ in 0..2 {
            let answer = common::send(addr, Method::POST, path, "alice", CHAT).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
            let cost = answer.headers["x-infermux-cost"].to_str().expect("cost");
            charged.push(Money::from_usd(cost.parse().expect("decimal")).expect("amount"));
        }

        let alice = common::send(addr, Method::GET, "/my-usage", "alice", "").await;
        assert_eq!(alice.status, StatusCode::OK);
        let total: Money = charged.into_iter().sum();
        assert_eq!(alice.json["spent_usd"], total.to_plain_decimal());
        assert_eq!(alice.json["requests"], 2);

        let bob = common::send(addr, Method::GET, "/my-usage", "bob", "").await;
        assert_eq!(
            (bob.json["spent_usd"].as_str(), &bob.json["requests"]),
            (Some("0"), &0.into())
        );
        mux.shutdown().await.expect("flushed");
    }

    #[test]
    fn the_guide_shows_this_code() {
        common::assert_in_guide(&common::guide_excerpt(include_str!("my_usage.rs")));
    }
}
