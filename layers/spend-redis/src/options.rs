//! What to do while Redis is away, and the store's timeouts.

use std::time::Duration;

/// What the store does while Redis cannot be reached (`budgets.redis_unavailable`).
///
/// In both modes settlements are queued in the replica and replayed when Redis is back, each
/// counted once; [`spent`](infermux_core::SpendStore::spent) answers with the replica's
/// estimate (the spend Redis last reported plus the settlements queued since), since it
/// gates nothing by itself; reports fail with
/// [`StoreError::Unavailable`](infermux_core::StoreError::Unavailable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnavailablePolicy {
    /// Refuse reservations: [`reserve`](infermux_core::SpendStore::reserve) returns
    /// [`StoreError::Unavailable`](infermux_core::StoreError::Unavailable), which the budget
    /// layer turns into 503 `budget_store_unavailable` for `hard_stop` callers. The budget
    /// holds at the price of availability. The default.
    #[default]
    FailClosed,
    /// Admit reservations locally and serve everyone; the spend reaches Redis when it is
    /// back. Availability holds at the price of possible overspend during the outage.
    FailOpen,
}

impl UnavailablePolicy {
    /// The name used in the config file: `fail_closed` or `fail_open`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "fail_closed",
            Self::FailOpen => "fail_open",
        }
    }

    /// What the mode means for requests, for the outage log line.
    pub(crate) const fn consequence(self) -> &'static str {
        match self {
            Self::FailClosed => "fail_closed, so budget reservations are refused",
            Self::FailOpen => "fail_open, so requests are admitted without the fleet's budget",
        }
    }
}

/// How the Redis spend store behaves. [`RedisStoreOptions::new`] gives the defaults.
#[derive(Clone, Copy, Debug)]
pub struct RedisStoreOptions {
    /// What to do while Redis cannot be reached.
    pub unavailable: UnavailablePolicy,
    /// How long one connection attempt may take (default 1 s).
    pub connect_timeout: Duration,
    /// How long one command may wait for its reply (default 1 s); a request waits at most
    /// about this long on an unresponsive Redis before the policy applies.
    pub response_timeout: Duration,
    /// How long the markers that make a retry safe live (default 1 hour): a settlement
    /// whose reply was lost is never counted twice, and a reservation whose reply was lost
    /// is cancelled, if this replica reaches Redis again within this time. Redis keeps one
    /// marker per request (about 190 bytes) and one per reservation (about 150 bytes) for
    /// this long; see docs/operations.md for sizing.
    pub marker_ttl: Duration,
    /// How often queued settlements are retried while Redis is away (default 500 ms).
    pub replay_interval: Duration,
    /// The first part of every key this store writes (default `infermux`): stores with
    /// different namespaces share one Redis without sharing numbers (the API keys' spend
    /// accounts use `infermux-keys`).
    pub namespace: &'static str,
}

impl RedisStoreOptions {
    /// The defaults, with `unavailable` as given.
    pub const fn new(unavailable: UnavailablePolicy) -> Self {
        Self {
            unavailable,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            marker_ttl: Duration::from_secs(3600),
            replay_interval: Duration::from_millis(500),
            namespace: "infermux",
        }
    }
}

impl Default for RedisStoreOptions {
    fn default() -> Self {
        Self::new(UnavailablePolicy::default())
    }
}
