//! The generated text each stream event carries: the content, tool-call and thinking deltas
//! of OpenAI chat chunks, Anthropic `content_block_delta`s and Responses API `*.delta` events,
//! and the text of a complete chat completion.
//!
//! A byte scan reads the common events (a content delta, an Anthropic text, JSON or thinking
//! delta, a Responses delta) without parsing them; events it cannot read for certain (tool
//! calls, a usage object, an unexpected value) are parsed. A chat chunk is read by one search
//! for all its members ([`ChatChunk`]); the other protocols' readers search each event for
//! their own members only.

use std::sync::LazyLock;

use infermux_core::StreamText;
use serde::Deserialize;

use crate::{
    chat_chunk::ChatChunk,
    scan::{Key, Needle, string_end},
};

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Vec<ToolCall<'a>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(default, borrow)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(default, borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(default, borrow)]
    choices: Vec<CompletionChoice<'a>>,
}

#[derive(Deserialize)]
struct CompletionChoice<'a> {
    #[serde(default, borrow)]
    message: Option<Delta<'a>>,
}

/// The generated text of a complete chat completion (contents and tool calls of every
/// choice); empty for an embeddings list, which has no output tokens.
pub fn completion(body: &[u8]) -> String {
    let mut text = String::new();
    let Ok(completion) = serde_json::from_slice::<Completion<'_>>(body) else {
        return text;
    };
    for message in completion.choices.iter().filter_map(|c| c.message.as_ref()) {
        append(message, &mut text);
    }
    text
}

fn append(delta: &Delta<'_>, text: &mut String) {
    if let Some(content) = &delta.content {
        text.push_str(content);
    }
    for function in delta.tool_calls.iter().filter_map(|t| t.function.as_ref()) {
        for part in [&function.name, &function.arguments].into_iter().flatten() {
            text.push_str(part);
        }
    }
}

/// An Anthropic `content_block_delta` event: text, tool input or thinking being generated.
#[derive(Deserialize)]
struct BlockDelta<'a> {
    #[serde(borrow)]
    delta: AnthropicDelta<'a>,
}

#[derive(Deserialize)]
struct AnthropicDelta<'a> {
    #[serde(default, borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<std::borrow::Cow<'a, str>>,
}

/// The member names the scan looks for.
struct Keys {
    text: Key,
    partial_json: Key,
    thinking: Key,
    delta: Key,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    text: Key::new("\"text\""),
    partial_json: Key::new("\"partial_json\""),
    thinking: Key::new("\"thinking\""),
    delta: Key::new("\"delta\""),
});

/// What tells the kinds of events apart, searched for in every event.
struct Marks {
    content_block_delta: Needle,
    responses_event: Needle,
    responses_delta: Needle,
}

static MARKS: LazyLock<Marks> = LazyLock::new(|| Marks {
    content_block_delta: Needle::new(b"\"content_block_delta\""),
    responses_event: Needle::new(b"\"response."),
    responses_delta: Needle::new(b".delta\""),
});

/// Appends the contents of every string value of `key` in `json`; `false` (with nothing
/// appended) when one of them is neither a string nor `null`, so the caller parses instead.
fn scan_strings(json: &[u8], key: &Key, text: &mut StreamText) -> bool {
    let mut found: [(usize, usize); 4] = [(0, 0); 4];
    let mut count = 0;
    for at in key.values(json) {
        match json.get(at) {
            Some(b'"') => {
                let Some(end) = string_end(json, at) else {
                    return false;
                };
                if count == found.len() {
                    return false;
                }
                found[count] = (at + 1, end - 1);
                count += 1;
            }
            Some(b'n') => {}
            _ => return false,
        }
    }
    for (start, end) in &found[..count] {
        text.push_raw(&json[*start..*end]);
    }
    true
}

