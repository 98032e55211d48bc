//! The request log: one row per request that reached the router, and the usage queries
//! over it.
//!
//! [`RequestLogLayer`] sits at the top of the service stack, above the budget layer, so it
//! sees every request the router accepted for routing: served, refused (`budget_exceeded`)
//! or failed (`no_provider_available`). It builds a [`RequestRecord`] when the request comes
//! in ([`RequestRecord::begin`], the one place that reads the typed request) and completes
//! it from the response: who served it ([`Served`](infermux_core::Served)), how it was
//! routed ([`Routed`](infermux_core::Routed)), and what it cost
//! ([`SettledSlot`](infermux_core::SettledSlot), filled by the cost layer with the very
//! amount the ledger recorded). A complete answer is logged when it is returned; a stream
//! when the cost layer settles it, or when it breaks or the client goes away.
//!
//! Rows never hold a prompt or an answer. They are queued on a bounded channel and
//! written by one writer task in batches ([`RequestLog`]); when the queue is full the row is
//! dropped and counted in `infermux_request_log_dropped_total`: logging never slows a
//! request down.
//!
//! Stores implement [`RequestStore`]: [`SqliteStore`] (a file in WAL mode, or memory) is
//! the embedded default; [`PostgresStore`] is one database shared by a fleet of replicas.
//! Usage sums are exact integers (pico-USD) in every store.
//!
//! # Ordering
//!
//! Above the budget layer (so refusals are logged) and everything below it; errors are
//! rendered for the log with the [`Classify`] function the edge uses for the client.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use http::Response;
//! use infermux_core::{InferBody, InferRequest, RequestBody, chat::ChatRequest};
//! use infermux_request_log::{Filter, GroupBy, LogOptions, RequestLog, RequestLogLayer, SqliteStore};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let clock = Arc::new(infermux_core::SystemClock);
//! let store = Arc::new(SqliteStore::in_memory().expect("store"));
//! let log = RequestLog::start(store, LogOptions::default(), clock.clone());
//! let classify: infermux_request_log::Classify = |_| (502, "provider_error");
//! let service = RequestLogLayer::new(log.clone(), classify, clock)
//!     .layer(service_fn(|_: InferRequest| async {
//!         Ok::<_, infermux_core::BoxError>(Response::new(InferBody::full("{}")))
//!     }));
//! let chat: ChatRequest = serde_json::from_str(
//!     r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
//! ).expect("chat");
//! let request = InferRequest::new(RequestBody::Chat(chat), "free-tier".into(), "r1".into());
//! service.oneshot(request).await.expect("served");
//! log.flush().await;
//! let usage = log.store().usage(&Filter::default(), GroupBy::Caller).await.expect("usage");
//! assert_eq!(usage.rows[0].key, "free-tier");
//! assert_eq!(usage.total.requests, 1);
//! # }
//! ```

mod body;
mod columns;
mod forecast;
mod future;
mod layer;
mod log;
mod postgres;
mod query;
mod record;
mod sqlite;
mod store;

pub use body::LoggedBody;
pub use forecast::{Forecast, burn_window, day, month_start};
pub use future::ResponseFuture;
pub use layer::{Classify, LogRequests, RequestLogLayer};
pub use log::{LogOptions, RequestLog};
pub use postgres::{PostgresStore, check_url as check_postgres_url};
pub use query::{Bucketed, Cursor, Filter, GroupBy, Page, StatusFilter, UsageReport, UsageSums};
pub use record::{Decided, RequestRecord};
pub use sqlite::{IN_MEMORY_ROWS, SqliteStore};
pub use store::{LogError, LogFuture, RequestStore};
