//! An exact token counter for `o200k_base` and `cl100k_base` that holds a few MiB.
//!
//! It counts what tiktoken's `encode_ordinary` would return, without building tiktoken's
//! encoder and decoder maps: the text is split with the encoding's own pre-tokenizer pattern
//! (the same regular expression, run by the same engine, `fancy-regex`), each piece that is
//! a token counts one, and each other piece is byte-pair merged ([`super::merge`]) against a
//! compact [`Vocab`]. Special tokens are ordinary text here, as in `encode_ordinary`.
//!
//! The rank files are OpenAI's, built in from `src/tokens/assets/` (see the README there; the
//! build script decodes them into the form [`Vocab`] borrows):
//! `o200k_base.tiktoken` and `cl100k_base.tiktoken`, as published at
//! `https://openaipublic.blob.core.windows.net/encodings/` and checked against the SHA-256
//! that OpenAI's `tiktoken` expects; MIT licence, `src/tokens/assets/LICENSE-tiktoken`.

use std::{cell::RefCell, rc::Rc};

use super::{
    merge::{self, Scratch},
    vocab::Vocab,
};

/// OpenAI's `o200k_base` tokens, end to end in rank order, and where each starts (as
/// little-endian `u32`s), decoded from the rank file by the build script.
const O200K_BASE: (&[u8], &[u8]) = (
    include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.tokens")),
    include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.starts")),
);
/// OpenAI's `cl100k_base` tokens and starts, as [`O200K_BASE`].
const CL100K_BASE: (&[u8], &[u8]) = (
    include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.tokens")),
    include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.starts")),
);

/// The pre-tokenizer of `cl100k_base`, as OpenAI's tiktoken defines it (tiktoken-rs passes
/// it inline rather than exporting it). `o200k_base`'s is tiktoken-rs's
/// [`tiktoken_rs::O200K_BASE_PAT_STR`].
const CL100K_BASE_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// Bytes of text per token for the rest of a text the pattern could not split (see
/// [`CompactBpe::count_ordinary`]).
const BYTES_PER_TOKEN: usize = 4;

/// Counts the tokens of text in one encoding.
pub(crate) struct CompactBpe {
    vocab: Vocab,
    /// The pre-tokenizer pattern, shared by the threads that count short texts.
    pattern: fancy_regex::Regex,
    /// Its source, for the threads that compile their own ([`compile_patterns_here`]).
    source: &'static str,
}

/// Patterns a thread compiled for itself, by source.
type OwnPatterns = Vec<(&'static str, Rc<fancy_regex::Regex>)>;

thread_local! {
    /// The patterns this thread compiled for itself; `None` on a thread that uses the shared
    /// ones.
    static OWN_PATTERNS: RefCell<Option<OwnPatterns>> = const { RefCell::new(None) };
}

/// Makes this thread count with patterns of its own, compiled on first use: for a thread that
/// counts long texts ([`super::threads`]).
pub(crate) fn compile_patterns_here() {
    OWN_PATTERNS.with_borrow_mut(|own| *own = Some(Vec::new()));
}

/// This thread's own compiled `source`, if it compiles its own.
fn own_pattern(source: &'static str) -> Option<Rc<fancy_regex::Regex>> {
    OWN_PATTERNS.with_borrow_mut(|own| {
        let own = own.as_mut()?;
        if let Some((_, regex)) = own.iter().find(|(s, _)| std::ptr::eq(*s, source)) {
            return Some(regex.clone());
        }
        let regex = fancy_regex::Regex::new(source).expect("the built-in patterns compile");
        let regex = Rc::new(regex);
        own.push((source, regex.clone()));
        Some(regex)
    })
}

impl CompactBpe {
    /// The counter of `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series).
    pub(crate) fn o200k_base() -> Self {
        Self::new(O200K_BASE, tiktoken_rs::O200K_BASE_PAT_STR)
    }

    /// The counter of `cl100k_base` (GPT-4, GPT-3.5, `text-embedding-3`).
    pub(crate) fn cl100k_base() -> Self {
        Self::new(CL100K_BASE, CL100K_BASE_PATTERN)
    }

    /// Indexes built-in tokens and compiles a built-in pattern: both are fixed at build time
    /// and tested, so a failure is a broken build.
    fn new((tokens, starts): (&'static [u8], &'static [u8]), pattern: &'static str) -> Self {
        Self {
            vocab: Vocab::built(tokens, starts).expect("the built-in tokens are distinct"),
            pattern: fancy_regex::Regex::new(pattern).expect("the built-in patterns compile"),
            source: pattern,
        }
    }

    /// How many tokens `text` encodes to, as tiktoken's `encode_ordinary(text).len()`.
    ///
    /// Should the pattern give up on some text (`fancy-regex` stops backtracking after a
    /// million steps; tiktoken panics there), the rest of the text is estimated at 4 bytes per
    /// token rather than failing the request.
    pub(crate) fn count_ordinary(&self, text: &str) -> usize {
        let mut scratch = Scratch::default();
        if is_one_word(text) {
            // A role name or a one-word message: no pattern to run.
            return self.count_piece(text.as_bytes(), &mut scratch);
        }
        let mut tokens = 0;
        let mut counted_to = 0;
        let own = own_pattern(self.source);
        let pattern = own.as_deref().unwrap_or(&self.pattern);
        for piece in pattern.find_iter(text) {
            let Ok(piece) = piece else {
                return tokens + (text.len() - counted_to).div_ceil(BYTES_PER_TOKEN);
            };
            counted_to = piece.end();
            tokens += self.count_piece(piece.as_str().as_bytes(), &mut scratch);
        }
        tokens
    }

    /// How many tokens one piece of the pattern's split is.
    fn count_piece(&self, piece: &[u8], scratch: &mut Scratch) -> usize {
        if self.vocab.rank(piece).is_some() {
            1
        } else {
            merge::count(&self.vocab, piece, scratch)
        }
    }

    /// The heap of the rank table, in bytes (the compiled pattern not included).
    pub(crate) fn table_bytes(&self) -> usize {
        self.vocab.heap_bytes()
    }
}

/// Whether both patterns take `text` whole, as one piece: ASCII lowercase letters, the first
/// possibly a capital (`user`, `Hello`; not `HeLLo`, which `o200k_base` splits).
fn is_one_word(text: &str) -> bool {
    text.as_bytes().split_first().is_some_and(|(first, rest)| {
        first.is_ascii_alphabetic() && rest.iter().all(u8::is_ascii_lowercase)
    })
}

#[cfg(test)]
mod tests;
