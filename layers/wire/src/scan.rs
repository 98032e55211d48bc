//! Byte-level helpers shared by the stream observers, forwarders and encoders: lines of an SSE
//! stream that arrives split anywhere, substring search without decoding, and the members of
//! a JSON document located without parsing it.
//!
//! The JSON helpers rely on one property of valid JSON: a `"` that is not preceded by a
//! backslash is a string delimiter, and a string followed by `:` is a member name. So
//! `"usage"` followed by a colon is a member called `usage` (at some depth), never text inside
//! a string value, where its quotes are escaped. Callers that need the exact meaning of a
//! document (top level or nested, duplicates) parse the few documents a scan points at.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Splits a byte stream that arrives in arbitrary pieces into whole lines (`\n`-terminated,
/// a trailing `\r` removed), keeping the unfinished tail for the next piece.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Calls `line` for each line `bytes` completes.
    pub(crate) fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(&[u8])) {
        let mut rest = bytes;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(newline);
            rest = &tail[1..];
            if self.partial.is_empty() {
                line(trim_cr(head));
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(head);
                line(trim_cr(&whole));
            }
        }
        self.partial.extend_from_slice(rest);
    }
}

/// `line` without its trailing `\r`.
pub fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where `byte` first occurs in `haystack`.
pub fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    memchr::memchr(byte, haystack)
}

/// A byte string to search for, with its searcher built once: building one costs more than
/// searching a stream event with it, so per-event searches use a static `Needle`.
pub struct Needle(Finder<'static>);

impl Needle {
    /// Searches for `needle`.
    pub fn new(needle: &'static [u8]) -> Self {
        Self(Finder::new(needle))
    }

    /// Where the needle first occurs in `haystack`.
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        self.0.find(haystack)
    }

    /// Whether the needle occurs in `haystack`.
    pub fn is_in(&self, haystack: &[u8]) -> bool {
        self.find(haystack).is_some()
    }
}

/// The byte strings the stream scanners look for, built once.
pub mod needles {
    use super::{LazyLock, Needle};

    /// The blank line that ends a server-sent event.
    pub static EVENT_END: LazyLock<Needle> = LazyLock::new(|| Needle::new(b"\n\n"));
}

/// A JSON member name to look for, with its searcher built once.
pub struct Key {
    finder: Finder<'static>,
    len: usize,
}

impl Key {
    /// The member called `quoted`, given with its quotes (`"\"usage\""`).
    pub fn new(quoted: &'static str) -> Self {
        Self {
            finder: Finder::new(quoted.as_bytes()),
            len: quoted.len(),
        }
    }

    /// Where the value of each member with this name starts in `json` (the index of its first
    /// byte, whitespace skipped), in document order, at any depth.
    pub fn values<'a>(&'a self, json: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        // Searching the rest of `json` each time, rather than with `find_iter`, which copies
        // the searcher for every call.
        let mut from = 0;
        std::iter::from_fn(move || {
            loop {
                let at = from + self.finder.find(json.get(from..)?)?;
                from = at + self.len;
                if at > 0 && json[at - 1] == b'\\' {
                    continue;
                }
                let colon = skip_ws(json, from);
                if json.get(colon) == Some(&b':') {
                    return Some(skip_ws(json, colon + 1));
                }
            }
        })
    }

    /// Where the value of the first member with this name starts, if any.
    pub fn first_value(&self, json: &[u8]) -> Option<usize> {
        self.values(json).next()
    }

    /// Whether `json` has a member with this name whose value is an object.
    pub fn has_object(&self, json: &[u8]) -> bool {
        self.values(json).any(|at| json.get(at) == Some(&b'{'))
    }
}

/// The member names the stream scanners look for, built once.
pub mod keys {
    use super::{Key, LazyLock};

    /// `"usage"`.
    pub static USAGE: LazyLock<Key> = LazyLock::new(|| Key::new("\"usage\""));
    /// `"error"`: the reference that [`ChatChunk`](crate::chat_chunk::ChatChunk)'s one search is
    /// checked against (tests, bench and fuzz target).
    pub static ERROR: LazyLock<Key> = LazyLock::new(|| Key::new("\"error\""));
}

/// The first index at or after `at` that is not JSON whitespace.
pub fn skip_ws(json: &[u8], mut at: usize) -> usize {
    while json
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The index just after the string that starts at `at` (a `"`), or `None` when it is not
/// closed in `json`.
pub fn string_end(json: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        let next = i + memchr::memchr2(b'"', b'\\', json.get(i..)?)?;
        if json[next] == b'"' {
            return Some(next + 1);
        }
        i = next + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_anywhere_come_out_whole() {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        for piece in [
            &b"event: a\r"[..],
            b"\ndata: {\"x\"",
            b":1}\n\nda",
            b"ta: 2\n",
        ] {
            lines.feed(piece, |l| {
                seen.push(String::from_utf8_lossy(l).into_owned())
            });
        }
        assert_eq!(seen, ["event: a", "data: {\"x\":1}", "", "data: 2"]);
        assert!(Needle::new(b"bc").is_in(b"abc"));
        assert_eq!(needles::EVENT_END.find(b"data: 1\n\ndata: 2"), Some(7));
        assert!(!Needle::new(b"\"usage\"").is_in(b"{\"usage_x\":1}"));
    }

    #[test]
    fn members_are_told_from_text_that_mentions_them() {
        let json = br#"{"note":"say \"usage\": {}","x":{"usage" : {"a":1}},"usage":null}"#;
        let key = Key::new("\"usage\"");
        let values: Vec<u8> = key.values(json).map(|at| json[at]).collect();
        assert_eq!(values, b"{n");
        assert!(key.has_object(json));
        assert!(!key.has_object(br#"{"usage":null,"t":"\"usage\":{"}"#));
        assert_eq!(key.first_value(b"{\"usage\"}"), None);
    }

    #[test]
    fn strings_end_at_their_first_unescaped_quote() {
        let json = br#""a\"b\\" rest"#;
        assert_eq!(string_end(json, 0), Some(8));
        assert_eq!(string_end(br#""open\""#, 0), None);
        assert_eq!(string_end(br#""""#, 0), Some(2));
    }
}
