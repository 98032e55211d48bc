//! An exact token counter for `o200k_base` and `cl100k_base` that holds a few MiB.
//!
//! It counts what tiktoken's `encode_ordinary` would return, without building tiktoken's
//! encoder and decoder maps: the text is split with the encoding's own pre-tokenizer pattern,
//! each piece that is a token counts one, and each other piece is byte-pair merged
//! ([`super::merge`]) against a compact [`Vocab`]. Special tokens are ordinary text here, as
//! in `encode_ordinary`.
//!
//! The patterns are tiktoken's, run on the `regex` crate rather than on `fancy-regex`'s
//! backtracking VM, about twice as fast on long text. `regex` has neither look-arounds nor
//! possessive quantifiers, so each pattern is written without them, to the same effect: see
//! [`O200K_BASE_PATTERN`], [`CL100K_BASE_PATTERN`] and [`give_back`].
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

/// `o200k_base`'s pre-tokenizer, [`tiktoken_rs::O200K_BASE_PAT_STR`] less its alternative
/// `\s+(?!\S)`: the alternative after it, `\s+`, matches the same run, and [`give_back`]
/// then does what the look-ahead did.
const O200K_BASE_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+",
);

/// `cl100k_base`'s pre-tokenizer, as OpenAI's tiktoken defines it
/// (`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`),
/// written for `regex`:
///
/// * each possessive quantifier (`?+`, `++`, `{1,3}+`, `*+`) is greedy: what follows it in
///   its alternative cannot fail (`\p{L}+` after a taken `[^\r\n\p{L}\p{N}]`, which is no
///   letter, fails whether or not it is given back; `[\r\n]*` always matches; `$` after a
///   shorter run of whitespace is more whitespace, not the end), so giving back never finds
///   another match;
/// * `\s+(?!\S)|\s` is `\s+`, and [`give_back`] does what the look-ahead did; where the
///   look-ahead fails (one character of whitespace before more text), `\s` matched that one
///   character, which [`give_back`] keeps.
const CL100K_BASE_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+";

/// Counts the tokens of text in one encoding.
pub(crate) struct CompactBpe {
    vocab: Vocab,
    /// The pre-tokenizer, shared by the threads that count short texts.
    pattern: regex::Regex,
    /// Its source, for the threads that compile their own ([`compile_patterns_here`]).
    source: &'static str,
}

/// Compiles a pre-tokenizer: the patterns are built in and tested, so a failure is a broken
/// build.
fn compile(source: &'static str) -> regex::Regex {
    regex::Regex::new(source).expect("the built-in patterns compile")
}

/// Patterns a thread compiled for itself, by source.
type OwnPatterns = Vec<(&'static str, Rc<regex::Regex>)>;

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
fn own_pattern(source: &'static str) -> Option<Rc<regex::Regex>> {
    OWN_PATTERNS.with_borrow_mut(|own| {
        let own = own.as_mut()?;
        if let Some((_, pattern)) = own.iter().find(|(s, _)| std::ptr::eq(*s, source)) {
            return Some(pattern.clone());
        }
        let pattern = Rc::new(compile(source));
        own.push((source, pattern.clone()));
        Some(pattern)
    })
}

/// `text` split by `pattern` (one of ours), each match passed through [`give_back`]: the
/// pieces tiktoken's own pattern splits it into.
fn pieces<'t>(pattern: &'t regex::Regex, text: &'t str) -> impl Iterator<Item = &'t str> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let found = pattern.find_at(text, at)?;
        let end = give_back(text, found.start(), found.end());
        at = end;
        Some(&text[found.start()..end])
    })
}

/// tiktoken's `\s+(?!\S)`, for a piece that a pattern matched from `start` to `end` of
/// `text`: a run of whitespace that more text follows gives its last character back to the
/// piece after it (` word`), unless it is that one character. Other pieces are kept whole.
///
/// Only three alternatives match pieces of whitespace alone: one ending in a line break
/// (`\s*[\r\n]+`, `\s*[\r\n]`), one ending the text (`\s+$`, in `cl100k_base`), and `\s+`,
/// which is the one that gives back; a run with a line break in it never reaches `\s+`.
fn give_back(text: &str, start: usize, end: usize) -> usize {
    let piece = &text[start..end];
    if end == text.len() || piece.ends_with(['\r', '\n']) || !piece.chars().all(char::is_whitespace)
    {
        return end;
    }
    match piece.chars().next_back() {
        Some(last) if piece.len() > last.len_utf8() => end - last.len_utf8(),
        _ => end,
    }
}

impl CompactBpe {
    /// The counter of `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series).
    pub(crate) fn o200k_base() -> Self {
        Self::new(O200K_BASE, O200K_BASE_PATTERN)
    }

    /// The counter of `cl100k_base` (GPT-4, GPT-3.5, `text-embedding-3`).
    pub(crate) fn cl100k_base() -> Self {
        Self::new(CL100K_BASE, CL100K_BASE_PATTERN)
    }

    /// Indexes built-in tokens and compiles a built-in pattern: both are fixed at build time
    /// and tested, so a failure is a broken build.
    fn new((tokens, starts): (&'static [u8], &'static [u8]), source: &'static str) -> Self {
        Self {
            vocab: Vocab::built(tokens, starts).expect("the built-in tokens are distinct"),
            pattern: compile(source),
            source,
        }
    }

    /// How many tokens `text` encodes to, as tiktoken's `encode_ordinary(text).len()`.
    pub(crate) fn count_ordinary(&self, text: &str) -> usize {
        let mut scratch = Scratch::default();
        if is_one_word(text) {
            // A role name or a one-word message: no pattern to run.
            return self.count_piece(text.as_bytes(), &mut scratch);
        }
        let own = own_pattern(self.source);
        let pattern = own.as_deref().unwrap_or(&self.pattern);
        pieces(pattern, text)
            .map(|piece| self.count_piece(piece.as_bytes(), &mut scratch))
            .sum()
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
