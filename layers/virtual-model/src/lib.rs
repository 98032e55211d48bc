//! `VirtualModelLayer`: names like `economy`, `auto` and `smart-select` that resolve, per
//! request, to a real model.
//!
//! A client asks for a virtual model; this layer picks the real model, rewrites the request's
//! `model`, and the layers below route it as if the client had asked for that model. The
//! decision is local and takes microseconds: no classifier call, no model download.
//!
//! 1. **Able to serve.** Each model behind the virtual model is checked against what the
//!    request needs ([`ModelSpecs`](infermux_core::ModelSpecs), per provider): chat or
//!    embeddings, tools, images, structured output, and a context window that holds the
//!    prompt plus the output (the client's limit, else the model's typical answer, never more
//!    than its maximum). When none is able the request fails with [`NoCapableModel`] (400
//!    `no_capable_model`), naming what each model lacked.
//! 2. **Pick.** `cheapest` ([`Pick::Cheapest`]) takes the able model with the lowest estimated
//!    cost: prompt tokens x input price plus the assumed output x output price, at the
//!    cheapest provider serving it (free local models tie-break by their list price).
//!    `complexity` ([`Pick::Complexity`]) scores the request ([`Scorer`]: length, code, maths,
//!    reasoning and multi-step markers, tools, images, structured output, conversation depth,
//!    requested reasoning effort), takes the tier of the score, and the cheapest able model in
//!    it; a tier with no able model moves the request up (then down). `X-Infermux-Strategy:
//!    cost` on a `complexity` model picks like `cheapest`.
//! 3. **Sessions.** A request with a session (`InferRequest::session`, from
//!    `X-Infermux-Session` or a protocol's own field) keeps the session's tier and model for
//!    the virtual model's `session_ttl`, moving up only, so provider prompt caches stay warm.
//!    Sessions are bounded in memory (hashed keys, two generations).
//! 4. **Explained.** The response carries `X-Infermux-Virtual-Model`, `X-Infermux-Tier` (for
//!    `complexity` picks) and `X-Infermux-Route-Reason`
//!    (`tier=strong score=0.91 signals=tokens:412,code:3,steps:2 model=gpt-4o est_cost=$0.0061`),
//!    and the request carries [`VirtualRoute`](infermux_core::VirtualRoute) for the request
//!    log. A `cheapest` pick also asks the strategy layer to rank providers by cost; a
//!    virtual model limited to a route group sets `route.group` for the route-group layer.
//!
//! Requests for any other model pass through untouched.
//!
//! # Ordering
//!
//! Below the budget layer, above route-group. A budget's `model_override` may name a virtual
//! model, so the override must be rewritten before this layer resolves it. The budget
//! layer's reservation, taken before the real model is known, prices a virtual model at its
//! dearest member (the budget's `WorstCase` is told each virtual model's members): it is a
//! worst case, settled with the real cost. Keys' allow-lists, above the budget, see the
//! virtual name in the body, and everything below sees the real model.
//!
//! # Refusals are errors
//!
//! [`NoCapableModel`] is an error, rendered at the edge like every other, so the layers above
//! see that nothing was sent.
//!
//! # Example
//!
//! ```
//! use infermux_core::{
//!     InferBody, InferRequest, ModelCatalog, ModelSpec, ModelSpecs, Price, PriceTable,
//!     ProviderModels, RequestBody, chat::ChatRequest,
//! };
//! use infermux_virtual_model::{Scorer, VirtualModelLayer, VirtualSpec, VirtualTable};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let catalog = ModelCatalog::new(vec![ProviderModels::new("openai", ["gpt-4o", "gpt-4o-mini"])]);
//! let price = |i, o| Price::per_million(i, o, None, None).expect("price");
//! let prices = PriceTable::default()
//!     .with_price("openai".into(), "gpt-4o", price(2.5, 10.0))
//!     .with_price("openai".into(), "gpt-4o-mini", price(0.15, 0.6));
//! let specs = ModelSpecs::new([
//!     ("gpt-4o".into(), ModelSpec::chat(128_000, 16_384).multimodal().strong()),
//!     ("gpt-4o-mini".into(), ModelSpec::chat(128_000, 16_384).multimodal()),
//! ]);
//! let table = VirtualTable::new(
//!     vec![VirtualSpec::cheapest("economy", ["gpt-4o", "gpt-4o-mini"])],
//!     &catalog,
//!     &prices,
//!     &specs,
//!     Scorer::default(),
//! );
//! let service = ServiceBuilder::new()
//!     .layer(VirtualModelLayer::new(table))
//!     .service(service_fn(|request: InferRequest| async move {
//!         assert_eq!(request.body.model(), "gpt-4o-mini");
//!         Ok::<_, infermux_core::BoxError>(http::Response::new(InferBody::full("{}")))
//!     }));
//! let chat: ChatRequest = serde_json::from_str(
//!     r#"{"model": "economy", "messages": [{"role": "user", "content": "Is this review positive?"}]}"#,
//! ).expect("chat");
//! let request = InferRequest::new(RequestBody::Chat(chat), "anonymous".into(), "r1".into());
//! let response = service.oneshot(request).await.expect("served");
//! assert_eq!(response.headers()["x-infermux-virtual-model"], "economy");
//! assert!(response.headers()["x-infermux-route-reason"].to_str().unwrap().contains("model=gpt-4o-mini"));
//! # }
//! ```

mod error;
pub mod future;
mod layer;
mod markers;
mod needs;
mod score;
mod service;
mod session;
mod table;
mod weights;

pub use error::NoCapableModel;
pub use layer::VirtualModelLayer;
pub use score::{Effort, SCAN_BUDGET, Scored, Scorer, Signals};
pub use service::VirtualModel;
pub use session::DEFAULT_SESSION_CAPACITY;
pub use table::{
    DEFAULT_SESSION_TTL, GroupLimit, Pick, Resolution, TierSpec, VirtualSpec, VirtualTable,
};
pub use weights::Weights;
#[doc(hidden)]
pub use weights::fit;

/// Response header naming the virtual model the client asked for.
pub const VIRTUAL_MODEL_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-virtual-model");
/// Response header naming the tier a `complexity` pick chose.
pub const TIER_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-tier");
/// Response header explaining the pick: tier, score, signals, model, estimated cost.
pub const ROUTE_REASON_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-route-reason");
/// Request header naming the client's session.
pub const SESSION_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-session");

#[cfg(test)]
mod tests;
