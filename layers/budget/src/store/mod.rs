//! Spend stores: where reservations, settled spend and the cost ledger are kept.
//!
//! * [`FileStore`]: one node, durable — a JSON snapshot plus an append-only journal at
//!   `budgets.state_file`.
//! * [`MemoryStore`]: one node, in memory only — used when no `state_file` is configured;
//!   spend starts from zero at every start.
//!
//! Both implement [`SpendStore`](infermux_core::SpendStore) over the same in-memory
//! [`SpendState`](state::SpendState). Neither deduplicates settlements by request id:
//! request ids come from clients (`X-Request-Id`), and two served requests with the same id
//! both cost money. Within a process, a reservation is settled exactly once
//! ([`Reservation::claim`](infermux_core::Reservation::claim)); across restarts, journal
//! sequence numbers keep replay from counting an entry twice.

mod file;
mod format;
mod journal;
mod memory;
mod state;

pub use file::{COMPACT_EVERY, FileStore, SYNC_EVERY};
pub use memory::MemoryStore;
