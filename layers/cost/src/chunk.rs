//! Reading the OpenAI stream chunks that pass by: their text, and the usage chunk.

use std::sync::LazyLock;

use bytes::{BufMut, Bytes, BytesMut};
use infermux_core::{Money, Protocol};
use infermux_wire::scan::{Key, Needle, find_byte, keys, string_end};
use serde::Deserialize;

/// What a chunk says, as far as accounting cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The chunk is `data: [DONE]`: the stream completed.
    pub(crate) done: bool,
    /// The chunk carries usage and no choices: the final usage chunk.
    pub(crate) usage_chunk: bool,
}

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
pub(crate) fn completion_text(body: &[u8]) -> String {
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

/// The JSON of each `data: ...` line of `frame` (an OpenAI `data: {...}` event, or an
/// Anthropic `event: ...` / `data: {...}` pair; a frame may hold several).
fn payloads(frame: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(frame);
    std::iter::from_fn(move || {
        let text = rest?;
        let (line, after) = match find_byte(text, b'\n') {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        rest = after;
        Some(line)
    })
    .filter_map(|line| line.strip_prefix(b"data:"))
    .map(<[u8]>::trim_ascii)
}

/// The generated text of a stream so far, kept as the JSON string contents the events carry
/// (escapes and all): a scan appends them without decoding, and only a stream whose text must
/// be counted (the provider reported no usage, it broke, the client went away) decodes it.
#[derive(Debug, Default)]
pub(crate) struct Text {
    raw: Vec<u8>,
}

impl Text {
    /// Appends the contents of a JSON string, as they are on the wire.
    fn push_raw(&mut self, escaped: &[u8]) {
        self.raw.extend_from_slice(escaped);
    }

    /// Appends decoded text (escaped again, so that the whole stays one JSON string's contents).
    fn push_str(&mut self, text: &str) {
        if let Ok(quoted) = serde_json::to_vec(text) {
            self.raw.extend_from_slice(&quoted[1..quoted.len() - 1]);
        }
    }

    /// The text, decoded.
    pub(crate) fn decode(self) -> String {
        let mut quoted = Vec::with_capacity(self.raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(&self.raw);
        quoted.push(b'"');
        serde_json::from_slice(&quoted)
            .unwrap_or_else(|_| String::from_utf8_lossy(&self.raw).into_owned())
    }
}

/// The member names the scan looks for.
struct Keys {
    content: Key,
    text: Key,
    partial_json: Key,
    thinking: Key,
    delta: Key,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    content: Key::new("\"content\""),
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
    tool_calls: Needle,
}

static MARKS: LazyLock<Marks> = LazyLock::new(|| Marks {
    content_block_delta: Needle::new(b"\"content_block_delta\""),
    responses_event: Needle::new(b"\"response."),
    responses_delta: Needle::new(b".delta\""),
    tool_calls: Needle::new(b"\"tool_calls\""),
});

/// Appends the contents of every string value of `key` in `json`; `false` (with nothing
/// appended) when one of them is neither a string nor `null`, so the caller parses instead.
fn scan_strings(json: &[u8], key: &Key, text: &mut Text) -> bool {
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

/// Appends the generated text of the events in `frame`, a stream in the client's `protocol`
/// (content, tool-call and thinking deltas: OpenAI chat's, Anthropic's or the Responses
/// API's), to `text`.
///
/// A byte scan reads the common events (a content delta, an Anthropic text, JSON or thinking
/// delta, a Responses delta) without parsing them; events it cannot read for certain (tool
/// calls, a usage object, an unexpected value) are parsed. Only the protocol's own events are
/// looked for: each search is a pass over every event.
pub(crate) fn observe(frame: &[u8], protocol: Protocol, text: &mut Text) -> Seen {
    let mut seen = Seen::default();
    for json in payloads(frame) {
        if json == b"[DONE]" {
            seen.done = true;
            continue;
        }
        match protocol {
            Protocol::AnthropicMessages | Protocol::AnthropicCountTokens => {
                anthropic_delta(json, text);
            }
            Protocol::OpenAiResponses => responses_delta(json, text),
            Protocol::OpenAiChat => seen.usage_chunk |= chat_delta(json, text),
        }
    }
    seen
}

/// An Anthropic `content_block_delta`'s text, JSON or thinking.
fn anthropic_delta(json: &[u8], text: &mut Text) {
    let keys = &*KEYS;
    if !MARKS.content_block_delta.is_in(json) {
        return;
    }
    let mut scratch = Text::default();
    let scanned = [&keys.text, &keys.partial_json, &keys.thinking]
        .into_iter()
        .all(|key| scan_strings(json, key, &mut scratch));
    if scanned {
        text.push_raw(&scratch.raw);
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

/// A Responses API `*.delta` event's text.
fn responses_delta(json: &[u8], text: &mut Text) {
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

/// An OpenAI chat chunk's content and tool-call deltas; whether it is the usage chunk (usage
/// and no choices).
fn chat_delta(json: &[u8], text: &mut Text) -> bool {
    let simple = !MARKS.tool_calls.is_in(json) && !keys::USAGE.has_object(json);
    if simple && scan_strings(json, &KEYS.content, text) {
        return false;
    }
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

/// Where the members of the chunk's `"usage"` object start: just after its `{`, whatever
/// whitespace the server put around the colon (`"usage":{`, `"usage": {`).
fn usage_object_start(event: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b"\"usage\"";
    let mut from = 0;
    while let Some(found) = event[from..].windows(KEY.len()).position(|w| w == KEY) {
        let mut at = from + found + KEY.len();
        let skip = |at: &mut usize| {
            while event.get(*at).is_some_and(u8::is_ascii_whitespace) {
                *at += 1;
            }
        };
        skip(&mut at);
        if event.get(at) == Some(&b':') {
            at += 1;
            skip(&mut at);
            if event.get(at) == Some(&b'{') {
                return Some(at + 1);
            }
        }
        from = from + found + KEY.len();
    }
    None
}

/// The usage chunk `event` with the request's exact cost added as `usage.cost` (USD, an
/// exact decimal), inserted in place without re-encoding the chunk.
pub(crate) fn with_cost(event: &Bytes, cost: Money) -> Bytes {
    let Some(at) = usage_object_start(event) else {
        return event.clone();
    };
    let mut amount = cost.to_plain_decimal();
    if !amount.contains('.') {
        amount.push_str(".0");
    }
    let next = event[at..].iter().find(|b| !b.is_ascii_whitespace());
    let separator = if next == Some(&b'}') { "" } else { "," };
    let field = format!("\"cost\":{amount}{separator}");
    let mut out = BytesMut::with_capacity(event.len() + field.len());
    out.put_slice(&event[..at]);
    out.put_slice(field.as_bytes());
    out.put_slice(&event[at..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_and_tool_arguments_are_collected() {
        let mut text = Text::default();
        let seen = observe(
            br#"data: {"choices":[{"index":0,"delta":{"content":"Hel\"lo"}}],"usage":null}

"#,
            Protocol::OpenAiChat,
            &mut text,
        );
        assert_eq!(seen, Seen::default());
        observe(
            br#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}]}

"#,
            Protocol::OpenAiChat,
            &mut text,
        );
        assert_eq!(text.decode(), "Hel\"lo{\"a\":1}");
    }

    #[test]
    fn anthropic_deltas_are_collected_whatever_the_framing() {
        let mut text = Text::default();
        let frame = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
            "event: content_block_delta\n",
            "data: {\"delta\":{\"text\":\"Hi \",\"type\":\"text_delta\"},\"index\":0,\"type\":\"content_block_delta\"}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}\n\n",
        );
        let seen = observe(frame.as_bytes(), Protocol::AnthropicMessages, &mut text);
        assert_eq!(seen, Seen::default());
        assert_eq!(text.raw, b"Hi {\\\"a\\\"");
        let responses = concat!(
            "event: response.output_text.delta\n",
            "data: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"delta\":\" there\"}\n\n",
            "event: response.completed\n",
            "data: {\"type\":\"response.completed\",\"response\":{\"usage\":{}}}\n\n",
        );
        assert_eq!(
            observe(responses.as_bytes(), Protocol::OpenAiResponses, &mut text),
            Seen::default()
        );
        assert_eq!(text.decode(), "Hi {\"a\" there");
    }

    #[test]
    fn done_and_the_usage_chunk_are_recognised() {
        let mut text = Text::default();
        assert!(observe(b"data: [DONE]\n\n", Protocol::OpenAiChat, &mut text).done);
        let usage = br#"data: {"choices":[],"usage":{"prompt_tokens":8,"completion_tokens":1}}

"#;
        assert!(observe(usage, Protocol::OpenAiChat, &mut text).usage_chunk);
        let priced = with_cost(&Bytes::from_static(usage), Money::from_picos(1_800_000));
        assert!(priced.starts_with(br#"data: {"choices":[],"usage":{"cost":0.0000018,"prompt"#));
        let json: serde_json::Value =
            serde_json::from_slice(payloads(&priced).next().expect("event")).expect("json");
        assert_eq!(json["usage"]["cost"], 0.0000018);
        assert_eq!(json["usage"]["prompt_tokens"], 8);
        let empty = with_cost(
            &Bytes::from_static(b"data: {\"usage\":{}}\n\n"),
            Money::ZERO,
        );
        assert_eq!(&empty[..], b"data: {\"usage\":{\"cost\":0.0}}\n\n");
    }

    #[test]
    fn a_usage_chunk_with_spaces_around_its_colon_gets_the_cost_too() {
        let spaced =
            br#"data: {"choices": [], "usage" : { "prompt_tokens": 8, "completion_tokens": 1 }}

"#;
        let priced = with_cost(&Bytes::from_static(spaced), Money::from_picos(1_800_000));
        let json: serde_json::Value =
            serde_json::from_slice(payloads(&priced).next().expect("event")).expect("json");
        assert_eq!(json["usage"]["cost"], 0.0000018);
        assert_eq!(json["usage"]["completion_tokens"], 1);
        // A string value mentioning "usage" is not the usage object.
        let tricky = br#"data: {"note":"usage","usage":{}}

"#;
        let priced = with_cost(&Bytes::from_static(tricky), Money::ZERO);
        assert!(
            priced.ends_with(b"\"usage\":{\"cost\":0.0}}\n\n"),
            "{priced:?}"
        );
    }

    /// The text the parsing reader collected from one OpenAI chunk, for comparison.
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
        let mut all = Text::default();
        let mut expected = String::new();
        for json in chunks {
            let mut one = Text::default();
            observe(
                format!("data: {json}\n\n").as_bytes(),
                Protocol::OpenAiChat,
                &mut one,
            );
            assert_eq!(one.decode(), parsed_text(json.as_bytes()), "{json}");
            observe(
                format!("data: {json}\n\n").as_bytes(),
                Protocol::OpenAiChat,
                &mut all,
            );
            expected.push_str(&parsed_text(json.as_bytes()));
        }
        assert_eq!(all.decode(), expected);
    }
}
