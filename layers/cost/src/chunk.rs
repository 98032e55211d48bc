//! Reading the stream chunks that pass by: their text, `[DONE]`, and the usage chunk.

use bytes::{BufMut, Bytes, BytesMut};
use infermux_core::{Money, Protocol, StreamText};
use infermux_wire::{
    delta_text,
    scan::{find_byte, keys},
};

/// What a chunk says, as far as accounting cares.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The chunk is `data: [DONE]`: the stream completed.
    pub(crate) done: bool,
    /// The chunk carries usage and no choices: the final usage chunk.
    pub(crate) usage_chunk: bool,
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

/// Appends the generated text of the events in `frame`, a stream in the client's `protocol`
/// (content, tool-call and thinking deltas: OpenAI chat's, Anthropic's or the Responses
/// API's), to `text`.
///
/// A byte scan reads the common events (a content delta, an Anthropic text, JSON or thinking
/// delta, a Responses delta) without parsing them; events it cannot read for certain (tool
/// calls, a usage object, an unexpected value) are parsed. Only the protocol's own events are
/// looked for: each search is a pass over every event.
pub(crate) fn observe(frame: &[u8], protocol: Protocol, text: &mut StreamText) -> Seen {
    let mut seen = Seen::default();
    for json in payloads(frame) {
        if json == b"[DONE]" {
            seen.done = true;
            continue;
        }
        match protocol {
            Protocol::AnthropicMessages | Protocol::AnthropicCountTokens => {
                delta_text::anthropic(json, text);
            }
            Protocol::OpenAiResponses => delta_text::responses(json, text),
            Protocol::OpenAiChat => seen.usage_chunk |= delta_text::chat(json, text),
        }
    }
    seen
}

/// Where the members of the chunk's `"usage"` object start: just after its `{`, whatever
/// whitespace the server put around the colon (`"usage":{`, `"usage": {`).
fn usage_object_start(event: &[u8]) -> Option<usize> {
    keys::USAGE
        .values(event)
        .find(|&at| event.get(at) == Some(&b'{'))
        .map(|at| at + 1)
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
        let mut text = StreamText::default();
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
        let mut text = StreamText::default();
        let frame = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
            "event: content_block_delta\n",
            "data: {\"delta\":{\"text\":\"Hi \",\"type\":\"text_delta\"},\"index\":0,\"type\":\"content_block_delta\"}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}\n\n",
        );
        let seen = observe(frame.as_bytes(), Protocol::AnthropicMessages, &mut text);
        assert_eq!(seen, Seen::default());
        assert_eq!(text.clone().decode(), "Hi {\"a\"");
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
        let mut text = StreamText::default();
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
}
