//! Client API keys: who a request is from, what it may use, and what it may spend.
//!
//! [`KeyLayer`] sits right below ingress and above the budget layer. For a request that
//! presents a key (`Authorization: Bearer <key>` or `x-api-key: <key>`, read by ingress
//! into [`InferRequest::client_key`](infermux_core::InferRequest::client_key)) it:
//!
//! 1. looks the key up by its SHA-256 in the [`KeyRing`] (compared in constant time);
//!    unknown, revoked or expired keys fail with [`InvalidApiKey`] (401);
//! 2. charges the request to the key's caller: `X-Infermux-Caller` is ignored, so no one
//!    spends another caller's budget by naming it (the caller's own budget still applies
//!    in the budget layer below);
//! 3. checks the key's `models` allow-list against the requested model name (virtual names
//!    included) — [`ModelNotAllowed`] (403) — and its `rpm` — [`KeyRateLimited`] (429,
//!    with the wait for `Retry-After`);
//! 4. reserves the request's worst case ([`WorstCase`](infermux_budget::WorstCase)) in the
//!    key's month and day accounts of the key spend store, atomically against the key's
//!    `monthly_usd` / `daily_usd` caps, exactly as `hard_stop` budgets do: at or over a cap
//!    the request fails with [`KeyBudgetExceeded`] (429) and nothing is sent. The
//!    reservations travel on the request as a [`KeyHold`](infermux_core::KeyHold); the
//!    cost layer settles them with the same ledger entry (the same real cost) as the
//!    caller's, or releases them when nothing was served.
//!
//! A request without a key passes through untouched, unless keys are
//! [`required`](KeyLayer::required). So does, while keys are optional, a credential that
//! matches no key and does not look like one of infermux's (`imx_...`): the OpenAI SDKs
//! insist on sending some `api_key`, and clients that predate keys send placeholders. Refusals are errors (rendered at the edge in the
//! client's protocol), so this layer never builds HTTP bodies.
//!
//! # Stores
//!
//! Keys declared in the config file live in the ring only. Keys made over the management
//! API are kept, as hashes, in a [`KeyRecords`] store: [`FileRecords`] beside the state
//! file, [`MemoryRecords`], or Redis for a fleet; every ring reloads it every
//! [`RELOAD_EVERY`], so a revocation reaches every replica within seconds. The key accounts
//! are an ordinary [`SpendStore`](infermux_core::SpendStore) kept apart from the callers'
//! ledger, so that reports never count a request twice; [`KeyMetrics`] wraps it to publish
//! each key's spend.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use infermux_budget::{MemoryStore, WorstCase};
//! use infermux_core::{
//!     ClientKey, InferRequest, ModelCatalog, PriceTable, RequestBody, SystemClock,
//!     chat::ChatRequest,
//! };
//! use infermux_keys::{KeyHash, KeyLayer, KeyRecord, KeyRing, KeySecret, MemoryRecords};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let record = KeyRecord {
//!     id: "key_acme".into(),
//!     name: "acme".into(),
//!     caller: "acme".into(),
//!     secrets: vec![KeySecret {
//!         sha256: KeyHash::of("imx_secret").to_hex(),
//!         prefix: String::new(),
//!         until: None,
//!     }],
//!     monthly_picos: None,
//!     daily_picos: None,
//!     models: Some(vec!["gpt-4o-mini".into()]),
//!     rpm: None,
//!     created: 0,
//!     expires: None,
//!     revoked: None,
//!     configured: true,
//! };
//! let ring = Arc::new(KeyRing::new(vec![record], Arc::new(MemoryRecords::new()), Arc::new(SystemClock)));
//! let layer = KeyLayer::new(
//!     ring,
//!     Arc::new(MemoryStore::new()),
//!     Arc::new(SystemClock),
//!     WorstCase::new(ModelCatalog::default(), PriceTable::default()),
//! );
//! let service = layer.layer(service_fn(|request: InferRequest| async move {
//!     Ok::<_, infermux_core::BoxError>(http::Response::new(request.caller))
//! }));
//! let chat: ChatRequest = serde_json::from_str(
//!     r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
//! ).expect("chat");
//! let mut request = InferRequest::new(RequestBody::Chat(chat), "someone-else".into(), "r1".into());
//! request.client_key = Some(ClientKey::new("imx_secret"));
//! let response = service.oneshot(request).await.expect("a valid key");
//! assert_eq!(response.body().as_str(), "acme");
//! # }
//! ```

mod error;
mod future;
mod layer;
mod metered;
mod presented;
mod record;
mod ring;
mod secret;
mod service;
mod store;
#[cfg(test)]
mod tests;

pub use error::{
    CapWindow, InvalidApiKey, KeyBudgetExceeded, KeyRateLimited, ModelNotAllowed, Refusal,
};
pub use future::ResponseFuture;
pub use layer::KeyLayer;
pub use metered::{KeyMetrics, MAX_KEY_SERIES};
pub use presented::presented;
pub use record::{KeyEntry, KeyRecord, KeySecret, unix};
pub use ring::{KeyChangeError, KeyRing, NewKey, RELOAD_EVERY};
pub use secret::{
    DISPLAY_CHARS, KEY_PREFIX, KEY_SYMBOLS, KeyHash, display_prefix, generate, new_id,
};
pub use service::{Keys, day_account, month_account};
pub use store::{FileRecords, KeyRecords, MemoryRecords};
