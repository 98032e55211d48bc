//! The BPE tables, each loaded on first use.
//!
//! A table takes about 100 ms of CPU and 25–50 MiB of memory to build (`o200k_base`, the
//! table of every current OpenAI model, about 45 MiB), so none is built at start-up: a
//! process that never counts an OpenAI-family prompt exactly never holds one, and an idle
//! one holds none. The first count that needs a table builds it; callers on the async
//! runtime ask [`Table::is_loaded`] first and count on the blocking pool while it is not, so
//! no runtime worker stalls for the build.

use std::sync::OnceLock;

use tiktoken_rs::{CoreBPE, tokenizer::Tokenizer};

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

/// A table built on first use.
pub(crate) struct LazyTable {
    table: Table,
    cell: OnceLock<CoreBPE>,
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
    pub(crate) fn for_model(model: &str) -> Option<Self> {
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
    pub(crate) fn get(self) -> &'static CoreBPE {
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
    pub(crate) fn get(&self) -> &CoreBPE {
        self.cell.get_or_init(|| {
            let built = match self.table {
                Table::O200k => tiktoken_rs::o200k_base(),
                Table::Cl100k => tiktoken_rs::cl100k_base(),
                Table::P50k => tiktoken_rs::p50k_base(),
                Table::R50k => tiktoken_rs::r50k_base(),
            };
            tracing::debug!(table = ?self.table, "tokenizer table loaded");
            built.expect("the tables built into tiktoken-rs parse")
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
        assert_eq!(lazy.get().encode_ordinary("Hello, world!").len(), 4);
        assert!(lazy.is_loaded());
    }

    #[test]
    fn models_map_to_their_tables() {
        assert_eq!(Table::for_model("gpt-4o-mini"), Some(Table::O200k));
        assert_eq!(Table::for_model("gpt-5"), Some(Table::O200k));
        assert_eq!(Table::for_model("gpt-4"), Some(Table::Cl100k));
        assert_eq!(Table::for_model("claude-haiku-3-5"), None);
    }
}
