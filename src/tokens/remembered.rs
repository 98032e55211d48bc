//! The counts of long texts, remembered.
//!
//! An agent sends its whole conversation again at every turn: the system prompt, the tool
//! definitions and every earlier message, with one or two new messages at the end. Counting
//! costs about 15 ms per MiB, hashing a text well under a tenth of a millisecond, so a text
//! counted once is looked up by its hash after that, and a turn costs the count of its new
//! messages only. The count stays exact: a text is found by a keyed 64-bit hash of its table
//! and bytes, and its length must match too, so that another text is taken for it about once
//! in 2^64 lookups.
//!
//! The memory is bounded: a fixed number of slots, each text hashed to one of them, a new
//! text taking the place of whatever was there. Texts shorter than [`REMEMBER_FROM_BYTES`]
//! are counted every time (cheaply), so that short messages do not push long ones out.

use std::{
    hash::{BuildHasher, Hasher},
    sync::{LazyLock, Mutex, PoisonError},
};

use hashbrown::DefaultHashBuilder;

use super::tables::Table;

/// Texts from this long on are remembered: a count of 1 KiB costs about 15 µs, its hash and
/// lookup well under one.
pub(crate) const REMEMBER_FROM_BYTES: usize = 1024;

/// Slots of the process's memory: 24 bytes each, 96 KiB in all, allocated with the first
/// long count.
const SLOTS: usize = 4096;

/// The counts the process remembers.
pub(crate) static REMEMBERED: LazyLock<Remembered> = LazyLock::new(|| Remembered::new(SLOTS));

/// A bounded memory of text counts: see the module's documentation.
pub(crate) struct Remembered {
    slots: Mutex<Box<[Slot]>>,
    /// Seeded at random when the process starts.
    hasher: DefaultHashBuilder,
}

/// One remembered count; `len == 0` is an empty slot (no remembered text is empty).
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key: u64,
    len: usize,
    count: usize,
}

impl Remembered {
    /// A memory of `slots` counts (a power of two).
    pub(crate) fn new(slots: usize) -> Self {
        assert!(slots.is_power_of_two(), "slots: a power of two");
        Self {
            slots: Mutex::new(vec![Slot::default(); slots].into_boxed_slice()),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The count of `text` with `table` for `scope` (a caller, or a key): remembered, or
    /// `count(text)` (then remembered) when this text is not. Texts shorter than
    /// [`REMEMBER_FROM_BYTES`] are always counted.
    pub(crate) fn count(
        &self,
        scope: &str,
        table: Table,
        text: &str,
        count: impl FnOnce(&str) -> usize,
    ) -> usize {
        if text.len() < REMEMBER_FROM_BYTES {
            return count(text);
        }
        let mut state = self.hasher.build_hasher();
        state.write_usize(scope.len());
        state.write(scope.as_bytes());
        state.write_u8(table as u8);
        state.write(text.as_bytes());
        let key = state.finish();
        // Its low bits pick the slot.
        let index = key as usize;
        if let Some(count) = self.with_slot(index, |slot| {
            (slot.key == key && slot.len == text.len()).then_some(slot.count)
        }) {
            return count;
        }
        let counted = count(text);
        self.with_slot(index, |slot| {
            *slot = Slot {
                key,
                len: text.len(),
                count: counted,
            };
        });
        counted
    }

    /// Runs `f` on the slot `index` picks, under the lock (never held across a count).
    fn with_slot<T>(&self, index: usize, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mask = slots.len() - 1;
        f(&mut slots[index & mask])
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A memory, and how many texts it really counted (a token per four bytes).
    struct Watched {
        memory: Remembered,
        counted: Cell<usize>,
    }

    impl Watched {
        fn new(slots: usize) -> Self {
            Self {
                memory: Remembered::new(slots),
                counted: Cell::new(0),
            }
        }

        /// Counts `text` through the memory for the caller `scope`.
        fn count_for(&self, scope: &str, table: Table, text: &str) -> usize {
            self.memory.count(scope, table, text, |text| {
                self.counted.set(self.counted.get() + 1);
                text.len() / 4
            })
        }

        /// Counts `text` for one caller.
        fn count(&self, table: Table, text: &str) -> usize {
            self.count_for("bench", table, text)
        }

        fn counted(&self) -> usize {
            self.counted.get()
        }
    }

    fn long(word: &str) -> String {
        word.repeat(REMEMBER_FROM_BYTES / word.len() + 1)
    }

    #[test]
    fn a_long_text_is_counted_once_then_remembered() {
        let watched = Watched::new(16);
        let text = long("the agent reads the failing test ");
        let first = watched.count(Table::O200k, &text);
        assert_eq!(first, text.len() / 4);
        assert_eq!(watched.count(Table::O200k, &text), first);
        assert_eq!(watched.counted(), 1, "the second count was remembered");
    }

    #[test]
    fn a_short_text_is_counted_every_time() {
        let watched = Watched::new(16);
        let text = "a".repeat(REMEMBER_FROM_BYTES - 1);
        watched.count(Table::O200k, &text);
        watched.count(Table::O200k, &text);
        assert_eq!(watched.counted(), 2);
    }

    #[test]
    fn the_same_text_is_counted_again_for_another_table() {
        let watched = Watched::new(16);
        let text = long("opens the module it names ");
        watched.count(Table::O200k, &text);
        watched.count(Table::Cl100k, &text);
        assert_eq!(
            watched.counted(),
            2,
            "each table counts the text its own way"
        );
    }

    #[test]
    fn a_text_one_caller_sent_is_counted_again_for_another() {
        let watched = Watched::new(16);
        let text = long("a document only one caller has ");
        watched.count_for("team-a", Table::O200k, &text);
        watched.count_for("team-a", Table::O200k, &text);
        assert_eq!(watched.counted(), 1);
        watched.count_for("team-b", Table::O200k, &text);
        assert_eq!(watched.counted(), 2, "team-b's count is its own");
    }

    #[test]
    fn a_text_that_differs_by_one_byte_is_counted() {
        let watched = Watched::new(16);
        let text = long("and edits the function ");
        let mut edited = text.clone();
        edited.push('!');
        watched.count(Table::O200k, &text);
        assert_eq!(watched.count(Table::O200k, &edited), edited.len() / 4);
        assert_eq!(watched.counted(), 2);
    }

    #[test]
    fn a_new_text_takes_the_place_of_the_one_in_its_slot() {
        // One slot: every text shares it, so the last one counted is the one remembered.
        let watched = Watched::new(1);
        let (first, second) = (long("first "), long("second "));
        watched.count(Table::O200k, &first);
        watched.count(Table::O200k, &second);
        watched.count(Table::O200k, &second);
        assert_eq!(watched.counted(), 2, "the second text stayed");
        watched.count(Table::O200k, &first);
        assert_eq!(watched.counted(), 3, "the first was pushed out");
    }
}
