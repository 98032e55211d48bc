//! Byte-pair merging of one pre-tokenized piece, counting the tokens it ends as.
//!
//! The piece starts as single bytes; while some two adjacent parts together form a token,
//! the pair whose token has the lowest rank is joined (the leftmost such pair on a tie). The
//! parts left when no adjacent pair forms a token are the piece's tokens. Only their number
//! is needed, so nothing is collected.
//!
//! Short pieces (nearly all of them: words, numbers, punctuation) keep their parts in one
//! small vector and look for the lowest pair by a linear scan, which is the fastest for a
//! few dozen bytes. Long pieces (a run of whitespace, a long word of base64 or of a script
//! without spaces) keep a linked list and a min-heap of pairs instead, so that merging
//! stays `O(n log n)` rather than `O(n²)`. Both give the same result (a test checks).

use std::{cmp::Reverse, collections::BinaryHeap};

use super::vocab::Vocab;

/// No token: a pair whose bytes are not in the vocabulary, or no pair at all.
const NONE: u32 = u32::MAX;

/// Pieces longer than this many bytes are merged with the heap.
const HEAP_ABOVE: usize = 128;

/// One part of a piece being merged: where it starts in the piece, and the rank of the pair
/// it forms with the part after it ([`NONE`] when that pair is not a token).
type Part = (u32, u32);

/// Scratch space of one count, reused by every piece of it that needs merging.
#[derive(Default)]
pub(crate) struct Scratch {
    parts: Vec<Part>,
}

/// How many tokens `piece` merges into. Meant for pieces that are not a token themselves
/// (those are one token; the caller checks first).
pub(crate) fn count(vocab: &Vocab, piece: &[u8], scratch: &mut Scratch) -> usize {
    match piece.len() {
        0 => 0,
        1 => 1,
        n if n > HEAP_ABOVE => count_with_heap(vocab, piece),
        _ => count_linear(vocab, piece, &mut scratch.parts),
    }
}

/// The merge for short pieces: `parts` holds every part and, last, an end marker at
/// `piece.len()`; the lowest pair is found by a scan.
fn count_linear(vocab: &Vocab, piece: &[u8], parts: &mut Vec<Part>) -> usize {
    parts.clear();
    parts.extend((0..piece.len() as u32).map(|start| {
        let start_at = start as usize;
        let rank = piece
            .get(start_at..start_at + 2)
            .and_then(|pair| vocab.rank(pair))
            .unwrap_or(NONE);
        (start, rank)
    }));
    parts.push((piece.len() as u32, NONE));
    // The rank of the pair that part `i` starts, once parts have been joined.
    let pair_rank = |parts: &[Part], i: usize| match parts.get(i + 2) {
        Some(&(end, _)) => vocab
            .rank(&piece[parts[i].0 as usize..end as usize])
            .unwrap_or(NONE),
        None => NONE,
    };
    loop {
        let mut lowest = NONE;
        let mut at = 0;
        for (i, &(_, rank)) in parts.iter().enumerate() {
            if rank < lowest {
                lowest = rank;
                at = i;
            }
        }
        if lowest == NONE {
            break;
        }
        parts.remove(at + 1);
        parts[at].1 = pair_rank(parts, at);
        if at > 0 {
            parts[at - 1].1 = pair_rank(parts, at - 1);
        }
    }
    parts.len() - 1
}

