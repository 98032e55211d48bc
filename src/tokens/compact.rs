//! An exact token counter for `o200k_base` and `cl100k_base` that holds a few MiB.
//!
//! It counts what tiktoken's `encode_ordinary` would return, without building tiktoken's
//! encoder and decoder maps: the text is split with the encoding's own pre-tokenizer pattern,
//! each piece that is a token counts one, and each other piece is byte-pair merged
//! ([`super::merge`]) against a compact [`Vocab`]. Special tokens are ordinary text here, as
//! in `encode_ordinary`.
//!
//! `cl100k_base`'s pattern runs as tiktoken runs it, on `fancy-regex` (it has a look-ahead
//! and possessive quantifiers). `o200k_base`'s runs on the `regex` crate, about twice as fast
//! on long text: its one look-ahead, `\s+(?!\S)`, is applied by hand ([`give_back`]).
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

/// `o200k_base`'s pre-tokenizer ([`tiktoken_rs::O200K_BASE_PAT_STR`]) without its
/// alternative `\s+(?!\S)`, which [`give_back`] applies to what the alternative after it,
/// `\s+`, matches.
const O200K_BASE_PLAIN_PATTERN: &str = concat!(
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

/// Bytes of text per token for the rest of a text the pattern could not split (see
/// [`CompactBpe::count_ordinary`]).
const BYTES_PER_TOKEN: usize = 4;

/// Counts the tokens of text in one encoding.
pub(crate) struct CompactBpe {
    vocab: Vocab,
    /// The pre-tokenizer, shared by the threads that count short texts.
    pattern: Pattern,
    /// Its source, for the threads that compile their own ([`compile_patterns_here`]).
    source: Source,
}

/// A pre-tokenizer's pattern and the engine it runs on.
#[derive(Clone, Copy)]
enum Source {
    /// Run by `fancy-regex`, as written.
    Fancy(&'static str),
    /// Run by `regex`, each match then passed through [`give_back`].
    Plain(&'static str),
}

/// A compiled [`Source`].
enum Pattern {
    Fancy(fancy_regex::Regex),
    Plain(regex::Regex),
}

impl Source {
    /// Compiles the pattern: the patterns are built in and tested, so a failure is a broken
    /// build.
    fn compile(self) -> Pattern {
        match self {
            Self::Fancy(source) => Pattern::Fancy(
                fancy_regex::Regex::new(source).expect("the built-in patterns compile"),
            ),
            Self::Plain(source) => {
                Pattern::Plain(regex::Regex::new(source).expect("the built-in patterns compile"))
            }
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Fancy(source) | Self::Plain(source) => source,
        }
    }
}

/// Patterns a thread compiled for itself, by source.
type OwnPatterns = Vec<(&'static str, Rc<Pattern>)>;

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
fn own_pattern(source: Source) -> Option<Rc<Pattern>> {
    OWN_PATTERNS.with_borrow_mut(|own| {
        let own = own.as_mut()?;
        if let Some((_, pattern)) = own.iter().find(|(s, _)| std::ptr::eq(*s, source.text())) {
            return Some(pattern.clone());
        }
        let pattern = Rc::new(source.compile());
        own.push((source.text(), pattern.clone()));
        Some(pattern)
    })
}

/// `o200k_base`'s `\s+(?!\S)`, for a piece that `\s+` matched from `start` to `end` of
/// `text`: a run of whitespace that more text follows gives its last character back to the
/// piece after it (` word`), unless it is that one character. Other pieces are kept whole.
///
/// Only `\s*[\r\n]+` and `\s+` match pieces of whitespace alone, and the first always ends
/// in a line break; a run with a line break in it never reaches `\s+`.
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
        Self::new(O200K_BASE, Source::Plain(O200K_BASE_PLAIN_PATTERN))
    }

    /// The counter of `cl100k_base` (GPT-4, GPT-3.5, `text-embedding-3`).
    pub(crate) fn cl100k_base() -> Self {
        Self::new(CL100K_BASE, Source::Fancy(CL100K_BASE_PATTERN))
    }

    /// Indexes built-in tokens and compiles a built-in pattern: both are fixed at build time
    /// and tested, so a failure is a broken build.
    fn new((tokens, starts): (&'static [u8], &'static [u8]), source: Source) -> Self {
        Self {
            vocab: Vocab::built(tokens, starts).expect("the built-in tokens are distinct"),
            pattern: source.compile(),
            source,
        }
    }

    /// How many tokens `text` encodes to, as tiktoken's `encode_ordinary(text).len()`.
    ///
    /// Should `cl100k_base`'s pattern give up on some text (`fancy-regex` stops backtracking
    /// after a million steps; tiktoken panics there), the rest of the text is estimated at 4
    /// bytes per token rather than failing the request. `o200k_base`'s, on `regex`, never gives
    /// up.
    pub(crate) fn count_ordinary(&self, text: &str) -> usize {
        let mut scratch = Scratch::default();
        if is_one_word(text) {
            // A role name or a one-word message: no pattern to run.
            return self.count_piece(text.as_bytes(), &mut scratch);
        }
        let mut tokens = 0;
        let own = own_pattern(self.source);
        match own.as_deref().unwrap_or(&self.pattern) {
            Pattern::Fancy(pattern) => {
                let mut counted_to = 0;
                for piece in pattern.find_iter(text) {
                    let Ok(piece) = piece else {
                        return tokens + (text.len() - counted_to).div_ceil(BYTES_PER_TOKEN);
                    };
                    counted_to = piece.end();
                    tokens += self.count_piece(piece.as_str().as_bytes(), &mut scratch);
                }
            }
            Pattern::Plain(pattern) => {
                let mut at = 0;
                while let Some(piece) = pattern.find_at(text, at) {
                    let end = give_back(text, piece.start(), piece.end());
                    tokens += self.count_piece(&text.as_bytes()[piece.start()..end], &mut scratch);
                    at = end;
                }
            }
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
