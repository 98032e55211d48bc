//! A Redis [`SpendStore`](infermux_core::SpendStore): budgets and the cost ledger shared by a
//! fleet of infermux replicas.
//!
//! One infermux keeps spend in its state file. Several replicas behind a load balancer must
//! share it instead: with per-replica state, N replicas let a caller spend its budget N
//! times, and a check-then-increment across two round trips lets concurrent requests
//! overshoot a cap. [`RedisSpendStore`] keeps every number in one Redis, and makes each
//! reservation and each settlement a single Lua script, so Redis runs it atomically: a
//! `hard_stop` budget holds for the fleet as a whole, and every replica's reports
//! (`summary`, `hourly`) read the same fleet-wide totals.
//!
//! # Exact money
//!
//! Amounts are integer pico-USD. Counters move by `HINCRBY` with decimal string arguments
//! (exact 64-bit integers in Redis), and the cap check compares amounts as base-10^9 limbs,
//! never as whole Lua doubles, so budgets above 2^53 pico-USD (about $9,007) stay exact. A
//! counter holds up to 2^63 pico-USD (about $9.2 million) per month.
//!
//! # When Redis is away
//!
//! [`UnavailablePolicy`] decides what a reservation does while Redis cannot be reached:
//! `fail_closed` returns [`StoreError::Unavailable`](infermux_core::StoreError::Unavailable)
//! (the budget layer answers 503 `budget_store_unavailable` to `hard_stop` callers),
//! `fail_open` admits it locally. In both modes a settlement or release that cannot reach
//! Redis is queued in the replica and replayed, in order, once Redis answers again. The
//! settle script sets a marker for the settlement (`SET NX` with an expiry, keyed by request
//! id and the instant the cost became known) in the same atomic step, so a replay of a
//! settlement whose reply was lost is never counted twice, while two requests that reuse a
//! client's `X-Request-Id` both count; a reservation whose reply was lost is cancelled once
//! through its own marker. The connection is a redis `ConnectionManager`, which reconnects
//! by itself. Every failed operation counts in a metric, and the transitions are logged
//! (see [Metrics](#metrics)).
//!
//! # Key layout
//!
//! Every key carries its month in a hash tag (`infermux:{2026-03}:…`, which keeps a
//! month's keys in one slot, as scripts on a Redis Cluster would need; the store itself
//! talks to one Redis primary) and expires 35 days after the month; hour buckets live 35 days; retry
//! markers live an hour ([`RedisStoreOptions::marker_ttl`]).
//! `docs/operations.md` lists the keys and sizes them.
//!
//! # Metrics
//!
//! | metric | kind | meaning |
//! | --- | --- | --- |
//! | `infermux_spend_store_available` | gauge | 1 while Redis answers |
//! | `infermux_spend_store_errors_total{operation}` | counter | operations that failed to reach Redis |
//! | `infermux_spend_store_pending` | gauge | settlements, releases and cancellations queued in this replica |
//! | `infermux_spend_store_replayed_total` | counter | queued operations replayed into Redis |
//! | `infermux_spend_store_fail_open_admissions_total` | counter | requests admitted without Redis |
//! | `infermux_spend_store_fail_closed_refusals_total` | counter | reservations refused without Redis |
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use infermux_core::{Admission, Caller, LedgerEntry, Money, Month, SpendStore, SystemClock};
//! use infermux_spend_redis::{RedisSpendStore, RedisStoreOptions, UnavailablePolicy};
//! use infermux_test_util::RedisServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let redis = RedisServer::start().await;
//! let clock = Arc::new(SystemClock);
//! let options = RedisStoreOptions::new(UnavailablePolicy::FailClosed);
//! // Two replicas of the fleet.
//! let a = RedisSpendStore::open(&redis.url(), options, clock.clone()).expect("valid url");
//! let b = RedisSpendStore::open(&redis.url(), options, clock.clone()).expect("valid url");
//!
//! let caller = Caller::new("free-tier");
//! let now = std::time::SystemTime::now();
//! let month = Month::of(now);
//! let cap = Some(Money::from_picos(10));
//! let cost = Money::from_picos(6);
//!
//! // A reserves 6 of the 10: B cannot reserve another 6 until A settles.
//! let admitted = a.reserve(&caller, month, cost, cap).await.expect("redis answers");
//! assert_eq!(admitted, Admission::Admitted { spent: Money::ZERO });
//! let refused = b.reserve(&caller, month, cost, cap).await.expect("redis answers");
//! assert_eq!(refused, Admission::Refused { spent: Money::ZERO });
//!
//! let entry = LedgerEntry {
//!     request_id: "req-1".into(),
//!     at: now,
//!     caller: caller.clone(),
//!     group: None,
//!     provider: "openai".into(),
//!     model: "gpt-4o-mini".into(),
//!     usage: Default::default(),
//!     cost,
//!     priced: true,
//!     estimated: false,
//!     waste: None,
//! };
//! a.settle(entry.clone(), cost).await.expect("redis answers");
//! // The same request settled again (a replay) counts once.
//! a.settle(entry, Money::ZERO).await.expect("redis answers");
//!
//! // Every replica reports the fleet's totals.
//! assert_eq!(b.spent(&caller, month).await.expect("redis answers"), cost);
//! let summary = b.summary(month).await.expect("redis answers");
//! assert_eq!((summary.total, summary.requests), (cost, 1));
//! # }
//! ```

mod backlog;
mod commands;
mod error;
mod health;
mod key_records;
mod keys;
mod options;
mod scripts;
mod store;

pub use error::ConnectError;
pub use key_records::RedisKeyRecords;
pub use options::{RedisStoreOptions, UnavailablePolicy};
pub use store::RedisSpendStore;
