//! Byte-level helpers shared by the stream observers and encoders: lines of an SSE stream that
//! arrives split anywhere, and substring search without decoding.

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
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
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

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
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
        assert!(contains(b"abc", b"bc"));
        assert_eq!(find(b"abc", b"c"), Some(2));
    }
}
