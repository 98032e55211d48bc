//! [`RequestLog`]: the bounded queue in front of the store, and the writer task behind it.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot};

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
pub struct RequestLog {
    tx: mpsc::Sender<Message>,
    store: Arc<dyn RequestStore>,
    dropped: metrics::Counter,
    writer: Arc<Mutex<Option<Writer>>>,
}

/// What the writer task needs, until it is started.
struct Writer {
    rx: mpsc::Receiver<Message>,
    options: LogOptions,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog")
            .field("queued", &(self.tx.max_capacity() - self.tx.capacity()))
            .finish_non_exhaustive()
    }
}

impl RequestLog {
    /// A log writing into `store`, once its [`writer`](Self::writer) runs; until then rows
    /// queue (and, beyond the queue, are dropped). Needs no runtime.
    pub fn new(store: Arc<dyn RequestStore>, options: LogOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        Self {
            tx,
            store,
            dropped: metrics::counter!("infermux_request_log_dropped_total"),
            writer: Arc::new(Mutex::new(Some(Writer { rx, options }))),
        }
    }

    /// A log writing into `store`, its writer spawned on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(store: Arc<dyn RequestStore>, options: LogOptions) -> Self {
        let log = Self::new(store, options);
        if let Some(writer) = log.writer() {
            tokio::spawn(writer);
        }
        log
    }

    /// The writer task, to be spawned once: it takes rows off the queue in batches and
    /// writes them, and deletes rows past the retention every hour. `None` once taken.
    pub fn writer(&self) -> Option<impl Future<Output = ()> + Send + 'static + use<>> {
        let Writer { rx, options } = self.writer.lock().ok()?.take()?;
        Some(write(self.store.clone(), rx, options))
    }

    /// Queues `record` for writing, or drops (and counts) it when the queue is full.
    pub fn record(&self, record: RequestRecord) {
        if self.tx.try_send(Message::Row(record)).is_err() {
            self.dropped.increment(1);
        }
    }

    /// Waits until every row queued before the call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The store the rows are written to, for queries.
    pub fn store(&self) -> &Arc<dyn RequestStore> {
        &self.store
    }
}

/// The writer: takes up to `batch` rows (waiting at most `linger` for more once one came),
/// writes them in one transaction, and answers flushes once what preceded them is written.
async fn write(store: Arc<dyn RequestStore>, mut rx: mpsc::Receiver<Message>, options: LogOptions) {
    let mut rows = Vec::new();
    let mut flushes = Vec::new();
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    loop {
        let first = tokio::select! {
            message = rx.recv() => message,
            _ = prune.tick() => {
                if let Some(keep) = options.retention {
                    let before = millis(std::time::SystemTime::now()) - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
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
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Row(row) => rows.push(row),
                Message::Flush(done) => {
                    flushes.push(done);
                    break;
                }
            }
            if rows.len() >= options.batch {
                break;
            }
            next = match rx.try_recv() {
                Ok(message) => Some(message),
                Err(_) => tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .ok()
                    .flatten(),
            };
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
