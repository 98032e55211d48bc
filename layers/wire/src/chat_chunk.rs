//! One pass over an OpenAI chat stream chunk: what the forwarder and the cost layer need to
//! know of it (an `error` member, a `usage` object, the content deltas), found by one search
//! for the four member names at once instead of one search per name.
//!
//! The members are located as [`scan::Key`](crate::scan::Key) locates them: a quoted name not
//! preceded by a backslash and followed by `:` is a member name, at any depth. A search over
//! a 200-byte chunk costs more in setup than in scanning, so one search for four names costs
//! about what one search for one name did.

use std::sync::LazyLock;

use aho_corasick::packed::{self, Searcher};
use infermux_core::StreamText;

use crate::scan::{skip_ws, string_end};

/// The content deltas a chunk can have for its text to be read without parsing it (one per
/// choice; more are parsed).
const MAX_CONTENTS: usize = 4;

/// The member names looked for, in the order of [`Member`].
const NAMES: [&str; 4] = ["\"error\"", "\"usage\"", "\"tool_calls\"", "\"content\""];

/// The members of [`NAMES`], by pattern index.
#[derive(Clone, Copy)]
enum Member {
    Error,
    Usage,
    ToolCalls,
    Content,
}

const MEMBERS: [Member; 4] = [
    Member::Error,
    Member::Usage,
    Member::ToolCalls,
    Member::Content,
];

/// One searcher for every name, built once: a SIMD (Teddy) searcher where the CPU has one.
static SEARCHER: LazyLock<Searcher> = LazyLock::new(|| {
    packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(NAMES)
        .build()
        .expect("four short patterns")
});

/// What one OpenAI chat chunk holds, as far as the forwarder and the cost layer care.
#[derive(Debug, Clone, Copy)]
pub struct ChatChunk<'a> {
    json: &'a [u8],
    error: bool,
    usage_object: bool,
    /// The escaped text of each `content` string, as ranges of the chunk, or `None` when the
    /// text must be parsed: tool calls, a usage object, a content that is not a string or
    /// `null`, more contents than fit, or a content string that does not close.
    contents: Option<Contents>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Contents {
    ranges: [(usize, usize); MAX_CONTENTS],
    count: usize,
}

impl Contents {
    /// These contents and the one whose value starts at `value` in `json`: the same when it
    /// is `null`, `None` when it is not a closed string or there is no room left.
    fn with(mut self, json: &[u8], value: usize) -> Option<Self> {
        match json.get(value)? {
            b'n' => Some(self),
            b'"' => {
                let end = string_end(json, value)?;
                *self.ranges.get_mut(self.count)? = (value + 1, end - 1);
                self.count += 1;
                Some(self)
            }
            _ => None,
        }
    }
}

impl<'a> ChatChunk<'a> {
    /// Reads `json`, an OpenAI chat chunk (the data of one stream event), in one pass.
    pub fn scan(json: &'a [u8]) -> Self {
        let (mut error, mut usage_object) = (false, false);
        let mut contents = Some(Contents::default());
        for found in SEARCHER.find_iter(json) {
            let (start, end) = (found.start(), found.end());
            if start > 0 && json[start - 1] == b'\\' {
                continue;
            }
            let member = MEMBERS[found.pattern().as_usize()];
            if matches!(member, Member::ToolCalls) {
                // Anywhere, even as text: the chunk is parsed.
                contents = None;
                continue;
            }
            let colon = skip_ws(json, end);
            if json.get(colon) != Some(&b':') {
                continue;
            }
            let value = skip_ws(json, colon + 1);
            match member {
                Member::Error => error = true,
                Member::Usage if json.get(value) == Some(&b'{') => {
                    usage_object = true;
                    contents = None;
                }
                Member::Content => contents = contents.and_then(|c| c.with(json, value)),
                Member::Usage | Member::ToolCalls => {}
            }
        }
        Self {
            json,
            error,
            usage_object,
            contents,
        }
    }

    /// Whether the chunk has an `error` member (at any depth): the provider reports a failure.
    pub fn has_error(&self) -> bool {
        self.error
    }

    /// Whether the chunk has a `usage` member whose value is an object.
    pub fn has_usage_object(&self) -> bool {
        self.usage_object
    }

    /// Appends the chunk's content and tool-call deltas to `text`, straight from its bytes
    /// when the search found only content strings, by parsing it otherwise. Returns whether
    /// it is the usage chunk (a usage object and no choices).
    pub fn append_text(&self, text: &mut StreamText) -> bool {
        match &self.contents {
            Some(contents) => {
                for (start, end) in &contents.ranges[..contents.count] {
                    text.push_raw(&self.json[*start..*end]);
                }
                false
            }
            None => crate::delta_text::parse_chat(self.json, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::keys;

    /// Error and usage as one search per member name finds them, for comparison.
    fn searched(json: &str) -> (bool, bool) {
        let json = json.as_bytes();
        (
            keys::ERROR.first_value(json).is_some(),
            keys::USAGE.has_object(json),
        )
    }

    #[test]
    fn one_search_finds_what_a_search_per_member_finds() {
        let chunks = [
            r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
            r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#,
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
            r#"{"choices":[{"delta":{"content":"say \"error\": \"usage\": {}"}}]}"#,
            r#"{ "usage" : { "prompt_tokens" : 1 } , "choices" : [ ] }"#,
            r#"{"choices":[{"delta":{"content":"a\\"}}],"type":"error"}"#,
            r#"{"x":{"usage":{"a":1}},"error":null}"#,
            r#"{"error":{"message":"cut"#,
            r#"{"usage"}"#,
        ];
        for json in chunks {
            let chunk = ChatChunk::scan(json.as_bytes());
            assert_eq!(
                (chunk.has_error(), chunk.has_usage_object()),
                searched(json),
                "{json}"
            );
        }
    }

    #[test]
    fn member_names_inside_strings_are_text() {
        let json = br#"{"choices":[{"delta":{"content":"\"error\": 1, \"usage\": {}"}}]}"#;
        let chunk = ChatChunk::scan(json);
        assert!(!chunk.has_error());
        assert!(!chunk.has_usage_object());
        let mut text = StreamText::default();
        assert!(!chunk.append_text(&mut text));
        assert_eq!(text.decode(), r#""error": 1, "usage": {}"#);
    }

    #[test]
    fn what_one_search_cannot_read_for_certain_is_parsed() {
        for json in [
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}"#,
            r#"{"choices":[{"delta":{"content":7}}]}"#,
            r#"{"choices":[{"delta":{"content":"open"#,
            r#"{"choices":[{"delta":{"content":"1"}},{"delta":{"content":"2"}},{"delta":{"content":"3"}},{"delta":{"content":"4"}},{"delta":{"content":"5"}}]}"#,
        ] {
            assert!(
                ChatChunk::scan(json.as_bytes()).contents.is_none(),
                "{json}"
            );
        }
        let four = r#"{"choices":[{"delta":{"content":"1"}},{"delta":{"content":null}},{"delta":{"content":"3"}},{"delta":{"content":"4"}},{"delta":{"content":"5"}}]}"#;
        let chunk = ChatChunk::scan(four.as_bytes());
        let mut text = StreamText::default();
        chunk.append_text(&mut text);
        assert_eq!(text.decode(), "1345");
        assert!(chunk.contents.is_some());
    }

    #[test]
    fn the_usage_chunk_is_parsed_and_told_apart() {
        let json = br#"{"choices":[],"usage":{"prompt_tokens":1}}"#;
        let chunk = ChatChunk::scan(json);
        assert!(chunk.has_usage_object());
        assert!(chunk.append_text(&mut StreamText::default()));
    }
}
