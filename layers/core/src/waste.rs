//! Wasted spend: work a provider billed that bought no answer the client received.
//!
//! A provider bills work even when it fails: an error answer that reports usage, an answer
//! infermux rejected after the provider produced it, a stream cut off by the provider or
//! abandoned by the client. That spend is charged like any other and also marked on its
//! [`LedgerEntry`](crate::LedgerEntry) with a [`WasteReason`], so every spend store keeps the
//! waste report beside its other totals (durable, and fleet-wide with Redis).
//!
//! A failed attempt that dispatch moved on from never reaches the cost layer as a response;
//! [`AttemptBilling`] is the callback the cost layer puts on the request for dispatch to hand
//! it each such attempt that the provider billed ([`BilledAttempt`]).

use std::{fmt, sync::Arc};

use crate::{InferRequest, Money, ProviderName, Usage};

/// Why billed work was wasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WasteReason {
    /// The provider answered with an error status and billed usage for it.
    ProviderError,
    /// The provider answered, billed it, and infermux rejected the answer (it was not a valid
    /// response of the provider's API); the request went on to the next candidate.
    BadResponse,
    /// The provider's stream broke before its end.
    StreamInterrupted,
    /// The client went away before the stream ended.
    ClientDisconnected,
}

impl WasteReason {
    /// Every reason, in report order.
    pub const ALL: [Self; 4] = [
        Self::ProviderError,
        Self::BadResponse,
        Self::StreamInterrupted,
        Self::ClientDisconnected,
    ];

    /// The reason as the waste report, the journal and Redis name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProviderError => "provider_error",
            Self::BadResponse => "bad_response",
            Self::StreamInterrupted => "stream_interrupted",
            Self::ClientDisconnected => "client_disconnected",
        }
    }

    /// The reason named `name` ([`as_str`](Self::as_str)), `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for WasteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Wasted spend of one provider for one reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WasteTotals {
    /// Requests (or failed attempts).
    pub requests: u64,
    /// What they cost.
    pub cost: Money,
}

impl WasteTotals {
    /// Adds one wasted request of `cost`.
    pub fn add(&mut self, cost: Money) {
        self.requests += 1;
        self.cost = self.cost.saturating_add(cost);
    }
}

/// A month's waste by provider and reason.
pub type WasteByProvider =
    std::collections::BTreeMap<ProviderName, std::collections::BTreeMap<WasteReason, WasteTotals>>;

/// A failed attempt that its provider billed: dispatch moved on to the next candidate (or
/// gave up), and the usage the provider reported must still be charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BilledAttempt {
    /// The provider that billed it.
    pub provider: ProviderName,
    /// The model it was sent.
    pub upstream_model: Arc<str>,
    /// What the provider reported.
    pub usage: Usage,
    /// Why the attempt bought nothing.
    pub reason: WasteReason,
    /// The attempt's position among the request's candidates (0 is the first), so that each
    /// attempt is recorded under its own ledger id, once.
    pub attempt: usize,
}

/// Charges a request's billed failed attempts: a plain callback the cost layer puts on the
/// request ([`InferRequest::billed_attempts`](crate::InferRequest::billed_attempts)) and
/// dispatch calls, once per attempt, with the request. It must not block: implementations hand
/// the work to a task.
///
/// One callback serves every request (putting it on a request clones an `Arc`): it reads who
/// pays from the request it is given.
#[derive(Clone)]
pub struct AttemptBilling(Arc<ChargeFn>);

/// What [`AttemptBilling`] calls.
type ChargeFn = dyn Fn(&InferRequest, BilledAttempt) + Send + Sync;

impl AttemptBilling {
    /// Calls `charge` with each billed failed attempt and its request.
    pub fn new(charge: impl Fn(&InferRequest, BilledAttempt) + Send + Sync + 'static) -> Self {
        Self(Arc::new(charge))
    }

    /// Charges `attempt`, a failed attempt at serving `request`.
    pub fn charge(&self, request: &InferRequest, attempt: BilledAttempt) {
        (self.0)(request, attempt);
    }
}

impl fmt::Debug for AttemptBilling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttemptBilling")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_from_their_names() {
        for reason in WasteReason::ALL {
            assert_eq!(WasteReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(WasteReason::parse("nope"), None);
    }
}
