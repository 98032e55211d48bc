//! A BPE vocabulary held compactly: token bytes to rank, and nothing else.
//!
//! Counting tokens only ever asks "is this byte string a token, and of what rank?", so the
//! vocabulary keeps every token's bytes end to end in one arena, where each token starts
//! (one `u32` per token), and a hash index that stores only ranks: a lookup hashes the bytes
//! asked for and compares them with the arena slice of each candidate rank. For `o200k_base`
//! that is about 3.4 MiB, against about 45 MiB for a `HashMap<Vec<u8>, Rank>` with its
//! decoder (tiktoken-rs's `CoreBPE`). The built-in vocabularies borrow their arena and starts
//! from the binary (the build script decodes the rank files into that form), so only the
//! index, about 1.2 MiB for `o200k_base`, is on the heap.

use std::{borrow::Cow, hash::BuildHasher};

#[cfg(test)]
use base64::{Engine, engine::general_purpose::STANDARD};
use hashbrown::{DefaultHashBuilder, HashTable, hash_table::Entry};

/// Token bytes to rank, for one encoding.
pub(crate) struct Vocab {
    /// Every token's bytes, in rank order, end to end.
    arena: Cow<'static, [u8]>,
    /// Where token `r` starts in `arena`, as little-endian `u32`s; entry `r + 1` is where it
    /// ends (one extra entry).
    starts: Cow<'static, [u8]>,
    /// Ranks, found by the hash of their token's bytes.
    index: HashTable<u32>,
    /// The hash of `index`.
    hasher: DefaultHashBuilder,
}

/// Why a vocabulary could not be built (the built-in ones are checked by the build script and
/// the tests, so only a broken build sees one). Parsing a rank file at run time is for tests.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VocabError {
    /// A line is not `<base64> <rank>`.
    #[cfg(test)]
    #[error("line {line}: not `<base64 token> <rank>`")]
    Malformed {
        /// The line, counted from 1.
        line: usize,
    },
    /// The token of a line is not valid base64.
    #[cfg(test)]
    #[error("line {line}: {source}")]
    Base64 {
        /// The line, counted from 1.
        line: usize,
        /// What the decoder said.
        source: base64::DecodeError,
    },
    /// Ranks must run 0, 1, 2, ... in file order (they do in OpenAI's files), so that the
    /// rank of a token is its position and needs no storage.
    #[cfg(test)]
    #[error("line {line}: rank {rank} is out of order")]
    RankOrder {
        /// The line, counted from 1.
        line: usize,
        /// The rank it gave.
        rank: u64,
    },
    /// The same bytes appear twice.
    #[error("line {line}: the token repeats an earlier one")]
    Duplicate {
        /// The line, counted from 1.
        line: usize,
    },
}

impl Vocab {
    /// A vocabulary over `arena` and its little-endian `u32` `starts`, as the build script
    /// writes them.
    pub(crate) fn built(arena: &'static [u8], starts: &'static [u8]) -> Result<Self, VocabError> {
        Self::indexed(Cow::Borrowed(arena), Cow::Borrowed(starts))
    }

    /// Parses a tiktoken rank file (`<base64 token> <rank>` per line, ranks `0..n` in order).
    #[cfg(test)]
    pub(crate) fn parse(file: &str) -> Result<Self, VocabError> {
        let mut arena = Vec::new();
        let mut starts = Vec::new();
        for (number, line) in file.lines().enumerate() {
            let line_no = number + 1;
            let (token, rank) = line
                .split_once(' ')
                .ok_or(VocabError::Malformed { line: line_no })?;
            let rank: u64 = rank
                .parse()
                .map_err(|_| VocabError::Malformed { line: line_no })?;
            if rank != number as u64 {
                return Err(VocabError::RankOrder {
                    line: line_no,
                    rank,
                });
            }
            starts.extend_from_slice(&offset(arena.len()).to_le_bytes());
            STANDARD
                .decode_vec(token, &mut arena)
                .map_err(|source| VocabError::Base64 {
                    line: line_no,
                    source,
                })?;
        }
        starts.extend_from_slice(&offset(arena.len()).to_le_bytes());
        Self::indexed(Cow::Owned(arena), Cow::Owned(starts))
    }

