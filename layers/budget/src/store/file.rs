//! The durable spend store of one node: a JSON snapshot plus an append-only journal.
//!
//! Every settled request is appended to the journal (`<state_file>.journal`) as one JSON
//! line, written to the file before [`settle`](SpendStore::settle) completes, so the spend
//! of a response that completed survives a crash of the process (SIGKILL: the kernel keeps
//! what was written). Lines queued while no write is in progress are written together, with
//! one syscall (group commit, see [`super::journal`]). A maintenance thread fsyncs the journal
//! at most [`SYNC_EVERY`] after a write, so spend also survives a power loss or kernel crash
//! within that bound, without any response waiting for a disk flush or a thread hand-off.
//!
//! The snapshot (`state_file`) is the whole state, rewritten atomically (temp file, fsync,
//! rename, fsync of the directory) at start-up after replaying the journal, every
//! [`COMPACT_EVERY`] entries, and on [`flush`](SpendStore::flush) (graceful shutdown); the
//! journal is then replaced by a fresh one holding the lines the snapshot may lack. No
//! settlement waits for those fsyncs: the journal's lock is held only to copy the state and
//! to swap the files. Each journal line carries a sequence number and the snapshot
//! records the last one it contains, so a crash between writing a snapshot and truncating
//! the journal, or a retried append, never counts an entry twice.
//!
//! When a write or fsync fails, the old files stay as they were, the store reports itself
//! unavailable (so `hard_stop` callers are refused with 503 instead of being admitted against
//! spend that may not be on disk), an error is logged on every failed attempt, and the
//! maintenance thread retries (by compacting: the snapshot holds every settled entry) every
//! second until a write succeeds again.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};

use infermux_core::{
    Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SpendStore, SpendSummary,
    StoreError, StoreFuture,
};

use super::{
    format::{JournalLine, Snapshot, write_journal_line},
    journal::{Journal, Turn},
    state::SpendState,
};

/// Journal entries between two compactions.
pub const COMPACT_EVERY: u64 = 10_000;

/// Longest time a written journal line waits for its fsync.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

/// How often a failed journal is retried.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// How long [`FileStore::open`] waits for another process (or an earlier store in this one)
/// to let go of the state file.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A durable spend store in a state file; see the module docs.
#[derive(Clone, Debug)]
pub struct FileStore {
    shared: Arc<Shared>,
    /// Dropping the last store stops the maintenance thread, which then saves a snapshot.
    _stop: Arc<mpsc::Sender<()>>,
}

/// What the stores and the maintenance thread share.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    journal_path: PathBuf,
    /// The spend state; always locked before `journal` when both are needed.
    ledger: Mutex<Ledger>,
    journal: Mutex<Journal>,
    /// Woken when a batch of journal lines was written.
    written: tokio::sync::Notify,
    /// Held for the whole of a compaction: two at once would each carry only part of the
    /// lines written meanwhile into their fresh journals.
    compaction: Mutex<()>,
    failed: AtomicBool,
    failure: Mutex<String>,
}

#[derive(Clone, Debug, Default)]
struct Ledger {
    state: SpendState,
    /// The sequence number of the last entry applied.
    seq: u64,
}

