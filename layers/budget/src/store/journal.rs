//! The journal's write path: group commit.
//!
//! A settlement queues its line in [`Journal::pending`] when it is made and waits for it to
//! be written. The first waiter to find no write in progress takes every queued line and
//! writes them with one `write` syscall, without holding the lock; the others wait for that
//! write. A caller that waits one turn of the runtime before it first polls (the cost layer
//! does for complete responses) lets every request that finished in the same turn queue its
//! line first, so one syscall serves them all; a caller in a hurry (the end of a stream) gets
//! its line written at once. A response is still released only once its line is in the
//! file, so the kernel keeps it through a SIGKILL (see [`super::file`]).
//!
//! Batches are numbered: the lines queued now go out in batch [`Journal::open_batch`], and
//! [`Journal::done_batch`] is the last one written (or failed). Only one batch is written at
//! a time, so batches reach the file in order.

use std::{fs::File, io::Write, sync::Arc};

use infermux_core::StoreError;

/// The open journal and the lines waiting to be written to it.
#[derive(Debug, Default)]
pub(super) struct Journal {
    /// `None` after a failure, until a compaction opens a fresh one.
    pub(super) file: Option<Arc<File>>,
    /// Lines written since the last fsync.
    pub(super) dirty: bool,
    /// Lines written since the last compaction.
    pub(super) since_compaction: u64,
    /// Lines settled but not yet written, in the order they were settled.
    pending: Vec<u8>,
    /// How many lines `pending` holds.
    pending_lines: u64,
    /// An emptied buffer kept for the next batch, so a steady load allocates none.
    spare: Vec<u8>,
    /// The batch that the lines in `pending` will be written in.
    open_batch: u64,
    /// The last batch written or failed.
    done_batch: u64,
    /// Whether a batch is being written now.
    writing: bool,
    /// The last run of failed batches, inclusive (`(1, 0)`: none).
    failed: (u64, u64),
    /// While a compaction runs: every line written since it copied the state, for the fresh
    /// journal it will start.
    pub(super) carry: Option<Vec<u8>>,
}

/// A batch taken for writing.
pub(super) struct Batch {
    number: u64,
    bytes: Vec<u8>,
    lines: u64,
    file: Option<Arc<File>>,
}

/// What a waiter learns when it looks at the journal.
pub(super) enum Turn {
    /// Its line was written (or its batch failed).
    Done(Result<(), ()>),
    /// It is to write this batch (its own line is in it).
    Write(Batch),
    /// Another waiter is writing; wait for it.
    Wait,
}

impl Journal {
    /// A journal writing to `file`.
    pub(super) fn new(file: File) -> Self {
        Self {
            file: Some(Arc::new(file)),
            open_batch: 1,
            failed: (1, 0),
            ..Self::default()
        }
    }

