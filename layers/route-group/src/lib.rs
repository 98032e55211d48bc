//! `RouteGroupLayer`: which providers may serve a request, and which strategy orders them.
//!
//! The first routing layer of the stack. For each request it looks the requested model up in
//! a [`RouteTable`] (built once at start-up from the providers' `models` and
//! `model_aliases` and the config's `routing.groups`) and fills
//! [`InferRequest::route`](infermux_core::InferRequest::route):
//!
//! * `group`: the route group whose `models` name the requested model, if any;
//! * `candidates`: the providers that can serve the model (restricted to the group's
//!   `providers`, in the group's order, when a group matched; else every provider, in
//!   declared order), each with the model name it is to be sent (its alias, if any);
//! * `strategy`: the client's `X-Infermux-Strategy` override, else the group's strategy,
//!   else the default `routing.strategy`.
//!
//! A request whose `route.group` an upper layer already set (a virtual model limited to a
//! group) is routed within that group, whether or not the group lists the model
//! ([`RouteTable::route_in_group`]).
//!
//! The strategy layer below reorders the candidates; dispatch tries them in that order.
//! Responses that come back carry `X-Infermux-Route-Group: <group>` when a group matched.
//!
//! # Refusals are errors
//!
//! A model no candidate serves is refused with a [`ModelNotServed`] error (404
//! `model_not_found` at the edge), not a response: the edge renders every error in one place,
//! and the layers above (budgets) must see that nothing was sent. A group model that none of
//! the group's providers serves is refused the same way rather than sent outside the group.
//!
//! # Ordering
//!
//! Below any layer that may rewrite the requested model (a budget's `model_override`, a
//! virtual model), above the strategy layer.
//!
//! # Example
//!
//! ```
//! use infermux_core::{
//!     InferBody, InferRequest, ModelCatalog, ProviderModels, RequestBody, Strategy,
//!     embeddings::EmbeddingsRequest,
//! };
//! use infermux_route_group::{GroupSpec, RouteGroupLayer, RouteTable};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let catalog = ModelCatalog::new(vec![ProviderModels {
//!     provider: "openai".into(),
//!     models: vec!["text-embedding-3-small".into()],
//!     aliases: vec![],
//! }]);
//! let groups = [GroupSpec {
//!     name: "embeddings".into(),
//!     models: vec!["text-embedding-3-small".into()],
//!     strategy: Some(Strategy::RoundRobin),
//!     providers: vec!["openai".into()],
//! }];
//! let table = RouteTable::new(&catalog, Strategy::CostWeighted, &groups);
//! let service = ServiceBuilder::new()
//!     .layer(RouteGroupLayer::new(table))
//!     .service(service_fn(|request: InferRequest| async move {
//!         assert_eq!(request.route.candidates[0].provider.as_str(), "openai");
//!         assert_eq!(request.route.strategy, Some(Strategy::RoundRobin));
//!         Ok::<_, infermux_core::BoxError>(http::Response::new(InferBody::full("{}")))
//!     }));
//! let body: EmbeddingsRequest =
//!     serde_json::from_str(r#"{"model": "text-embedding-3-small", "input": "hi"}"#).unwrap();
//! let request = InferRequest::new(RequestBody::Embeddings(body), "anonymous".into(), "r1".into());
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.headers()["x-infermux-route-group"], "embeddings");
//! # }
//! ```

mod error;
pub mod future;
mod layer;
mod service;
mod table;

pub use error::ModelNotServed;
pub use layer::RouteGroupLayer;
pub use service::RouteGroup;
pub use table::{GroupSpec, RouteTable, Routed};

/// Response header naming the route group that matched the requested model.
pub const ROUTE_GROUP_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-route-group");

#[cfg(test)]
mod tests;
