//! [`StreamText`]: the generated text of a stream, kept as it is on the wire.

/// The generated text of a stream so far, kept as the JSON string contents the events carry
/// (escapes and all): a scan appends them without decoding, and only a stream whose text must
/// be counted (the provider reported no usage, it broke, the client went away) decodes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamText {
    raw: Vec<u8>,
}

impl StreamText {
    /// An empty text with room for `bytes` before it first grows.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            raw: Vec::with_capacity(bytes),
        }
    }

    /// Appends the contents of a JSON string, as they are on the wire (without its quotes).
    pub fn push_raw(&mut self, escaped: &[u8]) {
        self.raw.extend_from_slice(escaped);
    }

    /// Appends decoded text (escaped again, so that the whole stays one JSON string's contents).
    pub fn push_str(&mut self, text: &str) {
        if let Ok(quoted) = serde_json::to_vec(text) {
            self.raw.extend_from_slice(&quoted[1..quoted.len() - 1]);
        }
    }

    /// Appends `other` and leaves it empty.
    pub fn append(&mut self, other: &mut StreamText) {
        self.raw.append(&mut other.raw);
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The text, decoded.
    pub fn decode(self) -> String {
        let mut quoted = Vec::with_capacity(self.raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(&self.raw);
        quoted.push(b'"');
        serde_json::from_slice(&quoted)
            .unwrap_or_else(|_| String::from_utf8_lossy(&self.raw).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_decoded_pieces_decode_as_one_text() {
        let mut text = StreamText::default();
        text.push_raw(br#"Hel\"lo"#);
        text.push_str("{\"a\":1}\n");
        let mut more = StreamText::default();
        more.push_raw(br"\u00e9");
        text.append(&mut more);
        assert!(more.is_empty());
        assert_eq!(text.decode(), "Hel\"lo{\"a\":1}\né");
    }
}