    /// Queues the line `write` appends to the pending lines; returns the batch it will be
    /// written in.
    pub(super) fn queue(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> u64 {
        write(&mut self.pending);
        self.pending_lines += 1;
        self.open_batch
    }

    /// What the waiter for `batch` does next.
    pub(super) fn turn(&mut self, batch: u64) -> Turn {
        if self.done_batch >= batch {
            let (first, last) = self.failed;
            return Turn::Done(if (first..=last).contains(&batch) {
                Err(())
            } else {
                Ok(())
            });
        }
        if self.writing {
            return Turn::Wait;
        }
        Turn::Write(self.take())
    }

    /// Takes every queued line as the next batch, if no batch is being written.
    pub(super) fn take_if_idle(&mut self) -> Option<Batch> {
        (!self.writing && self.pending_lines > 0).then(|| self.take())
    }

    fn take(&mut self) -> Batch {
        let spare = std::mem::take(&mut self.spare);
        let bytes = std::mem::replace(&mut self.pending, spare);
        let number = self.open_batch;
        self.open_batch += 1;
        self.writing = true;
        if let Some(carry) = self.carry.as_mut() {
            carry.extend_from_slice(&bytes);
        }
        Batch {
            number,
            bytes,
            lines: std::mem::take(&mut self.pending_lines),
            file: self.file.clone(),
        }
    }

    /// Records how writing `batch` went; returns the result for its waiters.
    pub(super) fn finish(
        &mut self,
        batch: Batch,
        written: Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.writing = false;
        self.done_batch = batch.number;
        let mut bytes = batch.bytes;
        bytes.clear();
        if self.spare.capacity() < bytes.capacity() {
            self.spare = bytes;
        }
        match written {
            Ok(()) => {
                self.dirty = true;
                self.since_compaction += batch.lines;
                Ok(())
            }
            Err(error) => {
                // After a failed write the file's state is unknown: compact to a fresh one.
                self.file = None;
                let (first, last) = self.failed;
                self.failed = if first <= last && last + 1 == batch.number {
                    (first, batch.number)
                } else {
                    (batch.number, batch.number)
                };
                Err(error)
            }
        }
    }
}

impl Batch {
    /// Writes the batch with one syscall, without the journal's lock. The lines' entries are
    /// already in the ledger, so a failed write loses nothing while the process lives: the
    /// next compaction saves them.
    pub(super) fn write(&self, failure: impl FnOnce() -> StoreError) -> Result<(), StoreError> {
        let Some(file) = self.file.as_deref() else {
            return Err(failure());
        };
        let mut file: &File = file;
        file.write_all(&self.bytes)
            .map_err(|e| StoreError::Unavailable(format!("cannot append to the journal: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> (tempfile::NamedTempFile, Journal) {
        let file = tempfile::NamedTempFile::new().expect("temp");
        let journal = Journal::new(file.reopen().expect("reopen"));
        (file, journal)
    }

    #[test]
    fn lines_queued_in_one_tick_are_written_as_one_batch() {
        let (file, mut journal) = journal();
        let a = journal.queue(|p| p.extend_from_slice(b"a\n"));
        let b = journal.queue(|p| p.extend_from_slice(b"b\n"));
        assert_eq!(a, b);
        let Turn::Write(batch) = journal.turn(a) else {
            panic!("the first waiter writes");
        };
        // The second waiter finds the write in progress and waits for it.
        assert!(matches!(journal.turn(b), Turn::Wait));
        let c = journal.queue(|p| p.extend_from_slice(b"c\n"));
        assert_eq!(c, a + 1);
        let written = batch.write(|| StoreError::Unavailable("no file".into()));
        assert!(journal.finish(batch, written).is_ok());
        assert!(matches!(journal.turn(b), Turn::Done(Ok(()))));
        assert_eq!(journal.since_compaction, 2);
        assert_eq!(std::fs::read(file.path()).expect("read"), b"a\nb\n");
        // The next batch holds the line queued while the first was written.
        let batch = journal.take_if_idle().expect("a line is queued");
        let written = batch.write(|| StoreError::Unavailable("no file".into()));
        assert!(journal.finish(batch, written).is_ok());
        assert!(matches!(journal.turn(c), Turn::Done(Ok(()))));
        assert_eq!(std::fs::read(file.path()).expect("read"), b"a\nb\nc\n");
        assert!(journal.take_if_idle().is_none());
    }

    #[test]
    fn a_failed_batch_fails_its_waiters_only() {
        let (_file, mut journal) = journal();
        let a = journal.queue(|p| p.extend_from_slice(b"a\n"));
        let Turn::Write(batch) = journal.turn(a) else {
            panic!("writes");
        };
        assert!(journal.finish(batch, Ok(())).is_ok());
        journal.file = None;
        let b = journal.queue(|p| p.extend_from_slice(b"b\n"));
        let Turn::Write(batch) = journal.turn(b) else {
            panic!("writes");
        };
        let written = batch.write(|| StoreError::Unavailable("no file".into()));
        assert!(journal.finish(batch, written).is_err());
        assert!(matches!(journal.turn(a), Turn::Done(Ok(()))));
        assert!(matches!(journal.turn(b), Turn::Done(Err(()))));
    }

    #[test]
    fn a_compaction_in_progress_keeps_a_copy_of_what_is_written() {
        let (_file, mut journal) = journal();
        journal.queue(|p| p.extend_from_slice(b"before\n"));
        journal.carry = Some(Vec::new());
        journal.queue(|p| p.extend_from_slice(b"during\n"));
        let batch = journal.take_if_idle().expect("queued");
        assert_eq!(journal.carry.as_deref(), Some(&b"before\nduring\n"[..]));
        assert!(journal.finish(batch, Ok(())).is_ok());
    }
}
