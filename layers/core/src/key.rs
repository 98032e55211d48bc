//! A client's API key on a request: the secret it presented, and once the key layer has
//! accepted it, the key's identity and the per-key spend it holds.
//!
//! The key layer reserves a request's worst case in each of the key's spend accounts (the
//! month, and the UTC day) exactly as the budget layer does for a caller, and puts the
//! reservations on the request as a [`KeyHold`]. The cost layer settles the hold with the
//! same ledger entry (the same real cost) it records for the caller, or releases it when
//! nothing was served. Clones share one claim per account, so the amounts are settled or
//! released exactly once.

use std::{fmt, sync::Arc};

use crate::{Caller, LedgerEntry, Money, Reservation, SpendStore, StoreFuture};

/// The secret a client presented (`Authorization: Bearer`, `x-api-key`). Its `Debug` never
/// shows it, so a request can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKey(Arc<str>);

impl ClientKey {
    /// Wraps a presented key.
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }

    /// The secret itself: only for hashing it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey(***)")
    }
}

/// An accepted key and the spend it holds for one request in the key's accounts.
#[derive(Clone)]
pub struct KeyHold {
    inner: Arc<KeyHoldInner>,
}

struct KeyHoldInner {
    id: Arc<str>,
    name: Arc<str>,
    caller: Caller,
    store: Arc<dyn SpendStore>,
    accounts: Vec<Reservation>,
}

impl fmt::Debug for KeyHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHold")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("accounts", &self.inner.accounts)
            .finish_non_exhaustive()
    }
}

impl KeyHold {
    /// The key `id` (named `name`, charging `caller`), holding `accounts` in `store`: one
    /// reservation per spend account (the account is the reservation's caller).
    pub fn new(
        id: impl Into<Arc<str>>,
        name: impl Into<Arc<str>>,
        caller: Caller,
        store: Arc<dyn SpendStore>,
        accounts: Vec<Reservation>,
    ) -> Self {
        Self {
            inner: Arc::new(KeyHoldInner {
                id: id.into(),
                name: name.into(),
                caller,
                store,
                accounts,
            }),
        }
    }

    /// The key's id (`key_...`): what reports and the request log name.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The caller the key charges.
    pub fn caller(&self) -> &Caller {
        &self.inner.caller
    }

    /// Whether the key's store writes settlements in groups (see
    /// [`SpendStore::groups_writes`]).
    pub fn groups_writes(&self) -> bool {
        self.inner.store.groups_writes()
    }

    /// Charges `entry` (the caller's ledger entry: its cost, tokens and time) to each of the
    /// key's accounts and releases what they held; completes once the store has it.
    pub fn settle(&self, entry: &LedgerEntry) -> StoreFuture<()> {
        let store = self.inner.store.clone();
        let mut steps = Vec::new();
        for (i, reservation) in self.inner.accounts.iter().enumerate() {
            let Some(amount) = reservation.claim() else {
                continue;
            };
            let mut charge = entry.clone();
            charge.caller = reservation.caller().clone();
            // One ledger entry per account: distinct ids, so no store takes the second
            // account's entry for a replay of the first.
            if i > 0 {
                charge.request_id = format!("{}#{i}", entry.request_id).as_str().into();
            }
            if reservation.month() == charge.month() {
                steps.push(store.settle(charge, amount));
            } else {
                // Admitted on the last day of a month, finished in the next.
                steps.push(store.settle(charge, Money::ZERO));
                steps.push(store.release(reservation.caller(), reservation.month(), amount));
            }
        }
        Box::pin(async move {
            for step in steps {
                step.await?;
            }
            Ok(())
        })
    }

    /// Charges `entry` to each of the key's accounts without touching what they hold: a
    /// failed attempt the provider billed, on top of the request's own settlement.
    pub fn charge(&self, entry: &LedgerEntry) -> StoreFuture<()> {
        let store = self.inner.store.clone();
        let steps: Vec<_> = self
            .inner
            .accounts
            .iter()
            .enumerate()
            .map(|(i, reservation)| {
                let mut charge = entry.clone();
                charge.caller = reservation.caller().clone();
                if i > 0 {
                    charge.request_id = format!("{}#{i}", entry.request_id).as_str().into();
                }
                store.settle(charge, Money::ZERO)
            })
            .collect();
        Box::pin(async move {
            for step in steps {
                step.await?;
            }
            Ok(())
        })
    }

    /// Releases every account's reservation that was not settled (nothing was served).
    pub fn release(&self) -> StoreFuture<()> {
        let steps: Vec<_> = self
            .inner
            .accounts
            .iter()
            .filter_map(|r| {
                r.claim()
                    .map(|amount| self.inner.store.release(r.caller(), r.month(), amount))
            })
            .collect();
        Box::pin(async move {
            for step in steps {
                step.await?;
            }
            Ok(())
        })
    }
}
