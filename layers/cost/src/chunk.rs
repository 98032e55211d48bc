//! Reading the OpenAI stream chunks that pass by: their text, and the usage chunk.

use bytes::{BufMut, Bytes, BytesMut};
use infermux_core::Money;
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

/// A Responses API delta event (`response.output_text.delta`,
/// `response.function_call_arguments.delta`, ...): the text being generated.
#[derive(Deserialize)]
struct ResponsesDelta<'a> {
    #[serde(borrow)]
    delta: std::borrow::Cow<'a, str>,
}

/// The JSON of each `data: ...` line of `frame` (an OpenAI `data: {...}` event, or an
/// Anthropic `event: ...` / `data: {...}` pair; a frame may hold several).
fn payloads(frame: &[u8]) -> impl Iterator<Item = &[u8]> {
    frame
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(<[u8]>::trim_ascii)
}

/// Appends the generated text of the events in `frame` (content, tool-call and thinking
/// deltas: OpenAI chat's, Anthropic's or the Responses API's) to `text`.
pub(crate) fn observe(frame: &[u8], text: &mut String) -> Seen {
    let mut seen = Seen::default();
    for json in payloads(frame) {
        if json == b"[DONE]" {
            seen.done = true;
            continue;
        }
        if contains(json, b"\"content_block_delta\"") {
            if let Ok(event) = serde_json::from_slice::<BlockDelta<'_>>(json) {
                let delta = event.delta;
                for part in [delta.text, delta.partial_json, delta.thinking]
                    .into_iter()
                    .flatten()
                {
                    text.push_str(&part);
                }
            }
            continue;
        }
        if contains(json, b"\"response.") {
            if contains(json, b".delta\"")
                && let Ok(event) = serde_json::from_slice::<ResponsesDelta<'_>>(json)
            {
                text.push_str(&event.delta);
            }
            continue;
        }
        let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(json) else {
            continue;
        };
        for delta in chunk.choices.iter().filter_map(|c| c.delta.as_ref()) {
            append(delta, text);
        }
        seen.usage_chunk |= chunk.usage.is_some() && chunk.choices.is_empty();
    }
    seen
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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
        let mut text = String::new();
        let seen = observe(
            br#"data: {"choices":[{"index":0,"delta":{"content":"Hel\"lo"}}],"usage":null}

"#,
            &mut text,
        );
        assert_eq!(seen, Seen::default());
        observe(
            br#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}]}

"#,
            &mut text,
        );
        assert_eq!(text, "Hel\"lo{\"a\":1}");
    }

    #[test]
    fn anthropic_deltas_are_collected_whatever_the_framing() {
        let mut text = String::new();
        let frame = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
            "event: content_block_delta\n",
            "data: {\"delta\":{\"text\":\"Hi \",\"type\":\"text_delta\"},\"index\":0,\"type\":\"content_block_delta\"}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}\n\n",
        );
        let seen = observe(frame.as_bytes(), &mut text);
        assert_eq!(seen, Seen::default());
        assert_eq!(text, "Hi {\"a\"");
        let responses = concat!(
            "event: response.output_text.delta\n",
            "data: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"delta\":\" there\"}\n\n",
            "event: response.completed\n",
            "data: {\"type\":\"response.completed\",\"response\":{\"usage\":{}}}\n\n",
        );
        assert_eq!(observe(responses.as_bytes(), &mut text), Seen::default());
        assert_eq!(text, "Hi {\"a\" there");
    }

    #[test]
    fn done_and_the_usage_chunk_are_recognised() {
        let mut text = String::new();
        assert!(observe(b"data: [DONE]\n\n", &mut text).done);
        let usage = br#"data: {"choices":[],"usage":{"prompt_tokens":8,"completion_tokens":1}}

"#;
        assert!(observe(usage, &mut text).usage_chunk);
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
}
