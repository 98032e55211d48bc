//! Per-caller monthly budgets, enforced before a request reaches any provider.
//!
//! [`BudgetLayer`] sits right below ingress and above routing. For each request it looks up
//! the caller's [`BudgetPolicy`] (callers without one pass straight through) and:
//!
//! * **`hard_stop`** — reserves the request's worst case ([`WorstCase`]: the prompt
//!   estimate at the dearest candidate's input price plus the allowed output tokens at its
//!   output price) in the [`SpendStore`](infermux_core::SpendStore), atomically against the
//!   cap. When settled spend plus in-flight reservations is at or over the budget the
//!   request fails with [`BudgetExceeded`] (429 `budget_exceeded`) and nothing is sent.
//!   When the remaining budget cannot hold the worst case but can hold fewer output tokens,
//!   `max_tokens` is lowered instead and the response says so in
//!   `X-Infermux-Max-Tokens-Clamped`. The reservation travels on the request
//!   ([`InferRequest::budget`](infermux_core::InferRequest::budget)) to the cost layer,
//!   which settles it with the real cost; if no response comes back, this layer releases
//!   it. Concurrent requests therefore cannot overshoot the cap by more than the error of
//!   their estimates. When the store fails, the request fails with
//!   [`BudgetStoreUnavailable`] (503): a hard cap fails closed.
//! * **`model_override`** — once settled spend reaches the override threshold, the request
//!   is rewritten to the override model and the response carries
//!   `X-Infermux-Model-Override`.
//! * **`alert`** — nothing at admission: [`BudgetWatch`] fires alerts as spend settles.
//!
//! Refusals are errors (rendered at the edge), so this layer never builds HTTP bodies.
//!
//! # Ordering
//!
//! Above route-group and strategy (a model override must be routed as the new model), and
//! above the cost layer, which must see every response this layer admitted: a response that
//! reaches this layer leaves its reservation to the cost layer.
//!
//! # Stores
//!
//! [`FileStore`] keeps spend durable in a state file (a JSON snapshot plus an fsynced
//! journal); [`MemoryStore`] keeps it in memory. Both are exact: money is integer pico-USD.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use infermux_budget::{BudgetLayer, BudgetPolicies, BudgetPolicy, MemoryStore, WorstCase};
//! use infermux_core::{
//!     InferRequest, ModelCatalog, Money, PriceTable, RequestBody, SystemClock, chat::ChatRequest,
//! };
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let policies = BudgetPolicies::new([(
//!     "free-tier".into(),
//!     BudgetPolicy::hard_stop(Money::from_usd(0.000001).expect("amount")),
//! )]);
//! let store = Arc::new(MemoryStore::new());
//! let layer = BudgetLayer::new(
//!     store,
//!     Arc::new(SystemClock),
//!     policies,
//!     WorstCase::new(ModelCatalog::default(), PriceTable::default()),
//! );
//! let service = layer.layer(service_fn(|_: InferRequest| async {
//!     Ok::<_, infermux_core::BoxError>(http::Response::new(()))
//! }));
//! let chat: ChatRequest = serde_json::from_str(
//!     r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
//! ).expect("chat");
//! let request = InferRequest::new(RequestBody::Chat(chat), "free-tier".into(), "r1".into());
//! // Nothing spent yet, and an unpriced model reserves $0: admitted.
//! assert!(service.oneshot(request).await.is_ok());
//! # }
//! ```

mod cache_ttl;
mod error;
mod future;
mod guard;
mod layer;
mod policy;
mod service;
mod store;
mod watch;
mod worst_case;

pub use error::{BudgetExceeded, BudgetStoreUnavailable};
pub use future::ResponseFuture;
pub use guard::StoreRelease;
pub use layer::BudgetLayer;
pub use policy::{AlertThreshold, BudgetAction, BudgetPolicies, BudgetPolicy};
pub use service::{Budget, MAX_TOKENS_CLAMPED_HEADER, MODEL_OVERRIDE_HEADER};
pub use store::{COMPACT_EVERY, FileStore, MemoryStore, SYNC_EVERY};
pub use watch::{AlertSink, BudgetAlert, BudgetWatch};
pub use worst_case::{DEFAULT_MAX_TOKENS, WorstCase};
