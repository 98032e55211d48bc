//! [`RequestLog`]: the bounded queue in front of the store, and the writer task behind it.

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use infermux_core::SharedClock;
use tokio::sync::{
    Notify,
    mpsc::{self, error::TryRecvError},
    oneshot,
};

use crate::{RequestRecord, RequestStore, record::millis};

/// How the writer batches and how long rows are kept.
#[derive(Clone, Copy, Debug)]
pub struct LogOptions {
    /// Rows waiting to be written; beyond it rows are dropped (and counted), never waited for.
    pub queue: usize,
    /// Rows per transaction at most.
    pub batch: usize,
    /// How long a row may wait for its batch to fill.
    pub linger: Duration,
    /// Rows older than this are deleted (checked hourly); `None` keeps everything.
    pub retention: Option<Duration>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            queue: 16_384,
            batch: 1_000,
            linger: Duration::from_millis(100),
            retention: Some(Duration::from_secs(90 * 86_400)),
        }
    }
}

// Rows are the common message: boxing them would add an allocation to every request.
#[allow(clippy::large_enum_variant)]
enum Message {
    Row(RequestRecord),
    Flush(oneshot::Sender<()>),
}

/// The handle requests are logged through: [`record`](Self::record) never waits; a full
/// queue drops the row and counts it in `infermux_request_log_dropped_total`.
#[derive(Clone)]
pub struct RequestLog(Arc<Shared>);

/// What every handle of one log shares.
struct Shared {
    tx: mpsc::Sender<Message>,
    wake: Arc<Wake>,
    store: Arc<dyn RequestStore>,
    dropped: metrics::Counter,
    writer: Mutex<Option<Writer>>,
}

/// What the writer task needs, until it is started.
struct Writer {
    rx: mpsc::Receiver<Message>,
    wake: Arc<Wake>,
    options: LogOptions,
    clock: SharedClock,
}

/// How the handles end the writer's linger early: when the rows queued fill its batch, when a
/// flush waits, and when the last handle goes.
struct Wake {
    notify: Notify,
    /// The rows that fill the batch the writer lingers over.
    wanted: AtomicUsize,
    /// Every handle is gone. (On another thread the channel may not say so yet.)
    closed: AtomicBool,
}

impl Shared {
    /// Rows (and flushes) waiting in the queue.
    fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// The last handle is gone: the writer writes what is queued without waiting out its linger.
impl Drop for Shared {
    fn drop(&mut self) {
        self.wake.closed.store(true, Ordering::Release);
        self.wake.notify.notify_one();
    }
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog")
            .field("queued", &self.0.queued())
            .finish_non_exhaustive()
    }
}

impl RequestLog {
    /// A log writing into `store`, once its [`writer`](Self::writer) runs; until then rows
    /// queue (and, beyond the queue, are dropped). Needs no runtime.
    ///
    /// The retention is counted back from `clock`'s time: give it the clock that dates the
    /// rows (the [`RequestLogLayer`](crate::RequestLogLayer)'s).
    pub fn new(store: Arc<dyn RequestStore>, options: LogOptions, clock: SharedClock) -> Self {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let wake = Arc::new(Wake {
            notify: Notify::new(),
            wanted: AtomicUsize::new(options.batch),
            closed: AtomicBool::new(false),
        });
        Self(Arc::new(Shared {
            tx,
            wake: wake.clone(),
            store,
            dropped: metrics::counter!("infermux_request_log_dropped_total"),
            writer: Mutex::new(Some(Writer {
                rx,
                wake,
                options,
                clock,
            })),
        }))
    }

    /// A log writing into `store`, its writer spawned on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(store: Arc<dyn RequestStore>, options: LogOptions, clock: SharedClock) -> Self {
        let log = Self::new(store, options, clock);
        if let Some(writer) = log.writer() {
            tokio::spawn(writer);
        }
        log
    }

    /// The writer task, to be spawned once: it takes rows off the queue in batches and
    /// writes them, and deletes rows past the retention every hour. `None` once taken.
    pub fn writer(&self) -> Option<impl Future<Output = ()> + Send + 'static + use<>> {
        let writer = self.0.writer.lock().ok()?.take()?;
        Some(write(self.0.store.clone(), writer))
    }

    /// Queues `record` for writing, or drops (and counts) it when the queue is full.
    pub fn record(&self, record: RequestRecord) {
        if self.0.tx.try_send(Message::Row(record)).is_err() {
            self.0.dropped.increment(1);
        } else if self.0.queued() >= self.0.wake.wanted.load(Ordering::Relaxed) {
            self.0.wake.notify.notify_one();
        }
    }

    /// Waits until every row queued before the call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.0.tx.send(Message::Flush(done)).await.is_ok() {
            self.0.wake.notify.notify_one();
            let _ = wait.await;
        }
    }

    /// The store the rows are written to, for queries.
    pub fn store(&self) -> &Arc<dyn RequestStore> {
        &self.0.store
    }
}