fn unavailable(context: &str, path: &Path, error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{context} {}: {error}", path.display()))
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FileStore {
    /// Opens the state at `path` (creating it and its directory if needed), replays the
    /// journal into it, writes a fresh snapshot, and starts the maintenance thread.
    ///
    /// Fails when the snapshot or a journal line before the last cannot be read: spend is
    /// never silently reset. A torn last journal line (a crash mid-append, so no response
    /// depended on it) is skipped with a warning.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        if let Some(dir) = parent(&path) {
            fs::create_dir_all(dir)
                .map_err(|e| unavailable("cannot create the directory of", &path, e))?;
        }
        let lock = lock(&path)?;
        let mut ledger = read_snapshot(&path)?;
        let journal_path = journal_path(&path);
        let replayed = replay(&journal_path, &mut ledger)?;
        write_snapshot(&path, &ledger)?;
        let file = open_journal(&journal_path, true)?;
        tracing::info!(
            state_file = %path.display(),
            replayed,
            seq = ledger.seq,
            "spend state loaded"
        );
        let shared = Arc::new(Shared {
            path,
            journal_path,
            ledger: Mutex::new(ledger),
            journal: Mutex::new(Journal::new(file)),
            written: tokio::sync::Notify::new(),
            compaction: Mutex::new(()),
            failed: AtomicBool::new(false),
            failure: Mutex::new(String::new()),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("infermux-spend-journal".into())
            .spawn(move || maintain(&thread_shared, &stopped, lock))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the journal thread: {e}"))
            })?;
        Ok(Self {
            shared,
            _stop: Arc::new(stop),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut locked(&self.shared.ledger))
    }

    /// Records `entry` in the state, releases `reserved` of its caller's reservations, and
    /// queues its journal line; returns the batch the line goes out in.
    fn record(&self, entry: &LedgerEntry, reserved: Money) -> u64 {
        let seq = self.with(|l| {
            l.state.release(&entry.caller, entry.month(), reserved);
            l.state.apply(entry);
            l.seq += 1;
            l.seq
        });
        self.shared.queue(entry, seq)
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(
                locked(&self.shared.failure).clone(),
            ));
        }
        Ok(())
    }
}

/// Takes the state file's lock (`<state_file>.lock`), held by the maintenance thread for as long
/// as the store lives: two processes appending to one journal would number their lines
/// alike, and replay would drop one of each pair.
fn lock(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| unavailable("cannot open", &lock_path, e))?;
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(unavailable(
                    "another infermux process holds",
                    &lock_path,
                    "each state_file serves one process; use `store: redis` to share spend",
                ));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(unavailable("cannot lock", &lock_path, e));
            }
        }
    }
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// `budgets.json` -> `budgets.json.journal`.
fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

fn read_snapshot(path: &Path) -> Result<Ledger, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ledger::default()),
        Err(e) => return Err(unavailable("cannot read", path, e)),
    };
    let snapshot: Snapshot =
        serde_json::from_str(&text).map_err(|e| unavailable("cannot parse", path, e))?;
    let seq = snapshot.seq;
    let state = snapshot
        .into_state()
        .map_err(|e| unavailable("cannot parse", path, e))?;
    Ok(Ledger { state, seq })
}

/// Applies the journal's entries that the snapshot does not contain; returns how many.
fn replay(path: &Path, ledger: &mut Ledger) -> Result<u64, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(unavailable("cannot read", path, e)),
    };
    let covered = ledger.seq;
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut replayed = 0;
    for (i, line) in lines.iter().enumerate() {
        let parsed = serde_json::from_str::<JournalLine>(line)
            .map_err(|e| e.to_string())
            .and_then(|l| Ok((l.seq, l.into_entry()?)));
        let (seq, entry) = match parsed {
            Ok(parsed) => parsed,
            Err(error) if i + 1 == lines.len() => {
                tracing::warn!(journal = %path.display(), %error, "skipping a torn last journal line");
                continue;
            }
            Err(error) => {
                return Err(unavailable(
                    &format!("line {} is unreadable in", i + 1),
                    path,
                    error,
                ));
            }
        };
        // Entries already in the snapshot, and lines written twice by a retried append.
        if seq <= covered || !seen.insert(seq) {
            continue;
        }
        ledger.state.apply(&entry);
        ledger.seq = ledger.seq.max(seq);
        replayed += 1;
    }
    Ok(replayed)
}