    /// Indexes the tokens of `arena` by their bytes; refuses a token that repeats another.
    fn indexed(arena: Cow<'static, [u8]>, starts: Cow<'static, [u8]>) -> Result<Self, VocabError> {
        let tokens = (starts.len() / size_of::<u32>()).saturating_sub(1);
        let hasher = DefaultHashBuilder::default();
        let token = |rank: u32| slice(&arena, &starts, rank);
        let mut index = HashTable::with_capacity(tokens);
        for rank in 0..offset(tokens) {
            let bytes = token(rank);
            // One probe finds a repeat or the free slot.
            let entry = index.entry(
                hasher.hash_one(bytes),
                |&other| token(other) == bytes,
                |&other| hasher.hash_one(token(other)),
            );
            match entry {
                Entry::Occupied(_) => {
                    return Err(VocabError::Duplicate {
                        line: rank as usize + 1,
                    });
                }
                Entry::Vacant(slot) => {
                    slot.insert(rank);
                }
            }
        }
        Ok(Self {
            arena,
            starts,
            index,
            hasher,
        })
    }

    /// The rank of `bytes`, if they are a token.
    #[inline]
    pub(crate) fn rank(&self, bytes: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(bytes);
        self.index
            .find(hash, |&rank| self.token(rank) == bytes)
            .copied()
    }

    /// The bytes of the token of `rank` (which must be below [`Vocab::len`]).
    #[inline]
    fn token(&self, rank: u32) -> &[u8] {
        slice(&self.arena, &self.starts, rank)
    }

    /// How many tokens there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.starts.len() / size_of::<u32>() - 1
    }

    /// The heap the vocabulary holds, in bytes: the index, and the arena and offsets when
    /// they are not borrowed from the binary.
    pub(crate) fn heap_bytes(&self) -> usize {
        let owned = |bytes: &Cow<'static, [u8]>| match bytes {
            Cow::Borrowed(_) => 0,
            Cow::Owned(bytes) => bytes.len(),
        };
        owned(&self.arena) + owned(&self.starts) + self.index.allocation_size()
    }
}

/// The bytes of the token of `rank` in `arena`.
#[inline]
fn slice<'a>(arena: &'a [u8], starts: &[u8], rank: u32) -> &'a [u8] {
    let rank = rank as usize;
    &arena[start(starts, rank)..start(starts, rank + 1)]
}

/// Entry `i` of the little-endian `u32` offsets `starts`.
#[inline]
fn start(starts: &[u8], i: usize) -> usize {
    let mut word = [0; 4];
    word.copy_from_slice(&starts[i * 4..i * 4 + 4]);
    u32::from_le_bytes(word) as usize
}

/// `n` as an arena offset; the rank files are a few MiB, far below 4 GiB.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a rank file is smaller than 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_found_by_their_bytes() {
        // "a", "b", "ab", "abc"
        let vocab = Vocab::parse("YQ== 0\nYg== 1\nYWI= 2\nYWJj 3\n").expect("parses");
        assert_eq!(vocab.len(), 4);
        assert_eq!(vocab.rank(b"a"), Some(0));
        assert_eq!(vocab.rank(b"ab"), Some(2));
        assert_eq!(vocab.rank(b"abc"), Some(3));
        assert_eq!(vocab.rank(b"bc"), None);
        assert_eq!(vocab.rank(b""), None);
    }

    #[test]
    fn broken_files_are_refused() {
        assert!(matches!(
            Vocab::parse("YQ== 0\nYg== 2\n"),
            Err(VocabError::RankOrder { line: 2, rank: 2 })
        ));
        assert!(matches!(
            Vocab::parse("YQ== 0\nYQ== 1\n"),
            Err(VocabError::Duplicate { line: 2 })
        ));
        assert!(matches!(
            Vocab::parse("YQ==\n"),
            Err(VocabError::Malformed { line: 1 })
        ));
        assert!(matches!(
            Vocab::parse("!!!! 0\n"),
            Err(VocabError::Base64 { line: 1, .. })
        ));
    }
}
