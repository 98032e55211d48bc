//! `StrategyLayer`: orders a request's candidate providers, and says why.
//!
//! The route-group layer above fills each request's candidates (in declared order) and its
//! strategy; this layer reorders the candidates so that the first is the choice and the rest,
//! ranked by the same strategy, are the failover order. Dispatch below tries them in order.
//!
//! | strategy | first choice |
//! | --- | --- |
//! | `priority` | declared order |
//! | `round_robin` | the next healthy candidate in turn, per route (group or model); lock-free |
//! | `least_latency` | the lowest moving average of recent latency (time to first byte for streams); providers not measured yet are tried first, so every one gets measured |
//! | `cost_weighted` | the lowest estimated cost: prompt tokens x the input price of the model that provider would be sent; a $0 provider always wins; unpriced providers rank last |
//!
//! With every strategy, providers that are not routable (failed health check or open
//! circuit, read from the [`ProviderBoard`](infermux_core::ProviderBoard)) rank after the
//! routable ones, and ties keep declared order.
//!
//! Responses carry `X-Infermux-Route-Reason`, one short line with the ranking and the figure
//! each strategy ranked by, such as
//! `cost_weighted: ollama $0 < openai $0.0000012 < anthropic $0.0000064`; a strategy chosen by
//! the client's `X-Infermux-Strategy` header is marked `(X-Infermux-Strategy)`.
//!
//! # Deciding and enforcing
//!
//! The scoring is the plain [`Ranker`] (unit-tested on its own); [`Rank`] is a thin service
//! that applies it to each request.
//!
//! # Refusals are errors
//!
//! Under `unpriced: reject` ([`Unpriced::Reject`]) unpriced candidates are dropped, and a
//! request left with none is refused with an [`UnpricedModel`] error (400 `unpriced_model` at
//! the edge) before anything is sent.
//!
//! # Ordering
//!
//! Below the route-group layer (which fills the candidates); above dispatch. A request with no
//! candidates (no routing layer above) passes through untouched.
//!
//! # Example
//!
//! ```
//! use infermux_core::{
//!     Candidate, InferBody, InferRequest, Price, PriceTable, PricingBasis, ProviderBoard,
//!     RequestBody, Strategy, chat::ChatRequest,
//! };
//! use infermux_strategy::{Ranker, StrategyLayer, Unpriced};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mini = Price::per_million(0.15, 0.60, None, None).unwrap();
//! let prices = PriceTable::new([("gpt-4o-mini".into(), mini)])
//!     .with_provider("openai".into(), PricingBasis::Hosted)
//!     .with_provider("ollama".into(), PricingBasis::Free);
//! let ranker = Ranker::new(prices, ProviderBoard::default(), Unpriced::Warn);
//! let service = ServiceBuilder::new()
//!     .layer(StrategyLayer::new(ranker))
//!     .service(service_fn(|request: InferRequest| async move {
//!         assert_eq!(request.route.candidates[0].provider.as_str(), "ollama");
//!         Ok::<_, infermux_core::BoxError>(http::Response::new(InferBody::full("{}")))
//!     }));
//!
//! let body: ChatRequest = serde_json::from_str(
//!     r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
//! )
//! .unwrap();
//! let mut request = InferRequest::new(RequestBody::Chat(body), "anonymous".into(), "r1".into());
//! request.estimate.prompt_tokens = 8;
//! request.route.strategy = Some(Strategy::CostWeighted);
//! request.route.candidates = vec![
//!     Candidate { provider: "openai".into(), upstream_model: "gpt-4o-mini".into() },
//!     Candidate { provider: "ollama".into(), upstream_model: "llama3.2".into() },
//! ];
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(
//!     response.headers()["x-infermux-route-reason"],
//!     "cost_weighted: ollama $0 < openai $0.0000012"
//! );
//! # }
//! ```

mod error;
pub mod future;
mod layer;
mod rank;
mod service;
mod turns;

pub use error::UnpricedModel;
pub use layer::StrategyLayer;
pub use rank::{Decision, Ranker, Unpriced};
pub use service::Rank;

/// Response header explaining, in one line, why the candidates were ordered as they were.
pub const ROUTE_REASON_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-route-reason");

#[cfg(test)]
mod tests;