/// The merge for long pieces: part `i` starts at byte `i` and runs to `next[i]`; the heap
/// holds `(rank, part)` for every pair, lowest rank first and, on a tie, leftmost first. A
/// heap entry whose rank no longer matches its part's current pair is stale and skipped.
fn count_with_heap(vocab: &Vocab, piece: &[u8]) -> usize {
    let n = piece.len();
    let end = n as u32;
    let mut next: Vec<u32> = (1..=end).collect();
    let mut prev: Vec<u32> = (0..end).map(|i| i.wrapping_sub(1)).collect();
    let mut rank = vec![NONE; n];
    let mut heap = BinaryHeap::with_capacity(n);
    // The rank of the pair that part `i` starts.
    let pair_rank = |next: &[u32], i: u32| {
        let second = next[i as usize];
        if second == end {
            return NONE;
        }
        let stop = next[second as usize];
        vocab
            .rank(&piece[i as usize..stop as usize])
            .unwrap_or(NONE)
    };
    for i in 0..end {
        let r = pair_rank(&next, i);
        rank[i as usize] = r;
        if r != NONE {
            heap.push(Reverse((r, i)));
        }
    }
    let mut parts = n;
    while let Some(Reverse((r, i))) = heap.pop() {
        if rank[i as usize] != r {
            continue;
        }
        // Join part `i` with the part after it.
        let second = next[i as usize];
        let after = next[second as usize];
        next[i as usize] = after;
        if after != end {
            prev[after as usize] = i;
        }
        rank[second as usize] = NONE;
        parts -= 1;
        let r = pair_rank(&next, i);
        rank[i as usize] = r;
        if r != NONE {
            heap.push(Reverse((r, i)));
        }
        let before = prev[i as usize];
        if before != NONE {
            let r = pair_rank(&next, before);
            rank[before as usize] = r;
            if r != NONE {
                heap.push(Reverse((r, before)));
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A toy vocabulary: every byte of `a`..`d`, then merges.
    fn vocab() -> Vocab {
        vocab_of(&[
            b"a", b"b", b"c", b"d", b"ab", b"bc", b"cd", b"aa", b"abc", b"aaaa", b"bcd", b"dd",
            b"abcd", b"ddd",
        ])
    }

    /// A vocabulary of `tokens`, ranked in order.
    fn vocab_of(tokens: &[&[u8]]) -> Vocab {
        use base64::{Engine, engine::general_purpose::STANDARD};
        let file: String = tokens
            .iter()
            .enumerate()
            .map(|(rank, token)| format!("{} {rank}\n", STANDARD.encode(token)))
            .collect();
        Vocab::parse(&file).expect("parses")
    }

    #[test]
    fn lowest_rank_first_and_leftmost_on_a_tie() {
        let vocab = vocab();
        let mut scratch = Scratch::default();
        // "abcd": ab (4) first; then cd (6) before ab+c (8); then ab+cd = abcd (12).
        assert_eq!(count(&vocab, b"abcd", &mut scratch), 1);
        // "aaa": the left pair joins first: [aa][a].
        assert_eq!(count(&vocab, b"aaa", &mut scratch), 2);
        // "bcda": bc (5), then bcd (10); "a" alone.
        assert_eq!(count(&vocab, b"bcda", &mut scratch), 2);
        // "dddd": the leftmost dd (11); then d+d (11) before dd+d (13); dd+dd is no token.
        assert_eq!(count(&vocab, b"dddd", &mut scratch), 2);
    }

    #[test]
    fn a_tie_goes_to_the_leftmost_pair_whichever_merge_runs() {
        // "aaab": aa at 0 and aa at 1 tie. Leftmost: [aa][a][b], which merges no further (3);
        // rightmost would give [a][aa][b], then [a][aab] (2).
        let vocab = vocab_of(&[b"a", b"b", b"aa", b"aab"]);
        let mut parts = Vec::new();
        assert_eq!(count_linear(&vocab, b"aaab", &mut parts), 3);
        assert_eq!(count_with_heap(&vocab, b"aaab"), 3);
        let long = b"aaab".repeat(50);
        assert_eq!(count_linear(&vocab, &long, &mut parts), 150);
        assert_eq!(count_with_heap(&vocab, &long), 150);
    }

    proptest! {
        #[test]
        fn the_heap_and_the_scan_agree(piece in proptest::collection::vec(b'a'..=b'd', 2..400)) {
            let vocab = vocab();
            let mut parts = Vec::new();
            prop_assert_eq!(
                count_with_heap(&vocab, &piece),
                count_linear(&vocab, &piece, &mut parts)
            );
        }
    }
}
