//! infermux: an OpenAI-compatible inference router built from tower layers.
//!
//! Applications send OpenAI-shaped requests; infermux picks a provider (OpenAI, Anthropic,
//! Ollama, any OpenAI-compatible server, or the built-in mock), translates the request,
//! forwards it, and fails over when a provider breaks.
//!
//! The binary is a thin shell around this library: [`config`] parses the file,
//! [`stack::build`] assembles the service stack, and [`server::Server`] serves it.
//!
//! # As a library
//!
//! Each concern is a tower layer you can put in your own stack, built in code from plain
//! parameters and handles (the [`guide`] walks through it):
//!
//! * [`layers`] re-exports the layer crates: [`layers::budget`], [`layers::route_group`],
//!   [`layers::strategy`], [`layers::cost`], [`layers::breaker`] and the Redis spend store
//!   [`layers::spend_redis`]; [`core`] is the vocabulary they speak ([`core::InferRequest`],
//!   [`core::Served`], [`core::Money`], [`core::PriceTable`], [`core::SpendStore`], ...).
//! * [`prelude`] brings the most used of them into scope at once.
//! * [`InfermuxServiceBuilderExt`] adds them to a `tower::ServiceBuilder` as methods.
//! * [`ingress::Ingress`] turns OpenAI-shaped HTTP into the typed request the layers read.
//! * [`Infermux::from_config`] assembles the whole router, as the binary does, to mount as
//!   one route of your axum or hyper server.
//!
//! ```
//! use std::sync::Arc;
//! use infermux::{InfermuxServiceBuilderExt, prelude::*};
//! use tower::{ServiceBuilder, service_fn};
//!
//! let store = Arc::new(MemoryStore::new());
//! let prices = PriceTable::default();
//! let worst_case = WorstCase::new(ModelCatalog::default(), prices.clone());
//! let llm = ServiceBuilder::new()
//!     .budget(store.clone(), BudgetPolicies::default(), worst_case)
//!     .cost(store, prices)
//!     .service(service_fn(|_: InferRequest| async {
//!         Ok::<_, BoxError>(http::Response::new(InferBody::full("{}")))
//!     }));
//! let _http = Ingress::new(llm, IngressSettings::new(1 << 20, ["my-model"]));
//! ```

pub mod accounting;
pub mod body_deadline;
mod builder_ext;
pub mod cli;
pub mod config;
pub mod cors;
pub mod edge;
mod embed;
pub mod error;
mod head_timeout;
pub mod health;
mod idle;
pub mod ingress;
pub mod key_access;
mod keys_cli;
mod local_ollama;
pub mod management;
pub mod prelude;
pub mod pricing;
pub mod provider;
pub mod request_ids;
pub mod request_log;
pub mod resilience;
pub mod server;
pub mod stack;
pub mod telemetry;
pub mod tokens;
pub mod virtual_models;
mod watchdog;
mod whole_body;

pub use builder_ext::InfermuxServiceBuilderExt;
pub use embed::{InferStack, Infermux};
pub use infermux_core as core;

/// The guide to embedding infermux (`docs/library.md`); its code blocks are compiled here and
/// run, over loopback, as the `examples/`.
#[doc = include_str!("../docs/library.md")]
pub mod guide {}

/// The layer crates of the stack, each usable alone over your own inner service.
pub mod layers {
    pub use infermux_breaker as breaker;
    pub use infermux_budget as budget;
    pub use infermux_cost as cost;
    pub use infermux_keys as keys;
    pub use infermux_request_log as request_log;
    pub use infermux_route_group as route_group;
    pub use infermux_spend_redis as spend_redis;
    pub use infermux_strategy as strategy;
    pub use infermux_virtual_model as virtual_model;
}
