//! Cost accounting: every response's usage, priced exactly and recorded once.
//!
//! [`CostLayer`] sits right above dispatch. It takes the request's budget reservation (if
//! the budget layer made one) and, when the response comes back:
//!
//! * **complete responses** (chat completions, embeddings): the provider's usage is known at
//!   once. It is priced with the [`PriceTable`](infermux_core::PriceTable) for the provider
//!   and the model actually sent (cached input reads and cache writes at their own prices,
//!   reasoning tokens as the output they are billed as), recorded as one
//!   [`LedgerEntry`](infermux_core::LedgerEntry) in the
//!   [`SpendStore`](infermux_core::SpendStore) — which settles the reservation in the same
//!   step — and the response is returned once the entry is durable, with the exact cost in
//!   `X-Infermux-Cost`.
//! * **streams**: `X-Infermux-Cost` is the estimate at send time (the prompt estimate at the
//!   input price of the provider and model that serve it), and the body is wrapped in a
//!   [`ResponseBody`] that records the cost when the stream completes (the provider's usage,
//!   which infermux always asks for), breaks, or is dropped by the client (the prompt
//!   estimate plus the streamed text, counted with a
//!   [`TokenCounter`](infermux_core::TokenCounter)). Aborted work is charged: the provider bills it too.
//!
//! An answer whose provider reported no usage is never $0 by silence: its output is counted
//! here (the prompt was counted at ingress), charged, and counted in
//! `infermux_estimated_usage_total`. Failed requests cost nothing and their reservation is
//! released, unless the provider billed them (an error answer with usage, a stream cut off or
//! abandoned): that is charged, and its ledger entry is marked with the [`WasteReason`], so the
//! spend store keeps the waste report. A model without a
//! price is recorded at $0 with `priced: false` and counted in
//! `infermux_unpriced_requests_total`. Money is integer pico-USD throughout.
//!
//! # Settlement
//!
//! Every settlement runs on its own task of the layer's
//! [`TaskTracker`](tokio_util::task::TaskTracker) ([`CostLayer::with_settlements`]): the
//! response future or body only waits for it, so a client that goes away, or a drain that
//! times out, never loses a spend. Graceful shutdown waits on the tracker.
//!
//! # Ordering
//!
//! Below the routing layers (the route group is read from the request) and the budget layer
//! (whose reservation it settles), directly above dispatch, which marks every provider
//! response with [`Served`](infermux_core::Served).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::Response;
//! use infermux_budget::MemoryStore;
//! use infermux_core::{
//!     InferBody, InferRequest, Month, Price, PriceTable, RequestBody, Served, SpendStore,
//!     SystemClock, Usage, chat::ChatRequest,
//! };
//! use infermux_cost::CostLayer;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let prices = PriceTable::default().with_price(
//!     "openai".into(),
//!     "gpt-4o-mini",
//!     Price::per_million(0.15, 0.60, None, None).expect("price"),
//! );
//! let store = Arc::new(MemoryStore::new());
//! let provider = service_fn(|_: InferRequest| async {
//!     let usage = Usage { prompt_tokens: 8, completion_tokens: 1, ..Usage::default() };
//!     let mut response = Response::new(InferBody::full_with_usage("{}", usage));
//!     response.extensions_mut().insert(Served {
//!         provider: "openai".into(),
//!         upstream_model: "gpt-4o-mini".into(),
//!     });
//!     Ok::<_, infermux_core::BoxError>(response)
//! });
//! let service = CostLayer::new(store.clone(), prices, Arc::new(SystemClock)).layer(provider);
//! let chat: ChatRequest = serde_json::from_str(
//!     r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
//! ).expect("chat");
//! let request = InferRequest::new(RequestBody::Chat(chat), "free-tier".into(), "r1".into());
//! let response = service.oneshot(request).await.expect("served");
//! assert_eq!(response.headers()["x-infermux-cost"], "0.0000018");
//! let month = Month::of(std::time::SystemTime::now());
//! let spent = store.spent(&"free-tier".into(), month).await.expect("spent");
//! assert_eq!(spent.to_dollars(), "$0.0000018");
//! # }
//! ```

mod attempts;
mod bill;
mod body;
mod chunk;
mod future;
mod layer;
mod metrics;
mod service;

pub use bill::{ApproxCounter, INLINE_COUNT_LIMIT};
pub use body::ResponseBody;
pub use future::{COST_HEADER, ResponseFuture};
pub use infermux_core::{WasteReason, WasteTotals};
pub use layer::CostLayer;
pub use service::Cost;