/// Appends an Anthropic `content_block_delta`'s text, JSON or thinking to `text`.
pub fn anthropic(json: &[u8], text: &mut StreamText) {
    let keys = &*KEYS;
    if !MARKS.content_block_delta.is_in(json) {
        return;
    }
    let mut scratch = StreamText::default();
    let scanned = [&keys.text, &keys.partial_json, &keys.thinking]
        .into_iter()
        .all(|key| scan_strings(json, key, &mut scratch));
    if scanned {
        text.append(&mut scratch);
    } else if let Ok(event) = serde_json::from_slice::<BlockDelta<'_>>(json) {
        let delta = event.delta;
        for part in [delta.text, delta.partial_json, delta.thinking]
            .into_iter()
            .flatten()
        {
            text.push_str(&part);
        }
    }
}

/// Appends a Responses API `*.delta` event's text to `text`.
pub fn responses(json: &[u8], text: &mut StreamText) {
    let marks = &*MARKS;
    if marks.responses_event.is_in(json)
        && marks.responses_delta.is_in(json)
        && let Some(at) = KEYS.delta.first_value(json)
        && json.get(at) == Some(&b'"')
        && let Some(end) = string_end(json, at)
    {
        text.push_raw(&json[at + 1..end - 1]);
    }
}

/// Appends an OpenAI chat chunk's content and tool-call deltas to `text`. Returns whether it
/// is the usage chunk (usage and no choices). See [`ChatChunk`] for a caller that also wants
/// to know of the chunk's error and usage.
pub fn chat(json: &[u8], text: &mut StreamText) -> bool {
    ChatChunk::scan(json).append_text(text)
}

/// [`chat`] by parsing the chunk: for the chunks a scan cannot read for certain.
pub(crate) fn parse_chat(json: &[u8], text: &mut StreamText) -> bool {
    let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(json) else {
        return false;
    };
    let mut decoded = String::new();
    for delta in chunk.choices.iter().filter_map(|c| c.delta.as_ref()) {
        append(delta, &mut decoded);
    }
    text.push_str(&decoded);
    chunk.usage.is_some() && chunk.choices.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text the parsing reader collects from one OpenAI chunk, for comparison.
    fn parsed_text(json: &[u8]) -> String {
        let mut text = String::new();
        if let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(json) {
            for delta in chunk.choices.iter().filter_map(|c| c.delta.as_ref()) {
                append(delta, &mut text);
            }
        }
        text
    }

    #[test]
    fn the_scan_reads_the_same_text_as_a_parse() {
        let chunks = [
            r#"{"choices":[{"index":0,"delta":{"content":"plain"}}]}"#,
            r#"{"choices":[{"delta":{"role":"assistant","content":""},"logprobs":null}]}"#,
            r#"{"choices":[{"delta":{"content":null}}],"usage":null}"#,
            r#"{"choices":[{"delta":{"content":"esc \" \\ \n \u00e9 \ud83d\ude00 \/"}}]}"#,
            r#"{ "choices" : [ { "delta" : { "content" : "spaced \"content\": x" } } ] }"#,
            r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#,
            r#"{"choices":[{"delta":{"content":"lp"},"logprobs":{"content":[{"token":"lp"}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"q\":1}"}}]}}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
            r#"{"choices":[{"delta":{"content":"with usage"}}],"usage":{"prompt_tokens":1}}"#,
            r#"{"choices":[{"delta":{"content":"ütf-8 ✓"}}]}"#,
        ];
        let mut all = StreamText::default();
        let mut expected = String::new();
        for json in chunks {
            let mut one = StreamText::default();
            chat(json.as_bytes(), &mut one);
            assert_eq!(one.decode(), parsed_text(json.as_bytes()), "{json}");
            chat(json.as_bytes(), &mut all);
            expected.push_str(&parsed_text(json.as_bytes()));
        }
        assert_eq!(all.decode(), expected);
    }

    #[test]
    fn the_usage_chunk_is_told_from_a_chunk_that_carries_usage_too() {
        let mut text = StreamText::default();
        let usage_only = br#"{"choices":[],"usage":{"prompt_tokens":1}}"#;
        assert!(chat(usage_only, &mut text));
        let both = br#"{"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":1}}"#;
        assert!(!chat(both, &mut text));
        assert_eq!(text.decode(), "x");
    }
}