/// Writes the snapshot atomically: temp file, fsync, rename, fsync of the directory.
fn write_snapshot(path: &Path, ledger: &Ledger) -> Result<(), StoreError> {
    let mut json = serde_json::to_vec_pretty(&Snapshot::of(&ledger.state, ledger.seq))
        .map_err(|e| unavailable("cannot encode", path, e))?;
    json.push(b'\n');
    let dir = parent(path).unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| unavailable("cannot create a temporary file for", path, e))?;
    temp.write_all(&json)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| unavailable("cannot write", path, e))?;
    temp.persist(path)
        .map_err(|e| unavailable("cannot replace", path, e.error))?;
    sync_dir(dir).map_err(|e| unavailable("cannot sync the directory of", path, e))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn open_journal(path: &Path, truncate: bool) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| unavailable("cannot open", path, e))?;
    if truncate {
        file.set_len(0)
            .and_then(|()| file.sync_all())
            .map_err(|e| unavailable("cannot truncate", path, e))?;
        sync_dir(parent(path).unwrap_or(Path::new(".")))
            .map_err(|e| unavailable("cannot sync the directory of", path, e))?;
    }
    Ok(file)
}

// === impl Shared ===

impl Shared {
    /// Queues the journal line of `entry`, number `seq`; returns the batch it goes out in.
    fn queue(&self, entry: &LedgerEntry, seq: u64) -> u64 {
        locked(&self.journal).queue(|pending| write_journal_line(entry, seq, pending))
    }

    /// Completes once the batch holding a settled line is written: writes every queued line
    /// with one syscall, or waits for the settlement that is writing them
    /// ([`journal`](super::journal)).
    async fn written(self: Arc<Self>, batch: u64) -> Result<(), StoreError> {
        loop {
            let notified = self.written.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let turn = locked(&self.journal).turn(batch);
            match turn {
                Turn::Done(Ok(())) => return Ok(()),
                Turn::Done(Err(())) => {
                    return Err(StoreError::Unavailable(locked(&self.failure).clone()));
                }
                Turn::Write(taken) => return self.write(taken),
                Turn::Wait => notified.await,
            }
        }
    }

    /// Writes a taken batch without the journal's lock, records the outcome, and wakes the
    /// batch's waiters.
    fn write(&self, batch: super::journal::Batch) -> Result<(), StoreError> {
        let written = batch.write(|| StoreError::Unavailable(locked(&self.failure).clone()));
        let result = locked(&self.journal).finish(batch, written);
        self.written.notify_waiters();
        result.map_err(|e| {
            let error = unavailable("cannot append to", &self.journal_path, e);
            self.failed(&error);
            error
        })
    }

    /// Writes the queued lines that no settlement is writing (their waiters may be gone),
    /// then fsyncs the journal if lines were written since the last fsync.
    fn sync(&self) -> Result<(), StoreError> {
        let taken = locked(&self.journal).take_if_idle();
        if let Some(taken) = taken {
            // Errors are logged and published by `write`.
            let _ = self.write(taken);
        }
        // Fsync without the lock, so appends need not wait for the disk.
        let file = {
            let mut journal = locked(&self.journal);
            if !journal.dirty {
                return Ok(());
            }
            journal.dirty = false;
            journal.file.clone()
        };
        let Some(file) = file else {
            return Ok(());
        };
        file.sync_data().map_err(|e| {
            // What the failed fsync covered is unknown: compact to a fresh journal.
            locked(&self.journal).file = None;
            let error = unavailable("cannot fsync", &self.journal_path, e);
            self.failed(&error);
            error
        })
    }

