//! The spend store: where budgets and the cost ledger live.
//!
//! One trait, [`SpendStore`], is the seam between the money layers (budget admission, cost
//! accounting, reports) and where the numbers are kept: a durable state file for one node,
//! Redis for a fleet of replicas, or a user's own store. Money stays integer everywhere.

use std::{
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::SystemTime,
};

use crate::{Caller, Hour, Money, Month, ProviderName, RequestId, Usage};

/// One settled request: what it cost, and to whom it is accounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The request, so that a replayed entry is never counted twice.
    pub request_id: RequestId,
    /// When the cost became known.
    pub at: SystemTime,
    /// Who the request is accounted to.
    pub caller: Caller,
    /// The route group that matched, if any.
    pub group: Option<Arc<str>>,
    /// The provider that served it.
    pub provider: ProviderName,
    /// The model sent to that provider.
    pub model: Arc<str>,
    /// The tokens it consumed.
    pub usage: Usage,
    /// What they cost.
    pub cost: Money,
    /// Whether a price was known; an unpriced request is recorded at $0 and counted apart.
    pub priced: bool,
    /// Whether the usage was counted by infermux because the provider reported none (or only
    /// part of it): the cost is an estimate.
    pub estimated: bool,
    /// Set when the spend bought no answer the client received, and why.
    pub waste: Option<crate::WasteReason>,
}

impl LedgerEntry {
    /// The budget period of the entry.
    pub fn month(&self) -> Month {
        Month::of(self.at)
    }
}

/// The answer to a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The amount is reserved; `spent` is the settled spend before it.
    Admitted {
        /// Settled spend of the caller this month.
        spent: Money,
    },
    /// Spend plus reservations is at or over the cap; nothing was reserved.
    Refused {
        /// Settled spend of the caller this month.
        spent: Money,
    },
}

/// Budget held for one request between admission and the moment its cost is known.
///
/// The budget layer reserves the request's worst case in the [`SpendStore`] and puts the
/// reservation on the request ([`InferRequest::budget`](crate::InferRequest::budget)); the
/// cost layer settles it with the real cost, or releases it when nothing was served. Clones
/// share one claim, so however many copies of a request exist, the amount is settled or
/// released exactly once: whoever [`claim`](Self::claim)s it first does it.
///
/// A reservation made with [`guarded`](Self::guarded) is an owned guard: when its last copy
/// is dropped unclaimed (the request failed, was cancelled, or no layer below settled it),
/// its [`ReleaseHook`] releases the amount, so no reservation outlives its request.
#[derive(Clone, Debug)]
pub struct Reservation {
    inner: Arc<ReservationInner>,
}

/// Releases a [`Reservation`] whose last copy was dropped without being settled.
///
/// Called from `Drop`, so it must not block: implementations hand the release to a task.
pub trait ReleaseHook: Send + Sync + 'static {
    /// Releases `amount` that `caller` held in `month`.
    fn release(&self, caller: &Caller, month: Month, amount: Money);
}

struct ReservationInner {
    caller: Caller,
    month: Month,
    amount: Money,
    claimed: AtomicBool,
    hook: Option<Arc<dyn ReleaseHook>>,
}

impl std::fmt::Debug for ReservationInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("caller", &self.caller)
            .field("month", &self.month)
            .field("amount", &self.amount)
            .field("claimed", &self.claimed)
            .field("guarded", &self.hook.is_some())
            .finish()
    }
}

impl Drop for ReservationInner {
    fn drop(&mut self) {
        if let Some(hook) = self.hook.take()
            && !self.claimed.swap(true, Ordering::AcqRel)
        {
            hook.release(&self.caller, self.month, self.amount);
        }
    }
}

impl Reservation {
    /// A reservation of `amount` that `caller` holds in `month`.
    pub fn new(caller: Caller, month: Month, amount: Money) -> Self {
        Self::with_hook(caller, month, amount, None)
    }

    /// A reservation that `hook` releases when its last copy is dropped unclaimed.
    pub fn guarded(
        caller: Caller,
        month: Month,
        amount: Money,
        hook: Arc<dyn ReleaseHook>,
    ) -> Self {
        Self::with_hook(caller, month, amount, Some(hook))
    }

    fn with_hook(
        caller: Caller,
        month: Month,
        amount: Money,
        hook: Option<Arc<dyn ReleaseHook>>,
    ) -> Self {
        Self {
            inner: Arc::new(ReservationInner {
                caller,
                month,
                amount,
                claimed: AtomicBool::new(false),
                hook,
            }),
        }
    }

    /// The caller holding it.
    pub fn caller(&self) -> &Caller {
        &self.inner.caller
    }

