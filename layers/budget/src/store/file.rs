//! The durable spend store of one node: a JSON snapshot plus an append-only journal.
//!
//! Every settled request is appended to the journal (`<state_file>.journal`) as one JSON
//! line, written to the file before [`settle`](SpendStore::settle) completes, so the spend of
//! a response that completed survives a crash of the process (SIGKILL: the kernel keeps what
//! was written). The journal is fsynced at most [`SYNC_EVERY`] after a write, so spend also
//! survives a power loss or kernel crash within that bound, without every response waiting
//! for a disk flush. Appends are group-committed by one writer thread: however many requests
//! settle at once, each batch costs one `write`.
//!
//! The snapshot (`state_file`) is the whole state, rewritten atomically (temp file, fsync,
//! rename, fsync of the directory) at start-up after replaying the journal, every
//! [`COMPACT_EVERY`] entries, and on [`flush`](SpendStore::flush) (graceful shutdown); the
//! journal is then truncated. Each journal line carries a sequence number and the snapshot
//! records the last one it contains, so a crash between writing a snapshot and truncating
//! the journal, or a retried append, never counts an entry twice.
//!
//! When a write or fsync fails, the old files stay as they were, the store reports itself
//! unavailable (so `hard_stop` callers are refused with 503 instead of being admitted against
//! spend that may not be on disk), an error is logged on every failed attempt, and the
//! unwritten lines are retried every second until a write succeeds again.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use infermux_core::{
    Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SpendStore, SpendSummary,
    StoreError, StoreFuture,
};
use tokio::sync::oneshot;

use super::{
    format::{JournalLine, Snapshot},
    state::SpendState,
};

/// Journal entries between two compactions.
pub const COMPACT_EVERY: u64 = 10_000;

/// Longest time a written journal line waits for its fsync.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);

/// How often unwritten journal lines are retried after a failed write.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Most journal lines written in one batch.
const MAX_BATCH: usize = 4096;

/// How long [`FileStore::open`] waits for another process (or an earlier store in this one)
/// to let go of the state file.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A durable spend store in a state file; see the module docs.
#[derive(Clone, Debug)]
pub struct FileStore {
    shared: Arc<Shared>,
    writer: mpsc::Sender<Command>,
}

/// What the store and its writer thread share.
#[derive(Debug)]
struct Shared {
    ledger: Mutex<Ledger>,
    failed: AtomicBool,
    failure: Mutex<String>,
}

#[derive(Clone, Debug, Default)]
struct Ledger {
    state: SpendState,
    /// The sequence number of the last entry applied.
    seq: u64,
}

enum Command {
    Append {
        line: String,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    Compact {
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

fn unavailable(context: &str, path: &Path, error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{context} {}: {error}", path.display()))
}

impl FileStore {
    /// Opens the state at `path` (creating it and its directory if needed), replays the
    /// journal into it, writes a fresh snapshot, and starts the journal writer.
    ///
    /// Fails when the snapshot or a journal line before the last cannot be read: spend is
    /// never silently reset. A torn last journal line (a crash mid-append, before its fsync
    /// completed, so no response depended on it) is skipped with a warning.
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
        let journal = open_journal(&journal_path, true)?;
        tracing::info!(
            state_file = %path.display(),
            replayed,
            seq = ledger.seq,
            "spend state loaded"
        );
        let shared = Arc::new(Shared {
            ledger: Mutex::new(ledger),
            failed: AtomicBool::new(false),
            failure: Mutex::new(String::new()),
        });
        let (writer, commands) = mpsc::channel();
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("infermux-spend-journal".into())
            .spawn(move || {
                Writer {
                    _lock: lock,
                    shared: thread_shared,
                    path,
                    journal_path,
                    journal: Some(journal),
                    unwritten: String::new(),
                    unsynced: String::new(),
                    last_sync: Instant::now(),
                    since_compaction: 0,
                }
                .run(&commands);
            })
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the journal writer: {e}"))
            })?;
        Ok(Self { shared, writer })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self
            .shared
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.shared.failed.load(Ordering::Acquire) {
            let failure = self
                .shared
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            return Err(StoreError::Unavailable(failure));
        }
        Ok(())
    }

    fn command(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<(), StoreError>>) -> Command,
    ) -> StoreFuture<()> {
        let (done, acked) = oneshot::channel();
        let sent = self.writer.send(command(done));
        Box::pin(async move {
            sent.map_err(|_| StoreError::Unavailable("the journal writer stopped".into()))?;
            acked
                .await
                .map_err(|_| StoreError::Unavailable("the journal writer stopped".into()))?
        })
    }
}

/// Takes the state file's lock (`<state_file>.lock`), held by the journal writer for as long
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

// === impl Writer ===

/// The journal writer thread: the only code that touches the files after start-up.
struct Writer {
    /// The state file's lock, released when the writer ends.
    _lock: File,
    shared: Arc<Shared>,
    path: PathBuf,
    journal_path: PathBuf,
    /// `None` after a failed write, until the file is reopened.
    journal: Option<File>,
    /// Lines whose write failed, retried before new ones.
    unwritten: String,
    /// Lines written since the last fsync, rewritten if that fsync fails (replay skips the
    /// copies by sequence number).
    unsynced: String,
    /// When the journal was last fsynced.
    last_sync: Instant,
    since_compaction: u64,
}

