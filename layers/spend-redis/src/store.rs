//! [`RedisSpendStore`]: the [`SpendStore`] of a fleet of replicas sharing one Redis.

use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use infermux_core::{
    Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SharedClock, SpendStore,
    SpendSummary, StoreError, StoreFuture,
};
use redis::{
    Client, RedisError,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use crate::{
    ConnectError, RedisStoreOptions, UnavailablePolicy,
    backlog::{Backlog, Pending},
    commands::{self, Reservation},
    health::{self, Health},
};

/// A [`SpendStore`] on Redis: every replica that points at the same Redis shares budgets,
/// reservations and the cost ledger.
///
/// Cloning is cheap and shares the connection and the local backlog.
#[derive(Clone, Debug)]
pub struct RedisSpendStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: ConnectionManager,
    clock: SharedClock,
    options: RedisStoreOptions,
    backlog: Backlog,
    health: Health,
    /// Set while one task replays the backlog.
    replaying: AtomicBool,
    /// Names this store among the fleet's, in reservation ids.
    replica: u64,
    /// Numbers this store's reservations.
    reservations: AtomicU64,
}

// === impl RedisSpendStore ===

impl RedisSpendStore {
    /// Opens the store on the Redis at `url` (`redis://[:password@]host:port/db`). Must be
    /// called within a Tokio runtime.
    ///
    /// Only an invalid URL (or no runtime) is an error: the store connects in the background.
    /// A Redis that does not answer yet is logged, and the store starts the way it runs
    /// through an outage, under `options.unavailable`; it reconnects by itself. A background
    /// task, which ends when the last clone of the store is dropped, replays queued
    /// settlements every `options.replay_interval`.
    pub fn open(
        url: &str,
        options: RedisStoreOptions,
        clock: SharedClock,
    ) -> Result<Self, ConnectError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ConnectError::no_runtime())?;
        let client = Client::open(url).map_err(|e| ConnectError::new("invalid redis_url", &e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            // Fail an operation fast while Redis is down; each failure starts a new attempt.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ConnectError::new("cannot set up the redis connection", &e))?;
        let inner = Arc::new(Inner {
            conn,
            clock,
            options,
            backlog: Backlog::default(),
            health: Health::new(options.unavailable),
            replaying: AtomicBool::new(false),
            replica: RandomState::new().build_hasher().finish(),
            reservations: AtomicU64::new(0),
        });
        runtime.spawn(first_contact(inner.clone()));
        runtime.spawn(replay_loop(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// Settlements, releases and cancellations queued in this replica, waiting for Redis.
    pub fn pending(&self) -> usize {
        self.inner.backlog.len()
    }
}

impl SpendStore for RedisSpendStore {
    fn reserve(
        &self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreFuture<Admission> {
        let inner = self.inner.clone();
        let reservation = inner.reservation(caller, month, amount);
        Box::pin(async move {
            let now = inner.clock.now();
            let caller = &reservation.caller;
            let hold_ttl = inner.marker_ttl();
            match commands::reserve(
                inner.conn.clone(),
                inner.options.namespace,
                &reservation,
                cap,
                hold_ttl,
                now,
            )
            .await
            {
                Ok((admitted, spent)) => {
                    inner.health.succeeded(inner.backlog.len());
                    inner.backlog.saw_spent(caller, month, spent);
                    Ok(if admitted {
                        Admission::Admitted { spent }
                    } else {
                        Admission::Refused { spent }
                    })
                }
                Err(error) => {
                    inner.health.failed("reserve", &error);
                    if amount > Money::ZERO && may_have_landed(&error) {
                        inner.queue(Pending::Cancel(reservation.clone()));
                    }
                    match inner.options.unavailable {
                        UnavailablePolicy::FailClosed => {
                            metrics::counter!(health::FAIL_CLOSED_REFUSALS_TOTAL).increment(1);
                            Err(unavailable(&error))
                        }
                        UnavailablePolicy::FailOpen => {
                            metrics::counter!(health::FAIL_OPEN_ADMISSIONS_TOTAL).increment(1);
                            inner.backlog.add_unbacked(caller, month, amount);
                            Ok(Admission::Admitted {
                                spent: inner.backlog.estimate_spent(caller, month),
                            })
                        }
                    }
                }
            }
        })
    }

    fn settle(&self, entry: LedgerEntry, reserved: Money) -> StoreFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            inner.settle_entry(entry, reserved).await;
            Ok(())
        })
    }

    /// The settling script reads the caller's spend as it counts the entry: one round trip.
    fn settle_and_spent(
        self: Arc<Self>,
        entry: LedgerEntry,
        reserved: Money,
    ) -> StoreFuture<Money> {
        let (caller, month) = (entry.caller.clone(), entry.month());
        Box::pin(async move {
            let inner = &self.inner;
            // As `spent` answers: Redis's figure, else this replica's estimate.
            Ok(match inner.settle_entry(entry, reserved).await {
                Some(spent) => {
                    inner.backlog.saw_spent(&caller, month, spent);
                    spent
                }
                None => inner.backlog.estimate_spent(&caller, month),
            })
        })
    }

    fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()> {
        let inner = self.inner.clone();
        let caller = caller.clone();
        Box::pin(async move {
            let amount = inner.backlog.take_unbacked(&caller, month, reserved);
            if amount == Money::ZERO {
                return Ok(());
            }
            match commands::release(
                inner.conn.clone(),
                inner.options.namespace,
                &caller,
                month,
                amount,
            )
            .await
            {
                Ok(()) => inner.health.succeeded(inner.backlog.len()),
                Err(error) => {
                    inner.health.failed("release", &error);
                    inner.queue(Pending::Release {
                        caller,
                        month,
                        amount,
                    });
                }
            }
            Ok(())
        })
    }

    fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money> {
        let inner = self.inner.clone();
        let caller = caller.clone();
        Box::pin(async move {
            match commands::spent(inner.conn.clone(), inner.options.namespace, &caller, month).await
            {
                Ok(spent) => {
                    inner.health.succeeded(inner.backlog.len());
                    inner.backlog.saw_spent(&caller, month, spent);
                    Ok(spent)
                }
                Err(error) => {
                    inner.health.failed("spent", &error);
                    // Spend gates nothing by itself (reservations do), so this replica's
                    // best estimate serves model overrides and alerts through an outage.
                    Ok(inner.backlog.estimate_spent(&caller, month))
                }
            }
        })
    }

    fn summary(&self, month: Month) -> StoreFuture<SpendSummary> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let summary =
                commands::summary(inner.conn.clone(), inner.options.namespace, month).await;
            inner.report(summary, "summary")
        })
    }

    fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let hourly =
                commands::hourly(inner.conn.clone(), inner.options.namespace, first, hours).await;
            inner.report(hourly, "hourly")
        })
    }

    /// Replays the settlements queued in this replica (graceful shutdown); fails, naming how
    /// many are lost, when Redis does not take them all.
    fn flush(&self) -> StoreFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            match inner.replay().await {
                0 => Ok(()),
                left => Err(StoreError::Unavailable(format!(
                    "{left} queued settlements and releases could not reach redis"
                ))),
            }
        })
    }
}

