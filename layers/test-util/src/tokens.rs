//! Deterministic token counting, shared by the three mocks.
//!
//! Real providers count tokens with their own tokenizers, so a test could never predict a bill.
//! The mocks count *words* instead, with one formula for every provider, so a test can compute
//! the exact usage (and therefore the exact cost) of any request it sends:
//!
//! - **prompt tokens** = `3 + Σ over messages (4 + max(1, words of the message's text))`.
//!   A top-level system prompt (Anthropic `system`) counts as one more message.
//!   A single user message `"hi"` therefore costs `3 + 4 + 1 = 8` prompt tokens.
//! - **completion tokens** = the words of the reply; the default reply `"Hello!"` is 1 token.
//!   A tool call costs the words of its name plus the words of its arguments JSON.
//! - **embedding input tokens** = `Σ over inputs max(1, words)`.
//!
//! "Words" are whitespace-separated runs ([`str::split_whitespace`]). The text of a message is
//! its string content or the `text` of its text parts; images and other parts add no words.
//!
//! ```
//! use infermux_test_util::tokens;
//!
//! assert_eq!(tokens::prompt_tokens(&["hi"]), 8);
//! assert_eq!(tokens::prompt_tokens(&["be brief", "hi"]), 3 + (4 + 2) + (4 + 1));
//! assert_eq!(tokens::completion_tokens("Hello!"), 1);
//! assert_eq!(tokens::embedding_tokens(&["hello world"]), 2);
//! ```

/// Tokens every conversation costs before its first message.
pub const CONVERSATION_OVERHEAD: u32 = 3;

/// Tokens every message costs on top of its words.
pub const MESSAGE_OVERHEAD: u32 = 4;

/// The number of whitespace-separated words in `text`.
pub fn words(text: &str) -> u32 {
    saturate(text.split_whitespace().count())
}

/// The prompt tokens of a conversation whose messages have these texts, in order.
pub fn prompt_tokens<S: AsRef<str>>(message_texts: &[S]) -> u32 {
    message_texts
        .iter()
        .fold(CONVERSATION_OVERHEAD, |sum, text| {
            sum.saturating_add(message_tokens(text.as_ref()))
        })
}

/// The tokens one message with this text adds to a prompt.
pub fn message_tokens(text: &str) -> u32 {
    MESSAGE_OVERHEAD.saturating_add(words(text).max(1))
}

/// The completion tokens of a text reply.
pub fn completion_tokens(reply: &str) -> u32 {
    words(reply)
}

/// The completion tokens of a tool call.
pub fn tool_call_tokens(name: &str, arguments_json: &str) -> u32 {
    words(name).saturating_add(words(arguments_json))
}

/// The input tokens of an embedding request with these inputs.
pub fn embedding_tokens<S: AsRef<str>>(inputs: &[S]) -> u32 {
    inputs.iter().fold(0, |sum, input| {
        sum.saturating_add(words(input.as_ref()).max(1))
    })
}

/// Splits `text` into one piece per word, each piece carrying the whitespace before its word,
/// so the pieces concatenate back to `text`. This is how the mocks stream a reply: one
/// content chunk per completion token.
pub fn pieces(text: &str) -> Vec<&str> {
    // The end of every word but the last is where the next piece starts.
    let mut ends = Vec::new();
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let word_char = !c.is_whitespace();
        if in_word && !word_char {
            ends.push(i);
        }
        in_word = word_char;
    }
    if in_word {
        ends.push(text.len());
    }
    if ends.is_empty() {
        return if text.is_empty() {
            Vec::new()
        } else {
            vec![text]
        };
    }
    // Trailing whitespace belongs to the last piece.
    ends.pop();
    ends.push(text.len());
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let piece = &text[start..end];
            start = end;
            piece
        })
        .collect()
}

/// The first `max_words` words of `text` (with the whitespace between them), or all of it.
pub(crate) fn truncate_words(text: &str, max_words: u32) -> &str {
    let pieces = pieces(text);
    let keep = usize::try_from(max_words).unwrap_or(usize::MAX);
    if pieces.len() <= keep {
        return text;
    }
    let end: usize = pieces[..keep].iter().map(|p| p.len()).sum();
    text[..end].trim_end()
}

/// Splits a tool call's arguments JSON into at least two fragments (when it has two or more
/// characters), the way providers stream partial JSON.
pub(crate) fn json_fragments(json: &str) -> Vec<&str> {
    let chars: Vec<usize> = json.char_indices().map(|(i, _)| i).collect();
    if chars.len() < 2 {
        return vec![json];
    }
    let mid = chars[chars.len() / 2];
    vec![&json[..mid], &json[mid..]]
}

/// A deterministic 8-dimensional unit vector for `text` (same text, same vector).
pub fn embedding(text: &str) -> Vec<f32> {
    // FNV-1a, then a splitmix-style walk: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut v: Vec<f32> = (0..8)
        .map(|_| {
            h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = h;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // Top 24 bits -> [-1, 1).
            let unit = (z >> 40) as f32 / (1u64 << 24) as f32;
            unit * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hi_costs_eight_and_hello_costs_one() {
        assert_eq!(prompt_tokens(&["hi"]), 8);
        assert_eq!(completion_tokens("Hello!"), 1);
        assert_eq!(
            prompt_tokens(&[""]),
            8,
            "an empty message still costs one word"
        );
        assert_eq!(prompt_tokens::<&str>(&[]), 3);
    }

    #[test]
    fn pieces_concatenate_back() {
        for text in [
            "Hello!",
            "Hello there friend",
            "  lead and trail  ",
            "",
            "   ",
            "a\nb\tc",
        ] {
            let p = pieces(text);
            assert_eq!(p.concat(), text);
            assert_eq!(
                p.len(),
                words(text).max(u32::from(!text.is_empty())) as usize
            );
        }
        assert_eq!(pieces("one two three"), vec!["one", " two", " three"]);
    }

    #[test]
    fn truncation_keeps_leading_words() {
        assert_eq!(truncate_words("one two three", 2), "one two");
        assert_eq!(truncate_words("one two three", 5), "one two three");
        assert_eq!(truncate_words("one two", 0), "");
    }

    #[test]
    fn fragments_split_json_in_two() {
        let f = json_fragments(r#"{"city":"Paris"}"#);
        assert_eq!(f.len(), 2);
        assert_eq!(f.concat(), r#"{"city":"Paris"}"#);
        assert_eq!(json_fragments("{}"), vec!["{", "}"]);
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding("hello");
        assert_eq!(a.len(), 8);
        assert_eq!(a, embedding("hello"));
        assert_ne!(a, embedding("world"));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