impl Writer {
    fn run(mut self, commands: &mpsc::Receiver<Command>) {
        loop {
            let first = if !self.unwritten.is_empty() {
                commands.recv_timeout(RETRY_EVERY)
            } else if !self.unsynced.is_empty() {
                commands.recv_timeout(SYNC_EVERY.saturating_sub(self.last_sync.elapsed()))
            } else {
                commands
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
            };
            let first = match first {
                Ok(command) => Some(command),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.unwritten.is_empty() {
                        self.sync_if_due();
                        continue;
                    }
                    None
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Every handle is gone: write what is left and leave a fresh snapshot.
                    if let Err(error) = self.append(String::new()).and_then(|()| self.compact()) {
                        tracing::error!(%error, "spend state could not be saved at exit");
                    }
                    return;
                }
            };
            let mut lines = String::new();
            let mut appended = Vec::new();
            let mut compactions = Vec::new();
            for command in first
                .into_iter()
                .chain(std::iter::from_fn(|| commands.try_recv().ok()).take(MAX_BATCH))
            {
                match command {
                    Command::Append { line, done } => {
                        lines.push_str(&line);
                        appended.push(done);
                    }
                    Command::Compact { done } => compactions.push(done),
                }
            }
            let written = self.append(lines);
            for done in appended {
                let _ = done.send(written.clone());
            }
            if written.is_ok()
                && (!compactions.is_empty() || self.since_compaction >= COMPACT_EVERY)
            {
                let compacted = self.compact();
                for done in compactions {
                    let _ = done.send(compacted.clone());
                }
            } else {
                for done in compactions {
                    let _ = done.send(written.clone());
                }
            }
        }
    }

    /// Appends the unwritten lines and then `lines`, and fsyncs when the last fsync is
    /// [`SYNC_EVERY`] old.
    fn append(&mut self, lines: String) -> Result<(), StoreError> {
        let count = lines.lines().count() as u64;
        self.unwritten.push_str(&lines);
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let result = self.write_unwritten();
        match &result {
            Ok(()) => {
                let written = std::mem::take(&mut self.unwritten);
                self.unsynced.push_str(&written);
                self.since_compaction += count;
                self.recovered();
                self.sync_if_due();
            }
            Err(error) => {
                // After a failed write the file's state is unknown: reopen before retrying.
                self.journal = None;
                self.failed(error);
            }
        }
        result
    }

    /// Fsyncs the journal if lines wait for it and the last fsync is [`SYNC_EVERY`] old.
    /// When it fails, the lines are queued to be written again (into a reopened file) and
    /// `hard_stop` callers are refused until that succeeds.
    fn sync_if_due(&mut self) {
        if self.unsynced.is_empty() || self.last_sync.elapsed() < SYNC_EVERY {
            return;
        }
        let synced = match &self.journal {
            Some(journal) => journal
                .sync_data()
                .map_err(|e| unavailable("cannot fsync", &self.journal_path, e)),
            None => Err(StoreError::Unavailable("the journal is not open".into())),
        };
        self.last_sync = Instant::now();
        match synced {
            Ok(()) => self.unsynced.clear(),
            Err(error) => {
                let mut again = std::mem::take(&mut self.unsynced);
                again.push_str(&self.unwritten);
                self.unwritten = again;
                self.journal = None;
                self.failed(&error);
            }
        }
    }

    fn write_unwritten(&mut self) -> Result<(), StoreError> {
        let journal = match &mut self.journal {
            Some(journal) => journal,
            None => self
                .journal
                .insert(open_journal(&self.journal_path, false)?),
        };
        journal
            .write_all(self.unwritten.as_bytes())
            .map_err(|e| unavailable("cannot append to", &self.journal_path, e))
    }

    /// Writes a snapshot of the current state and truncates the journal it covers.
    ///
    /// Every line in the journal was numbered before the snapshot's state was copied, so the
    /// snapshot contains all of them; lines still queued that it also contains are skipped
    /// by number on replay.
    fn compact(&mut self) -> Result<(), StoreError> {
        let ledger = self
            .shared
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let result = write_snapshot(&self.path, &ledger).and_then(|()| {
            let journal = open_journal(&self.journal_path, true)?;
            self.journal = Some(journal);
            Ok(())
        });
        match &result {
            Ok(()) => {
                // The snapshot holds whatever failed to reach the journal, or its fsync.
                self.unwritten.clear();
                self.unsynced.clear();
                self.since_compaction = 0;
                self.recovered();
            }
            Err(error) => {
                self.journal = None;
                self.failed(error);
            }
        }
        result
    }

    fn failed(&self, error: &StoreError) {
        tracing::error!(
            state_file = %self.path.display(),
            %error,
            "spend state cannot be written; hard_stop callers are refused until it can"
        );
        *self
            .shared
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error.to_string();
        self.shared.failed.store(true, Ordering::Release);
    }

    fn recovered(&self) {
        if self.shared.failed.swap(false, Ordering::AcqRel) {
            tracing::warn!(state_file = %self.path.display(), "spend state is written again");
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
        let seq = self.with(|l| {
            l.state.release(&entry.caller, entry.month(), reserved);
            l.state.apply(&entry);
            l.seq += 1;
            l.seq
        });
        let line = match serde_json::to_string(&JournalLine::of(&entry, seq)) {
            Ok(line) => line + "\n",
            Err(e) => return done(Err(StoreError::Unavailable(e.to_string()))),
        };
        self.command(|done| Command::Append { line, done })
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
        self.command(|done| Command::Compact { done })
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