// === impl Inner ===

impl Inner {
    /// The markers' expiry in whole seconds (at least one).
    fn marker_ttl(&self) -> u64 {
        self.options.marker_ttl.as_secs().max(1)
    }

    /// Names a new reservation.
    fn reservation(&self, caller: &Caller, month: Month, amount: Money) -> Reservation {
        let number = self.reservations.fetch_add(1, Ordering::Relaxed);
        Reservation {
            caller: caller.clone(),
            month,
            amount,
            id: format!("{:016x}-{number}", self.replica),
        }
    }

    /// Settles `entry` in Redis, or queues it for a replay when Redis does not answer (the
    /// settlement is then counted later, never lost). Returns the caller's settled spend in
    /// the entry's month after it, as Redis counted it; `None` when it was queued.
    async fn settle_entry(&self, entry: LedgerEntry, reserved: Money) -> Option<Money> {
        let release = self
            .backlog
            .take_unbacked(&entry.caller, entry.month(), reserved);
        match self.settle(&entry, release, false).await {
            Ok((counted, spent)) => {
                self.health.succeeded(self.backlog.len());
                if !counted {
                    tracing::debug!(request_id = %entry.request_id, "request already settled");
                }
                Some(spent)
            }
            Err(error) => {
                self.health.failed("settle", &error);
                self.queue(Pending::Settle { entry, release });
                None
            }
        }
    }

