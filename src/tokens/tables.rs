//! The BPE tables, each loaded on first use.
//!
//! `o200k_base` (every current OpenAI model) and `cl100k_base` are [`CompactBpe`] counters:
//! an index on the heap (about 1.2 MiB for `o200k_base`, where tiktoken-rs's `CoreBPE` holds
//! about 45 MiB) over token bytes the binary carries. The legacy `p50k_base` and `r50k_base`
//! are tiktoken-rs's `CoreBPE` (25 MiB or so each; only `text-davinci-*` and `gpt2` use them).
//! Building one still takes tens of milliseconds, so none is built at start-up: a process that
//! never counts an OpenAI-family prompt exactly never holds one, and an idle one holds none.
//! The first count that needs a table builds it; callers on the async runtime ask
//! [`Table::is_loaded`] first and count on the blocking pool while it is not, so no runtime
//! worker stalls for the build.

use std::{cell::RefCell, sync::OnceLock};

use tiktoken_rs::{CoreBPE, tokenizer::Tokenizer};

use super::compact::CompactBpe;

/// One of OpenAI's BPE encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// `o200k_base` (and `o200k_harmony`, which only adds special tokens): GPT-4o, GPT-4.1,
    /// GPT-5, o-series.
    O200k,
    /// `cl100k_base`: GPT-4, GPT-3.5, the `text-embedding-3` models.
    Cl100k,
    /// `p50k_base` (and `p50k_edit`).
    P50k,
    /// `r50k_base` (`gpt2`).
    R50k,
}

/// A built table: the compact counter, or tiktoken-rs's for the legacy encodings.
pub(crate) enum Bpe {
    /// `o200k_base` and `cl100k_base`.
    Compact(CompactBpe),
    /// `p50k_base` and `r50k_base`.
    Tiktoken(CoreBPE),
}

impl Bpe {
    /// How many tokens `text` is, special tokens counted as ordinary text.
    pub(crate) fn count_ordinary(&self, text: &str) -> usize {
        match self {
            Self::Compact(bpe) => bpe.count_ordinary(text),
            Self::Tiktoken(bpe) => bpe.encode_ordinary(text).len(),
        }
    }
}

/// A table built on first use.
pub(crate) struct LazyTable {
    table: Table,
    cell: OnceLock<Bpe>,
}

/// The process's tables, in [`Table`] order.
static TABLES: [LazyTable; 4] = [
    LazyTable::new(Table::O200k),
    LazyTable::new(Table::Cl100k),
    LazyTable::new(Table::P50k),
    LazyTable::new(Table::R50k),
];

impl Table {
    /// The table `model` is counted with, if it is an OpenAI-family model.
    ///
    /// Each thread remembers its last answer: a request asks twice (is the table built, then
    /// count), and requests in a row mostly name the same model, while tiktoken-rs's lookup
    /// hashes the name and tries its prefixes.
    pub(crate) fn for_model(model: &str) -> Option<Self> {
        thread_local! {
            static LAST: RefCell<Option<(Box<str>, Option<Table>)>> = const { RefCell::new(None) };
        }
        LAST.with_borrow_mut(|last| match last {
            Some((name, table)) if **name == *model => *table,
            _ => {
                let table = Self::look_up(model);
                *last = Some((model.into(), table));
                table
            }
        })
    }

    fn look_up(model: &str) -> Option<Self> {
        match tiktoken_rs::tokenizer::get_tokenizer(model)? {
            Tokenizer::O200kBase | Tokenizer::O200kHarmony => Some(Self::O200k),
            Tokenizer::Cl100kBase => Some(Self::Cl100k),
            Tokenizer::P50kBase | Tokenizer::P50kEdit => Some(Self::P50k),
            Tokenizer::R50kBase | Tokenizer::Gpt2 => Some(Self::R50k),
        }
    }

    fn lazy(self) -> &'static LazyTable {
        &TABLES[self as usize]
    }

    /// The process's table, built now if this is its first use.
    pub(crate) fn get(self) -> &'static Bpe {
        self.lazy().get()
    }

    /// Whether the process's table is built (a count with it is cheap).
    pub(crate) fn is_loaded(self) -> bool {
        self.lazy().is_loaded()
    }
}

impl LazyTable {
    /// `table`, not built yet.
    pub(crate) const fn new(table: Table) -> Self {
        Self {
            table,
            cell: OnceLock::new(),
        }
    }

    /// The table, built now if this is its first use.
    pub(crate) fn get(&self) -> &Bpe {
        self.cell.get_or_init(|| {
            fn tiktoken<E: std::fmt::Debug>(built: Result<CoreBPE, E>) -> Bpe {
                Bpe::Tiktoken(built.expect("the tables built into tiktoken-rs parse"))
            }
            let built = match self.table {
                Table::O200k => Bpe::Compact(CompactBpe::o200k_base()),
                Table::Cl100k => Bpe::Compact(CompactBpe::cl100k_base()),
                Table::P50k => tiktoken(tiktoken_rs::p50k_base()),
                Table::R50k => tiktoken(tiktoken_rs::r50k_base()),
            };
            match &built {
                Bpe::Compact(bpe) => tracing::debug!(
                    table = ?self.table,
                    heap_bytes = bpe.table_bytes(),
                    "tokenizer table loaded"
                ),
                Bpe::Tiktoken(_) => tracing::debug!(table = ?self.table, "tokenizer table loaded"),
            }
            built
        })
    }

    /// Whether the table is built.
    pub(crate) fn is_loaded(&self) -> bool {
        self.cell.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_built_on_first_use_only() {
        let lazy = LazyTable::new(Table::R50k);
        assert!(
            !lazy.is_loaded(),
            "nothing is built before a count needs it"
        );
        assert_eq!(lazy.get().count_ordinary("Hello, world!"), 4);
        assert!(lazy.is_loaded());
    }

    #[test]
    fn current_tables_are_compact_and_legacy_ones_tiktoken() {
        let o200k = LazyTable::new(Table::O200k);
        assert!(matches!(o200k.get(), Bpe::Compact(_)));
        assert_eq!(o200k.get().count_ordinary("Hello, world!"), 4);
        let p50k = LazyTable::new(Table::P50k);
        assert!(matches!(p50k.get(), Bpe::Tiktoken(_)));
        assert_eq!(p50k.get().count_ordinary("Hello, world!"), 4);
    }

    #[test]
    fn models_map_to_their_tables() {
        assert_eq!(Table::for_model("gpt-4o-mini"), Some(Table::O200k));
        assert_eq!(Table::for_model("gpt-5"), Some(Table::O200k));
        assert_eq!(Table::for_model("gpt-4"), Some(Table::Cl100k));
        assert_eq!(Table::for_model("claude-haiku-3-5"), None);
    }

    #[test]
    fn the_remembered_answer_is_only_for_the_same_model() {
        let asked = [
            "gpt-4",
            "gpt-4",
            "gpt-4o",
            "gpt-4o",
            "llama3.2",
            "gpt-4",
            "gpt-4o-mini",
        ];
        for model in asked {
            assert_eq!(Table::for_model(model), Table::look_up(model), "{model}");
        }
        assert_eq!(Table::for_model("gpt-4"), Some(Table::Cl100k));
        assert_eq!(Table::for_model("gpt-4o"), Some(Table::O200k));
    }
}