/// The writer: takes up to `batch` rows (lingering at most `linger` for more once one came),
/// writes them in one transaction, and answers flushes once what preceded them is written.
///
/// While it lingers it waits for the deadline or for [`Wake`], not for each row: a row queued
/// then costs its request no wake-up of this task. (A row that races the writer's last look
/// before it lingers may wait out the linger; none is lost.)
async fn write(store: Arc<dyn RequestStore>, writer: Writer) {
    let Writer {
        mut rx,
        wake,
        options,
        clock,
    } = writer;
    let mut rows = Vec::new();
    let mut flushes = Vec::new();
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    loop {
        let first = tokio::select! {
            message = rx.recv() => message,
            _ = prune.tick() => {
                if let Some(keep) = options.retention {
                    let before = millis(clock.now()) - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
                    if let Err(error) = store.prune(before).await {
                        tracing::warn!(%error, "could not delete old request log rows");
                    }
                }
                continue;
            }
        };
        let Some(first) = first else {
            return;
        };
        let deadline = tokio::time::Instant::now() + options.linger;
        let mut write_now =
            take_queued(Some(first), &mut rx, &mut rows, &mut flushes, options.batch);
        while !write_now {
            // Tell the handles how many rows fill the batch, then look once more: rows queued
            // before they knew are taken now, and later ones wake the writer.
            wake.wanted
                .store(options.batch - rows.len(), Ordering::Relaxed);
            if take_queued(None, &mut rx, &mut rows, &mut flushes, options.batch) {
                break;
            }
            let lingered = tokio::select! {
                () = tokio::time::sleep_until(deadline) => true,
                () = wake.notify.notified() => false,
            };
            write_now = take_queued(None, &mut rx, &mut rows, &mut flushes, options.batch)
                || lingered
                || wake.closed.load(Ordering::Acquire);
        }
        if !rows.is_empty() {
            let count = rows.len();
            if let Err(error) = store.insert(std::mem::take(&mut rows)).await {
                tracing::error!(%error, rows = count, "could not write request log rows");
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Moves `first`, then every queued message, into `rows` and `flushes`, until the queue is
/// empty; returns whether the batch is to be written now: it is full, a flush waits for it, or
/// every handle is gone.
fn take_queued(
    mut first: Option<Message>,
    rx: &mut mpsc::Receiver<Message>,
    rows: &mut Vec<RequestRecord>,
    flushes: &mut Vec<oneshot::Sender<()>>,
    batch: usize,
) -> bool {
    loop {
        let message = match first.take().map_or_else(|| rx.try_recv(), Ok) {
            Ok(message) => message,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => return true,
        };
        match message {
            Message::Row(row) => rows.push(row),
            Message::Flush(done) => {
                flushes.push(done);
                return true;
            }
        }
        if rows.len() >= batch {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::{sync::mpsc::UnboundedReceiver, time::Instant};

    use super::*;
    use crate::{
        Bucketed, Cursor, Filter, GroupBy, Page, SqliteStore, UsageReport,
        store::{LogError, LogFuture},
    };

    /// A store in memory that reports the size of every batch written.
    struct Observed {
        inner: SqliteStore,
        written: mpsc::UnboundedSender<usize>,
    }

    impl RequestStore for Observed {
        fn insert(&self, rows: Vec<RequestRecord>) -> LogFuture<'_, ()> {
            Box::pin(async move {
                let count = rows.len();
                self.inner.insert(rows).await?;
                self.written
                    .send(count)
                    .map_err(|_| LogError::new("nobody watches"))
            })
        }

        fn list<'a>(
            &'a self,
            filter: &'a Filter,
            limit: usize,
            cursor: Option<Cursor>,
        ) -> LogFuture<'a, Page> {
            self.inner.list(filter, limit, cursor)
        }

        fn usage<'a>(
            &'a self,
            filter: &'a Filter,
            group_by: GroupBy,
        ) -> LogFuture<'a, UsageReport> {
            self.inner.usage(filter, group_by)
        }

        fn series<'a>(
            &'a self,
            filter: &'a Filter,
            bucket_ms: i64,
            by: Option<GroupBy>,
        ) -> LogFuture<'a, Bucketed> {
            self.inner.series(filter, bucket_ms, by)
        }

        fn prune(&self, before_ms: i64) -> LogFuture<'_, u64> {
            self.inner.prune(before_ms)
        }
    }

    const LINGER: Duration = Duration::from_secs(60);

    /// A started log batching `batch` rows for at most [`LINGER`], and the sizes of the
    /// batches it writes.
    fn observed_log(batch: usize) -> (RequestLog, UnboundedReceiver<usize>) {
        let (written, batches) = mpsc::unbounded_channel();
        let store = Observed {
            inner: SqliteStore::in_memory().expect("sqlite"),
            written,
        };
        let options = LogOptions {
            batch,
            linger: LINGER,
            ..LogOptions::default()
        };
        (
            RequestLog::start(
                Arc::new(store),
                options,
                Arc::new(infermux_core::SystemClock),
            ),
            batches,
        )
    }

    /// Records `rows` rows dated now (older ones would fall to the writer's first prune).
    fn record(log: &RequestLog, rows: usize) {
        record_at(log, rows, std::time::SystemTime::now());
    }

    fn record_at(log: &RequestLog, rows: usize, at: std::time::SystemTime) {
        let at_ms = millis(at);
        for _ in 0..rows {
            log.record(RequestRecord {
                at_ms,
                ..RequestRecord::default()
            });
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_retention_is_counted_by_the_clock_that_dates_the_rows() {
        let day = Duration::from_secs(86_400);
        let now = humantime::parse_rfc3339("2026-03-14T12:00:00Z").expect("time");
        let options = LogOptions {
            retention: Some(30 * day),
            ..LogOptions::default()
        };
        let log = RequestLog::start(
            Arc::new(SqliteStore::in_memory().expect("sqlite")),
            options,
            Arc::new(infermux_core::FixedClock(now)),
        );
        record_at(&log, 2, now - 4 * day);
        record_at(&log, 1, now - 31 * day);
        log.flush().await;
        // The next hourly prune deletes the row past 30 days by the log's clock, not by the
        // system's (by which every row here is older than 30 days).
        tokio::time::sleep(Duration::from_secs(3601)).await;
        log.flush().await;
        let kept = log
            .store()
            .usage(&Filter::default(), GroupBy::Caller)
            .await
            .expect("usage");
        assert_eq!(kept.total.requests, 2);
    }

    /// Records one row and lets the paused clock run to half the linger: by then the writer
    /// has taken the row and lingers for more.
    async fn one_row_lingering(log: &RequestLog) {
        record(log, 1);
        tokio::time::sleep(LINGER / 2).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_is_written_without_waiting_for_the_linger() {
        let (log, mut batches) = observed_log(4);
        let start = Instant::now();
        one_row_lingering(&log).await;
        record(&log, 3);
        assert_eq!(batches.recv().await, Some(4));
        assert!(
            start.elapsed() < LINGER,
            "written after {:?}",
            start.elapsed()
        );
        // A batch that does not fill waits out the linger for company.
        let start = Instant::now();
        record(&log, 2);
        assert_eq!(batches.recv().await, Some(2));
        assert!(
            start.elapsed() >= LINGER,
            "written after {:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_ends_the_linger() {
        let (log, mut batches) = observed_log(4);
        let start = Instant::now();
        one_row_lingering(&log).await;
        record(&log, 2);
        log.flush().await;
        assert!(
            start.elapsed() < LINGER,
            "flushed after {:?}",
            start.elapsed()
        );
        assert_eq!(batches.try_recv().ok(), Some(3));
        let kept = log
            .store()
            .usage(&Filter::default(), GroupBy::Caller)
            .await
            .expect("usage");
        assert_eq!(kept.total.requests, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn rows_queued_when_the_last_handle_goes_are_written_at_once() {
        let (log, mut batches) = observed_log(4);
        let start = Instant::now();
        one_row_lingering(&log).await;
        record(&log, 1);
        drop(log);
        assert_eq!(batches.recv().await, Some(2));
        assert!(
            start.elapsed() < LINGER,
            "written after {:?}",
            start.elapsed()
        );
        assert_eq!(batches.recv().await, None, "the writer ends");
    }
}