    /// The month it was made in.
    pub fn month(&self) -> Month {
        self.inner.month
    }

    /// The amount held.
    pub fn amount(&self) -> Money {
        self.inner.amount
    }

    /// Takes the right to settle or release the reservation: the amount the first time,
    /// `None` ever after.
    pub fn claim(&self) -> Option<Money> {
        (!self.inner.claimed.swap(true, Ordering::AcqRel)).then_some(self.inner.amount)
    }
}

/// What a store could not do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached (Redis down) or cannot persist (disk full).
    #[error("spend store unavailable: {0}")]
    Unavailable(String),
}

/// A boxed future of a store operation.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// One caller's totals for a month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallerTotals {
    /// Settled spend.
    pub cost: Money,
    /// Settled requests.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Prompt tokens read from a cache.
    pub cached_prompt_tokens: u64,
    /// The part of `cost` charged from usage infermux counted itself: an estimate.
    pub estimated: Money,
}

/// A month's ledger, summed every way the reports show it. Every breakdown sums to `total`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpendSummary {
    /// Total spend.
    pub total: Money,
    /// Settled requests.
    pub requests: u64,
    /// Requests recorded without a known price.
    pub unpriced_requests: u64,
    /// Spend per provider.
    pub by_provider: BTreeMap<ProviderName, Money>,
    /// Spend per model sent upstream.
    pub by_model: BTreeMap<Arc<str>, Money>,
    /// Spend per route group (requests that matched no group are not listed).
    pub by_group: BTreeMap<Arc<str>, Money>,
    /// Totals per caller.
    pub callers: BTreeMap<Caller, CallerTotals>,
    /// The part of `total` charged from usage infermux counted itself (the provider reported
    /// none): an estimate.
    pub estimated: Money,
    /// Requests whose cost is such an estimate.
    pub estimated_requests: u64,
    /// The part of `total` that bought no answer the client received, by provider and reason.
    pub waste: crate::WasteByProvider,
}

/// One hour of spend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HourTotals {
    /// Spend settled in the hour.
    pub cost: Money,
    /// Requests settled in the hour.
    pub requests: u64,
}

/// Where spend is kept: budget reservations, settled spend, and the ledger the reports read.
///
/// Implementations make [`reserve`](Self::reserve) and [`settle`](Self::settle) each atomic
/// (never read-then-write across two calls), so concurrent requests, in one process or
/// across replicas, cannot overshoot a cap by more than the reservations they hold.
pub trait SpendStore: Send + Sync + 'static {
    /// Reserves `amount` for `caller` in `month`, unless the caller's settled spend plus
    /// reservations is at or over `cap`, or `amount` would take it over (`None`: no cap).
    fn reserve(
        &self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreFuture<Admission>;

    /// Records `entry` and releases `reserved` of its caller's reservations in the entry's
    /// month, in one step. Settling an entry whose request id was already settled only
    /// releases the reservation.
    fn settle(&self, entry: LedgerEntry, reserved: Money) -> StoreFuture<()>;

    /// Releases a reservation that will not be settled (the request failed).
    fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()>;

    /// The caller's settled spend in `month`.
    fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money>;

    /// Settles `entry` as [`settle`](Self::settle) does, then returns its caller's settled
    /// spend in the entry's month, as [`spent`](Self::spent) would read it then. The default
    /// does just that, one step after the other; a store that learns the spend as it settles
    /// (Redis adds it up in the settling script) answers in one step.
    fn settle_and_spent(
        self: Arc<Self>,
        entry: LedgerEntry,
        reserved: Money,
    ) -> StoreFuture<Money> {
        let (caller, month) = (entry.caller.clone(), entry.month());
        let settled = self.settle(entry, reserved);
        Box::pin(async move {
            settled.await?;
            self.spent(&caller, month).await
        })
    }

    /// The month's ledger, summed.
    fn summary(&self, month: Month) -> StoreFuture<SpendSummary>;

    /// Spend per hour for `hours` hours starting at `first`, oldest first, one entry per hour
    /// (zero for hours without spend).
    fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>>;

    /// Makes everything settled so far durable in its most compact form (graceful shutdown).
    /// Stores that persist each settlement as it happens need not do anything.
    fn flush(&self) -> StoreFuture<()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Whether a settlement's write is shared with the settlements made after it in the same
    /// turn of the runtime (group commit), so that a caller about to wait for one should let
    /// that turn finish first. A store that writes each settlement alone, or keeps it in
    /// memory, says no (the default): its callers then wait at once.
    fn groups_writes(&self) -> bool {
        false
    }
}