    async fn settle(
        &self,
        entry: &LedgerEntry,
        release: Money,
        replay: bool,
    ) -> Result<(bool, Money), RedisError> {
        let now = self.clock.now();
        let marker_ttl = self.marker_ttl();
        commands::settle(
            self.conn.clone(),
            self.options.namespace,
            entry,
            release,
            replay,
            marker_ttl,
            now,
        )
        .await
    }

    fn queue(&self, pending: Pending) {
        let queued = self.backlog.push(pending);
        metrics::gauge!(health::PENDING).set(queued as f64);
    }

    /// A report read: fleet-wide from Redis, or unavailable.
    fn report<T>(
        &self,
        result: Result<T, RedisError>,
        operation: &'static str,
    ) -> Result<T, StoreError> {
        match result {
            Ok(report) => {
                self.health.succeeded(self.backlog.len());
                Ok(report)
            }
            Err(error) => {
                self.health.failed(operation, &error);
                Err(unavailable(&error))
            }
        }
    }

    /// Replays the backlog in order until it is empty or Redis fails; returns what is left.
    /// One replay runs at a time; a second caller returns at once.
    async fn replay(&self) -> usize {
        let Some(_replaying) = ReplayGuard::claim(&self.replaying) else {
            return self.backlog.len();
        };
        while let Some(pending) = self.backlog.front() {
            let result = match &pending {
                Pending::Settle { entry, release } => {
                    self.settle(entry, *release, true).await.map(drop)
                }
                Pending::Cancel(reservation) => {
                    commands::cancel(self.conn.clone(), self.options.namespace, reservation).await
                }
                Pending::Release {
                    caller,
                    month,
                    amount,
                } => {
                    commands::release(
                        self.conn.clone(),
                        self.options.namespace,
                        caller,
                        *month,
                        *amount,
                    )
                    .await
                }
            };
            if let Err(error) = result {
                self.health.failed("replay", &error);
                break;
            }
            let left = self.backlog.done();
            metrics::gauge!(health::PENDING).set(left as f64);
            metrics::counter!(health::REPLAYED_TOTAL).increment(1);
            self.health.succeeded(left);
        }
        self.backlog.len()
    }
}

/// Says at start-up whether Redis answers.
async fn first_contact(inner: Arc<Inner>) {
    let ping: Result<String, RedisError> = redis::cmd("PING")
        .query_async(&mut inner.conn.clone())
        .await;
    match ping {
        Ok(_) => inner.health.succeeded(0),
        Err(error) => inner.health.failed("connect", &error),
    }
}

/// Replays the backlog every `replay_interval` until the store is dropped.
async fn replay_loop(inner: Weak<Inner>) {
    let Some(interval) = inner.upgrade().map(|inner| inner.options.replay_interval) else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.backlog.len() > 0 {
            inner.replay().await;
        }
    }
}

/// Holds the replay flag; clears it when dropped, even if the replay is cancelled.
struct ReplayGuard<'a>(&'a AtomicBool);

impl<'a> ReplayGuard<'a> {
    fn claim(flag: &'a AtomicBool) -> Option<Self> {
        (!flag.swap(true, Ordering::Acquire)).then_some(Self(flag))
    }
}

impl Drop for ReplayGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Whether a failed command may still have run: it may have reached Redis before the
/// connection broke or the reply timed out. A refused connection never sent it.
fn may_have_landed(error: &RedisError) -> bool {
    !error.is_connection_refusal()
        && (error.is_io_error() || error.is_timeout() || error.is_connection_dropped())
}

fn unavailable(error: &RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {error}"))
}