    /// Writes a snapshot of the current state and starts a fresh journal, holding the
    /// journal's lock only to copy the state and to swap the files, never across an fsync.
    ///
    /// Lines written while the snapshot is saved are kept in the journal's `carry` and
    /// written into the fresh journal before it replaces the old one, so at every moment the
    /// snapshot and the journal on disk together hold every written line: lines the snapshot
    /// contains are skipped by number on replay, the others replayed.
    fn compact(&self) -> Result<(), StoreError> {
        let _compaction = locked(&self.compaction);
        let ledger = {
            let mut journal = locked(&self.journal);
            journal.carry = Some(Vec::new());
            locked(&self.ledger).clone()
        };
        let fresh = write_snapshot(&self.path, &ledger).and_then(|()| {
            tempfile::NamedTempFile::new_in(parent(&self.path).unwrap_or(Path::new(".")))
                .map_err(|e| unavailable("cannot create a journal beside", &self.path, e))
        });
        let mut journal = locked(&self.journal);
        let carry = journal.carry.take().unwrap_or_default();
        let swapped = fresh.and_then(|mut fresh| {
            fresh
                .write_all(&carry)
                .map_err(|e| unavailable("cannot write", &self.journal_path, e))?;
            fresh
                .persist(&self.journal_path)
                .map_err(|e| unavailable("cannot replace", &self.journal_path, e.error))
        });
        match swapped {
            Ok(file) => {
                let file = Arc::new(file);
                journal.file = Some(file.clone());
                journal.dirty = false;
                journal.since_compaction = carry.iter().filter(|&&b| b == b'\n').count() as u64;
                drop(journal);
                file.sync_data()
                    .and_then(|()| sync_dir(parent(&self.path).unwrap_or(Path::new("."))))
                    .map_err(|e| {
                        locked(&self.journal).file = None;
                        let error = unavailable("cannot fsync", &self.journal_path, e);
                        self.failed(&error);
                        error
                    })?;
                self.recovered();
                Ok(())
            }
            Err(error) => {
                journal.file = None;
                drop(journal);
                self.failed(&error);
                Err(error)
            }
        }
    }

    /// Whether the journal failed or is due for compaction.
    fn wants_compaction(&self) -> bool {
        let journal = locked(&self.journal);
        journal.file.is_none() || journal.since_compaction >= COMPACT_EVERY
    }

    fn failed(&self, error: &StoreError) {
        tracing::error!(
            state_file = %self.path.display(),
            %error,
            "spend state cannot be written; hard_stop callers are refused until it can"
        );
        *locked(&self.failure) = error.to_string();
        self.failed.store(true, Ordering::Release);
    }

    fn recovered(&self) {
        if self.failed.swap(false, Ordering::AcqRel) {
            tracing::warn!(state_file = %self.path.display(), "spend state is written again");
        }
    }
}

/// The maintenance thread: fsyncs the journal every [`SYNC_EVERY`] while lines are written,
/// compacts it every [`COMPACT_EVERY`] lines, retries a failed one every [`RETRY_EVERY`], and
/// leaves a fresh snapshot when the last store is dropped. Holds the state file's lock for
/// as long as it runs.
fn maintain(shared: &Shared, stopped: &mpsc::Receiver<()>, _lock: File) {
    loop {
        let wait = if shared.failed.load(Ordering::Acquire) {
            RETRY_EVERY
        } else {
            SYNC_EVERY
        };
        match stopped.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Err(error) = shared.compact() {
                    tracing::error!(%error, "spend state could not be saved at exit");
                }
                return;
            }
        }
        // Errors are logged and published by `sync` and `compact` themselves.
        let _ = shared.sync();
        if shared.wants_compaction() {
            let _ = shared.compact();
        }
    }
}

// === impl SpendStore for FileStore ===

fn done<T: Send + 'static>(value: Result<T, StoreError>) -> StoreFuture<T> {
    Box::pin(std::future::ready(value))
}

