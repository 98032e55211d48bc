//! The whole infermux router, mounted under `/llm` in an axum app of your own.
//!
//! ```text
//! cargo run --example mount_router
//! curl -s localhost:3000/llm/v1/chat/completions \
//!   -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}'
//! curl -s localhost:3000/llm-admin/_infermux/costs
//! ```
//!
//! The provider is infermux's built-in mock (no keys, no network); any config file works.

mod common;

// docs/library.md: begin
use axum::{Router, routing::get};
use infermux::{InferStack, Infermux};

/// The router's config: here inline, usually `infermux::config::load(path)`.
const CONFIG: &str = r#"
providers:
  - {name: mock, type: mock, models: [gpt-4o-mini]}
pricing:
  - {provider: mock, model: gpt-4o-mini, input: 0.15, output: 0.60}
"#;

/// Your app, with infermux's proxy under `/llm` and its management API under `/llm-admin`.
async fn app() -> Result<(Router, Infermux<impl InferStack>), Box<dyn std::error::Error>> {
    let config = infermux::config::parse(CONFIG, "embedded.yml", &|_| None)?;
    let mux = Infermux::from_config(&config).await?;
    let app = Router::new()
        .route("/", get(|| async { "my own app" }))
        .nest_service("/llm", mux.proxy())
        .nest_service("/llm-admin", mux.management());
    Ok((app, mux))
}
// docs/library.md: end

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let (app, mux) = app().await?;
    common::serve(app, "127.0.0.1:3000").await?;
    mux.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use http::{Method, StatusCode};

    use super::*;

    const CHAT: &str =
        r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#;

    #[tokio::test]
    async fn the_router_answers_under_its_prefix_beside_the_app_s_own_routes() {
        let (app, mux) = app().await.expect("router");
        let addr = common::spawn(app).await;

        let chat = common::send(
            addr,
            Method::POST,
            "/llm/v1/chat/completions",
            "alice",
            CHAT,
        );
        let chat = chat.await;
        assert_eq!(chat.status, StatusCode::OK, "{}", chat.json);
        assert_eq!(chat.headers["x-infermux-provider"], "mock");
        assert_eq!(chat.json["object"], "chat.completion");
        let cost: f64 = chat.headers["x-infermux-cost"]
            .to_str()
            .expect("cost")
            .parse()
            .expect("decimal");
        assert!(cost > 0.0);

        // Without `/v1` too, as OpenAI SDKs with a base URL of `.../llm` send it.
        let bare = common::send(addr, Method::POST, "/llm/chat/completions", "alice", CHAT).await;
        assert_eq!(bare.status, StatusCode::OK);

        let models = common::send(addr, Method::GET, "/llm/v1/models", "alice", "").await;
        assert_eq!(models.json["data"][0]["id"], "gpt-4o-mini");

        let own = common::send(addr, Method::GET, "/", "alice", "").await;
        assert_eq!(own.status, StatusCode::OK);

        let costs = common::send(addr, Method::GET, "/llm-admin/_infermux/costs", "", "").await;
        assert_eq!(costs.status, StatusCode::OK, "{}", costs.json);

        // The spend store holds exactly what the response said it cost.
        let month = infermux::core::Month::of(std::time::SystemTime::now());
        let store = mux.shared().accounting.store();
        let spent = store.spent(&"alice".into(), month).await.expect("spent");
        assert_eq!(
            spent,
            infermux::core::Money::from_usd(2.0 * cost).expect("amount")
        );
        mux.shutdown().await.expect("flushed");
    }

    #[test]
    fn the_guide_shows_this_code() {
        common::assert_in_guide(&common::guide_excerpt(include_str!("mount_router.rs")));
    }
}