impl SpendStore for FileStore {
    fn reserve(
        &self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreFuture<Admission> {
        done(
            self.check()
                .map(|()| self.with(|l| l.state.reserve(caller, month, amount, cap))),
        )
    }

    fn settle(&self, entry: LedgerEntry, reserved: Money) -> StoreFuture<()> {
        let batch = self.record(&entry, reserved);
        Box::pin(self.shared.clone().written(batch))
    }

    /// The spend is read once the entry's journal line is written, as `spent` would read it
    /// then, in the same future.
    fn settle_and_spent(
        self: Arc<Self>,
        entry: LedgerEntry,
        reserved: Money,
    ) -> StoreFuture<Money> {
        let batch = self.record(&entry, reserved);
        Box::pin(async move {
            self.shared.clone().written(batch).await?;
            Ok(self.with(|l| l.state.spent(&entry.caller, entry.month())))
        })
    }

    fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()> {
        self.with(|l| l.state.release(caller, month, reserved));
        done(Ok(()))
    }

    fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money> {
        done(Ok(self.with(|l| l.state.spent(caller, month))))
    }

    fn summary(&self, month: Month) -> StoreFuture<SpendSummary> {
        done(Ok(self.with(|l| l.state.summary(month))))
    }

    fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>> {
        done(Ok(self.with(|l| l.state.hourly(first, hours))))
    }

    fn flush(&self) -> StoreFuture<()> {
        done(self.shared.compact())
    }

    fn groups_writes(&self) -> bool {
        // Every line queued before the batch is written goes out in one write.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::state::tests::{at, entry};

    fn month() -> Month {
        Month::of(at("2026-03-14T10:00:00Z"))
    }

    /// The files as a SIGKILL would leave them: copied while the store still runs.
    fn killed(path: &Path) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("budgets.json");
        fs::copy(path, &copy).expect("copy snapshot");
        fs::copy(journal_path(path), journal_path(&copy)).expect("copy journal");
        (dir, copy)
    }

    #[tokio::test]
    async fn settled_spend_survives_a_crash_without_a_flush() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/budgets.json");
        let store = FileStore::open(&path).expect("open");
        store
            .settle(
                entry("a", 1_800_000, at("2026-03-14T10:00:00Z")),
                Money::ZERO,
            )
            .await
            .expect("settle");
        // No flush: the journal alone holds the entry.
        let (_crashed, copy) = killed(&path);
        let reopened = FileStore::open(&copy).expect("reopen");
        assert_eq!(
            reopened.spent(&"a".into(), month()).await,
            Ok(Money::from_picos(1_800_000))
        );
        // Replayed once, compacted into the snapshot: a third open counts it once too.
        drop(reopened);
        let again = FileStore::open(&copy).expect("reopen");
        assert_eq!(
            again.spent(&"a".into(), month()).await,
            Ok(Money::from_picos(1_800_000))
        );
        let snapshot: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&copy).expect("read")).expect("json");
        assert_eq!(
            snapshot["months"]["2026-03"]["callers"]["a"]["total_usd"],
            "0.0000018"
        );
    }

    #[tokio::test]
    async fn settling_reports_the_spend_once_its_line_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("budgets.json");
        let store = Arc::new(FileStore::open(&path).expect("open"));
        let when = at("2026-03-14T10:00:00Z");
        let first = store
            .clone()
            .settle_and_spent(entry("a", 1_800_000, when), Money::ZERO)
            .await;
        assert_eq!(first, Ok(Money::from_picos(1_800_000)));
        store
            .settle(entry("b", 5, when), Money::ZERO)
            .await
            .expect("settle");
        let second = store
            .clone()
            .settle_and_spent(entry("a", 200_000, when), Money::ZERO)
            .await;
        assert_eq!(second, Ok(Money::from_picos(2_000_000)));
        assert_eq!(store.spent(&"a".into(), month()).await, second);
        // The line is on disk when the spend is reported.
        let (_crashed, copy) = killed(&path);
        let reopened = FileStore::open(&copy).expect("reopen");
        assert_eq!(reopened.spent(&"a".into(), month()).await, second);
    }

    #[tokio::test]
    async fn a_snapshot_and_an_untruncated_journal_do_not_count_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("budgets.json");
        let store = FileStore::open(&path).expect("open");
        store
            .settle(entry("a", 5, at("2026-03-14T10:00:00Z")), Money::ZERO)
            .await
            .expect("settle");
        let journal = fs::read(journal_path(&path)).expect("journal");
        store.flush().await.expect("flush");
        // A crash between the snapshot's rename and the truncation leaves both, and a
        // retried append can leave a line twice.
        let (_crashed, copy) = killed(&path);
        let mut twice = journal.clone();
        twice.extend_from_slice(&journal);
        fs::write(journal_path(&copy), twice).expect("restore journal");
        let reopened = FileStore::open(&copy).expect("reopen");
        assert_eq!(
            reopened.spent(&"a".into(), month()).await,
            Ok(Money::from_picos(5))
        );
    }

    #[tokio::test]
    async fn a_torn_last_line_is_skipped_and_a_corrupt_one_refuses_to_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("budgets.json");
        let store = FileStore::open(&path).expect("open");
        store
            .settle(entry("a", 5, at("2026-03-14T10:00:00Z")), Money::ZERO)
            .await
            .expect("settle");
        let (_crashed, copy) = killed(&path);
        let mut journal = fs::read_to_string(journal_path(&copy)).expect("journal");
        assert_eq!(journal.lines().count(), 1);
        journal.push_str("{\"seq\": 2, \"request");
        fs::write(journal_path(&copy), &journal).expect("tear");
        let reopened = FileStore::open(&copy).expect("a torn tail is tolerated");
        assert_eq!(
            reopened.spent(&"a".into(), month()).await,
            Ok(Money::from_picos(5))
        );
        drop(reopened);
        let (_crashed, copy) = killed(&path);
        fs::write(&copy, "{not json").expect("corrupt");
        assert!(FileStore::open(&copy).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_settlements_and_compactions_lose_no_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("budgets.json");
        let store = FileStore::open(&path).expect("open");
        let settles: Vec<_> = (1..=400u64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .settle(entry("a", i, at("2026-03-14T10:00:00Z")), Money::ZERO)
                        .await
                })
            })
            .collect();
        // Compactions while lines are queued and written: the fresh journal carries what
        // the snapshot missed.
        for _ in 0..3 {
            store.flush().await.expect("compact");
        }
        for settle in settles {
            settle.await.expect("joined").expect("settled");
        }
        // Every settlement completed, so its line is in the files a SIGKILL leaves.
        let (_crashed, copy) = killed(&path);
        let reopened = FileStore::open(&copy).expect("reopen");
        assert_eq!(
            reopened.spent(&"a".into(), month()).await,
            Ok(Money::from_picos(400 * 401 / 2))
        );
    }

    #[tokio::test]
    async fn a_second_process_cannot_share_the_state_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("budgets.json");
        let _store = FileStore::open(&path).expect("open");
        let lock = OpenOptions::new()
            .write(true)
            .open(dir.path().join("budgets.json.lock"))
            .expect("lock file");
        assert!(matches!(lock.try_lock(), Err(fs::TryLockError::WouldBlock)));
    }

    #[tokio::test]
    async fn a_failing_disk_makes_the_store_unavailable_until_it_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("budgets.json");
        let store = FileStore::open(&path).expect("open");
        // Replace the journal by a directory: appends fail after the writer reopens it.
        fs::remove_file(journal_path(&path)).expect("remove journal");
        fs::create_dir(journal_path(&path)).expect("directory in its place");
        // The open handle still writes to the unlinked file; force a reopen by compacting.
        assert!(store.flush().await.is_err());
        let failed = store
            .settle(entry("a", 5, at("2026-03-14T10:00:00Z")), Money::ZERO)
            .await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "{failed:?}"
        );
        assert!(
            store
                .reserve(
                    &"a".into(),
                    month(),
                    Money::ZERO,
                    Some(Money::from_picos(9))
                )
                .await
                .is_err()
        );
        // The old snapshot is intact.
        assert!(
            fs::read_to_string(&path)
                .expect("snapshot")
                .contains("\"seq\": 0")
        );
        fs::remove_dir(journal_path(&path)).expect("remove directory");
        store.flush().await.expect("recovered");
        assert!(
            store
                .reserve(
                    &"a".into(),
                    month(),
                    Money::ZERO,
                    Some(Money::from_picos(9))
                )
                .await
                .is_ok()
        );
        drop(store);
        let reopened = FileStore::open(&path).expect("reopen");
        assert_eq!(
            reopened.spent(&"a".into(), month()).await,
            Ok(Money::from_picos(5))
        );
    }
}
