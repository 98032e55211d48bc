//! OpenAI and OpenAI-compatible providers: the client's dialect, passed through.
//!
//! Requests go out as the client sent them (unknown fields included) with only the model
//! replaced; responses come back byte for byte. Usage is read from the response without
//! re-serialising it. Streams always ask upstream for a usage chunk
//! (`stream_options.include_usage`) so that infermux learns the usage of every stream; that
//! chunk is removed again when the client did not ask for it.

use std::borrow::Cow;

use infermux_core::{
    Usage,
    chat::{ChatMessage, ChatRequest, Stop, StreamOptions, Tool},
    embeddings::EmbeddingsRequest,
};
use serde::{Deserialize, Serialize};
use sse_stream::Sse;

use crate::ChunkDecoder;

/// The body of `POST {base}/chat/completions`: the client's request with the model replaced,
/// and, for streams, `stream_options.include_usage` set. Written from borrowed fields, so a
/// large conversation is never copied before it is serialised.
pub fn encode_chat(chat: &ChatRequest, upstream_model: &str) -> serde_json::Result<Vec<u8>> {
    encode_with(
        chat,
        upstream_model,
        (chat.max_tokens, chat.max_completion_tokens),
        &chat.extra,
        true,
    )
}

/// What [`encode_chat`] (`ask_usage`) or [`encode_chat_as_sent`] would send, made from the
/// client's own bytes `body` with only `model` spliced in (and, when infermux must ask for the
/// stream's usage, `"stream_options":{"include_usage":true}` inserted), so that a large
/// conversation is not serialised again; when `body` names `upstream_model` already and
/// nothing is inserted, `body` itself (shared, not copied). `None` when the bytes cannot stand
/// for `chat` as it is now, and the caller encodes `chat` instead: a layer changed the output
/// limits, the body already has `stream_options` that need changing, a member name uses
/// escapes, or it is not an object with a string `model`.
pub fn splice_chat(
    body: &bytes::Bytes,
    chat: &ChatRequest,
    upstream_model: &str,
    ask_usage: bool,
) -> Option<bytes::Bytes> {
    let mut model = None;
    let mut has_stream_options = false;
    let mut limits_match = true;
    let mut plain_keys = true;
    let limit_matches = |span: &[u8], now: Option<u64>| {
        serde_json::from_slice::<Option<u64>>(span).is_ok_and(|sent| sent == now)
    };
    let (mut saw_max_tokens, mut saw_max_completion) = (false, false);
    crate::passthrough::members(body, |key, start, end| {
        plain_keys &= !key.contains(&b'\\');
        match key {
            b"\"model\"" => model = Some((start, end)),
            b"\"stream_options\"" => has_stream_options = true,
            b"\"max_tokens\"" => {
                saw_max_tokens = true;
                limits_match &= limit_matches(&body[start..end], chat.max_tokens);
            }
            b"\"max_completion_tokens\"" => {
                saw_max_completion = true;
                limits_match &= limit_matches(&body[start..end], chat.max_completion_tokens);
            }
            _ => {}
        }
    })?;
    limits_match &= saw_max_tokens || chat.max_tokens.is_none();
    limits_match &= saw_max_completion || chat.max_completion_tokens.is_none();
    let (start, end) = model?;
    let insert_usage = ask_usage && chat.is_stream() && !chat.wants_stream_usage();
    if !limits_match || !plain_keys || body.get(start) != Some(&b'"') {
        return None;
    }
    if insert_usage && has_stream_options {
        return None;
    }
    if !insert_usage && crate::passthrough::names_model(&body[start..end], upstream_model) {
        // Nothing to change: the client's bytes go out as they are, shared, not copied.
        return Some(body.clone());
    }
    const USAGE_OPTION: &[u8] = br#""stream_options":{"include_usage":true},"#;
    let encoded = serde_json::to_vec(upstream_model).ok()?;
    let open = body.iter().position(|b| *b == b'{')? + 1;
    let mut out = Vec::with_capacity(body.len() + encoded.len() + USAGE_OPTION.len());
    out.extend_from_slice(&body[..open]);
    if insert_usage {
        out.extend_from_slice(USAGE_OPTION);
    }
    out.extend_from_slice(&body[open..start]);
    out.extend_from_slice(&encoded);
    out.extend_from_slice(&body[end..]);
    Some(out.into())
}

/// The client's request exactly as sent, model replaced, without the
/// `stream_options.include_usage` infermux adds on its own: for the older OpenAI-compatible
/// servers that refuse `stream_options` (the usage of such a stream is then estimated).
pub fn encode_chat_as_sent(
    chat: &ChatRequest,
    upstream_model: &str,
) -> serde_json::Result<Vec<u8>> {
    encode_with(
        chat,
        upstream_model,
        (chat.max_tokens, chat.max_completion_tokens),
        &chat.extra,
        false,
    )
}

/// The body of `POST {base}/chat/completions` for a request translated from another protocol
/// (Anthropic Messages): the output limit clamped to `max_output` (the model's maximum, when
/// known) and sent as `max_completion_tokens` to reasoning models, `max_tokens` to others;
/// `reasoning_effort` only where the model reasons.
pub fn encode_translated(
    chat: &ChatRequest,
    upstream_model: &str,
    max_output: Option<u64>,
) -> serde_json::Result<Vec<u8>> {
    let limit = chat
        .output_limit()
        .map(|requested| max_output.map_or(requested, |max| requested.min(max)));
    let reasons = crate::limits::reasons(upstream_model);
    let limits = if reasons {
        (None, limit)
    } else {
        (limit, None)
    };
    if reasons || !chat.extra.contains_key("reasoning_effort") {
        return encode_with(chat, upstream_model, limits, &chat.extra, true);
    }
    let mut extra = chat.extra.clone();
    extra.remove("reasoning_effort");
    encode_with(chat, upstream_model, limits, &extra, true)
}

/// The upstream body with the output limits and extra fields given.
fn encode_with(
    chat: &ChatRequest,
    upstream_model: &str,
    (max_tokens, max_completion_tokens): (Option<u64>, Option<u64>),
    extra: &serde_json::Map<String, serde_json::Value>,
    ask_usage: bool,
) -> serde_json::Result<Vec<u8>> {
    // Destructured in full so that a field added to `ChatRequest` cannot be forgotten here.
    let ChatRequest {
        model: _,
        messages,
        stream,
        stream_options,
        max_tokens: _,
        max_completion_tokens: _,
        temperature,
        top_p,
        stop,
        tools,
        tool_choice,
        response_format,
        extra: _,
    } = chat;
    let with_usage;
    let stream_options = if chat.is_stream() && ask_usage {
        with_usage = StreamOptions {
            include_usage: Some(true),
            extra: stream_options
                .as_ref()
                .map(|o| o.extra.clone())
                .unwrap_or_default(),
        };
        Some(&with_usage)
    } else {
        stream_options.as_ref()
    };
    serde_json::to_vec(&UpstreamChat {
        model: upstream_model,
        messages,
        stream: *stream,
        stream_options,
        max_tokens,
        max_completion_tokens,
        temperature: *temperature,
        top_p: *top_p,
        stop: stop.as_ref(),
        tools: tools.as_deref(),
        tool_choice: tool_choice.as_ref(),
        response_format: response_format.as_ref(),
        extra,
    })
}

/// A chat request as sent upstream, borrowing from the client's.
#[derive(Serialize)]
struct UpstreamChat<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<&'a StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a Stop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Tool]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a serde_json::Value>,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

/// The body of `POST {base}/embeddings`.
pub fn encode_embeddings(
    request: &EmbeddingsRequest,
    upstream_model: &str,
) -> serde_json::Result<Vec<u8>> {
    let mut outgoing = request.clone();
    outgoing.model = upstream_model.to_owned();
    serde_json::to_vec(&outgoing)
}

/// The `usage` object of OpenAI responses and chunks.
#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(wire: WireUsage) -> Self {
        Self {
            prompt_tokens: wire.prompt_tokens,
            completion_tokens: wire.completion_tokens,
            cached_prompt_tokens: wire
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: wire
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            ..Self::default()
        }
    }
}

/// Just the fields infermux reads from a response or chunk; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    choices: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    /// The processing tier that served the request (`priority`, `flex`, `default`).
    #[serde(default)]
    service_tier: Option<String>,
}

impl Probe {
    /// Its usage, at the service tier it names.
    fn usage(&mut self) -> Option<Usage> {
        Some(at_tier(self.usage.take()?, self.service_tier.as_deref()))
    }
}

/// `usage` at the service tier `tier` names (standard when it names none).
fn at_tier(usage: WireUsage, tier: Option<&str>) -> Usage {
    let mut usage = Usage::from(usage);
    if let Some(tier) = tier {
        usage.service_tier = infermux_core::ServiceTier::from_wire(tier);
    }
    usage
}

/// What infermux reads from a complete response: its usage and service tier. Every other
/// member, `choices` among them, is skipped unparsed.
#[derive(Deserialize)]
struct CompletionProbe<'a> {
    #[serde(default)]
    usage: Option<WireUsage>,
    /// Borrowed unless the provider escaped it.
    #[serde(default, borrow)]
    service_tier: Option<Cow<'a, str>>,
}

/// Reads the usage of a complete response (chat completion or embeddings list).
///
/// The body is checked as UTF-8 whole and then parsed as text: one pass over its bytes
/// rather than one per string read, and a byte that is not UTF-8 is refused wherever it is,
/// in the members skipped too.
pub fn decode_usage(body: &[u8]) -> Result<Usage, String> {
    let invalid =
        |e: &dyn std::fmt::Display| format!("the provider's response is not valid JSON: {e}");
    let text = std::str::from_utf8(body).map_err(|e| invalid(&e))?;
    let probe: CompletionProbe<'_> = serde_json::from_str(text).map_err(|e| invalid(&e))?;
    Ok(probe
        .usage
        .map(|usage| at_tier(usage, probe.service_tier.as_deref()))
        .unwrap_or_default())
}

/// The event that ends a complete OpenAI chat stream, as infermux's stream bodies write it.
pub const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// What accounting and the stream forwarder need from one OpenAI stream chunk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Its usage, when it carries one.
    pub usage: Option<Usage>,
    /// It carries usage and no choices: the final usage chunk.
    pub usage_only: bool,
    /// The provider's error, when the chunk is one (`{"error": ...}`), as JSON text.
    pub error: Option<String>,
}

/// Parses one chunk's `data` for its usage and error. Only chunks that a byte scan found a
/// `usage` object or an `error` member in need this.
pub fn inspect_chunk(data: &[u8]) -> Result<ChunkInfo, String> {
    let mut probe: Probe = serde_json::from_slice(data)
        .map_err(|e| format!("the provider sent an invalid stream chunk: {e}"))?;
    if let Some(error) = probe.error.take() {
        return Ok(ChunkInfo {
            error: Some(error.to_string()),
            ..ChunkInfo::default()
        });
    }
    let usage = probe.usage();
    Ok(ChunkInfo {
        usage_only: usage.is_some() && probe.choices.is_none_or(|c| c.is_empty()),
        usage,
        error: None,
    })
}

/// Passes an OpenAI stream through, learning its usage on the way.
#[derive(Debug)]
pub struct StreamFilter {
    client_wants_usage: bool,
    usage: Usage,
    done: bool,
}

impl StreamFilter {
    /// A filter for a client that did (`true`) or did not ask for the usage chunk.
    pub fn new(client_wants_usage: bool) -> Self {
        Self {
            client_wants_usage,
            usage: Usage::default(),
            done: false,
        }
    }
}

impl ChunkDecoder for StreamFilter {
    type Item = Sse;

    fn feed(&mut self, event: Sse) -> Result<Vec<String>, String> {
        let Some(data) = event.data else {
            return Ok(vec![]);
        };
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(vec![]);
        }
        let mut probe: Probe = serde_json::from_str(&data)
            .map_err(|e| format!("the provider sent an invalid stream chunk: {e}"))?;
        if let Some(error) = probe.error.take() {
            return Err(format!("the provider sent an error: {error}"));
        }
        if let Some(usage) = probe.usage() {
            self.usage = usage;
            let usage_only = probe.choices.is_none_or(|c| c.is_empty());
            if usage_only && !self.client_wants_usage {
                return Ok(vec![]);
            }
        }
        Ok(vec![data])
    }

    fn finish(&mut self) -> Result<Vec<String>, String> {
        if self.done {
            Ok(vec![])
        } else {
            Err("the stream ended before `data: [DONE]`".to_owned())
        }
    }

    fn usage(&self) -> Usage {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> Sse {
        Sse::default().data(data)
    }

    #[test]
    fn the_model_is_replaced_and_unknown_fields_pass_through() {
        let chat: ChatRequest = serde_json::from_str(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi","x":1}],"seed":7,"logit_bias":{"5":1}}"#,
        )
        .expect("chat");
        let body: serde_json::Value =
            serde_json::from_slice(&encode_chat(&chat, "gpt-4o-2024").expect("encode"))
                .expect("json");
        assert_eq!(body["model"], "gpt-4o-2024");
        assert_eq!(body["seed"], 7);
        assert_eq!(body["logit_bias"]["5"], 1);
        assert_eq!(body["messages"][0]["x"], 1);
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn the_upstream_body_is_the_clients_request_with_only_the_model_replaced() {
        let text = r#"{"model":"a","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
            "max_tokens":5,"max_completion_tokens":6,"temperature":0.5,"top_p":0.9,"stop":["x"],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"},"strict":true}}],
            "tool_choice":"auto","response_format":{"type":"json_object"},"user":"u","n":1}"#;
        let chat: ChatRequest = serde_json::from_str(text).expect("chat");
        let mut expected: serde_json::Value = serde_json::from_str(text).expect("json");
        expected["model"] = "b".into();
        let sent: serde_json::Value =
            serde_json::from_slice(&encode_chat(&chat, "b").expect("encode")).expect("json");
        assert_eq!(sent, expected);
    }

    #[test]
    fn streams_always_ask_upstream_for_usage() {
        let chat: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
        )
        .expect("chat");
        let body: serde_json::Value =
            serde_json::from_slice(&encode_chat(&chat, "m").expect("encode")).expect("json");
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn usage_is_read_with_cached_and_reasoning_tokens() {
        let usage = decode_usage(
            br#"{"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
                "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#,
        )
        .expect("usage");
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                cached_prompt_tokens: 4,
                cache_creation_tokens: 0,
                reasoning_tokens: 2,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn a_complete_answer_is_priced_at_its_service_tier_even_when_escaped() {
        let usage = |body: &[u8]| decode_usage(body).expect("usage");
        let plain =
            usage(br#"{"service_tier":"flex","usage":{"prompt_tokens":10,"completion_tokens":5}}"#);
        assert_eq!(plain.service_tier, infermux_core::ServiceTier::Flex);
        assert_eq!((plain.prompt_tokens, plain.completion_tokens), (10, 5));
        // A JSON escape cannot be borrowed from the body; it is read all the same.
        let escaped = usage(br#"{"usage":{"prompt_tokens":1},"service_tier":"\u0070riority"}"#);
        assert_eq!(escaped.service_tier, infermux_core::ServiceTier::Priority);
        assert_eq!(usage(br#"{"id":"x","choices":[]}"#), Usage::default());
    }

    #[test]
    fn a_malformed_complete_answer_is_refused_wherever_the_fault_is() {
        for body in [
            &br#"{"choices":[{"message":{"content":"cut off"#[..],
            b"{\"choices\":[{\"message\":{\"content\":\"\xff\"}}],\"usage\":{\"prompt_tokens\":1}}",
            br#"{"usage":{"prompt_tokens":1},}"#,
            b"<html>502 Bad Gateway</html>",
            b"",
        ] {
            let error = decode_usage(body).expect_err("refused");
            assert!(
                error.starts_with("the provider's response is not valid JSON"),
                "{error}"
            );
        }
    }

    #[test]
    fn the_usage_chunk_is_dropped_unless_the_client_asked_for_it() {
        let usage_chunk =
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":1}}"#;
        let mut filter = StreamFilter::new(false);
        assert_eq!(
            filter
                .feed(event(r#"{"choices":[{"index":0}]}"#))
                .map(|v| v.len()),
            Ok(1)
        );
        assert_eq!(filter.feed(event(usage_chunk)), Ok(vec![]));
        assert_eq!(filter.feed(event("[DONE]")), Ok(vec![]));
        assert_eq!(filter.finish(), Ok(vec![]));
        assert_eq!(filter.usage().prompt_tokens, 8);

        let mut filter = StreamFilter::new(true);
        assert_eq!(
            filter.feed(event(usage_chunk)),
            Ok(vec![usage_chunk.to_owned()])
        );
    }

    #[test]
    fn a_stream_without_done_is_incomplete() {
        let mut filter = StreamFilter::new(false);
        assert!(filter.finish().is_err());
    }

    #[test]
    fn an_error_chunk_ends_the_stream() {
        let mut filter = StreamFilter::new(false);
        assert!(
            filter
                .feed(event(r#"{"error":{"message":"overloaded"}}"#))
                .is_err()
        );
    }
    /// A small deterministic generator, so the bodies below are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len() as u64) as usize]
        }

        fn ws(&mut self) -> &'static str {
            self.pick(&["", "", " ", "\n  ", "\t"])
        }
    }

    /// A chat request body with the members in random order, random whitespace, escapes and
    /// optional fields.
    fn random_body(rng: &mut Rng) -> String {
        let texts = [
            r#""hi""#,
            r#""say \"model\": \"x\", {\"stream_options\":1}""#,
            r#""\u00e9t\u00e9 \ud83d\ude00 \\ \/ \n""#,
            r#""é ✓ 😀""#,
        ];
        let mut members = vec![
            format!(
                r#""model"{}:{}{}"#,
                rng.ws(),
                rng.ws(),
                rng.pick(&[r#""gpt-4o""#, r#""a\"b""#, r#""\u0067pt""#])
            ),
            format!(
                r#""messages":[{{"role":"system","content":{}}},{{"role":"user","content":[{{"type":"text","text":{}}}],"x":{{"model":"keep"}}}}]"#,
                rng.pick(&texts),
                rng.pick(&texts)
            ),
        ];
        let optional = [
            r#""stream":true"#,
            r#""stream":false"#,
            r#""stream_options":{"include_usage":true}"#,
            r#""stream_options":{"include_usage":false,"x":1}"#,
            r#""max_tokens":5"#,
            r#""max_completion_tokens":7"#,
            r#""temperature":0.5"#,
            r#""stop":["a","b"]"#,
            r#""tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}}]"#,
            r#""tool_choice":"auto""#,
            r#""response_format":{"type":"json_object"}"#,
            r#""seed":7"#,
            r#""metadata":{"model":"not this","nested":[{"stream_options":null}]}"#,
            r#""logit_bias":{"5":1}"#,
        ];
        for member in optional {
            if rng.below(3) == 0 {
                let key_end = member.find(':').expect("member");
                // One key of each kind at most, as serde requires of known fields.
                if !members.iter().any(|m| m.starts_with(&member[..key_end])) {
                    members.push(member.to_owned());
                }
            }
        }
        for i in (1..members.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            members.swap(i, j);
        }
        let separator = format!("{},{}", rng.ws(), rng.ws());
        format!(
            "{}{{{}{}{}}}{}",
            rng.ws(),
            rng.ws(),
            members.join(&separator),
            rng.ws(),
            rng.ws()
        )
    }

    #[test]
    fn splicing_the_model_sends_what_encoding_would() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut spliced, mut encoded) = (0, 0);
        for _ in 0..2000 {
            let body = random_body(&mut rng);
            let chat: ChatRequest = serde_json::from_str(&body).expect(&body);
            let bytes = bytes::Bytes::from(body.clone());
            for ask_usage in [true, false] {
                let model = "up \"stream\" ✓";
                let Some(out) = splice_chat(&bytes, &chat, model, ask_usage) else {
                    encoded += 1;
                    continue;
                };
                spliced += 1;
                let want = if ask_usage {
                    encode_chat(&chat, model)
                } else {
                    encode_chat_as_sent(&chat, model)
                };
                let want: serde_json::Value =
                    serde_json::from_slice(&want.expect("encode")).expect("json");
                let got: serde_json::Value = serde_json::from_slice(&out).expect(&body);
                assert_eq!(got, want, "{body}");
            }
        }
        // Most bodies are spliced; those whose stream_options must change, or whose model
        // key is escaped, are encoded.
        assert!(
            spliced > 3000 && encoded > 100,
            "{spliced} spliced, {encoded} encoded"
        );
    }

    #[test]
    fn a_body_naming_the_model_sent_already_goes_out_as_it_came() {
        let body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
        let chat: ChatRequest = serde_json::from_slice(body).expect("chat");
        let bytes = bytes::Bytes::from_static(body);
        let out = splice_chat(&bytes, &chat, "gpt-4o-mini", true).expect("spliced");
        assert_eq!(out, bytes);
        assert_eq!(
            out.as_ptr(),
            bytes.as_ptr(),
            "the client's bytes, not a copy"
        );
        // Another model, or a stream that needs its usage asked for, is a new body.
        let other = splice_chat(&bytes, &chat, "gpt-4o", true).expect("spliced");
        assert_ne!(other.as_ptr(), bytes.as_ptr());
        let stream = br#"{"model":"gpt-4o-mini","stream":true,"messages":[]}"#;
        let chat: ChatRequest = serde_json::from_slice(stream).expect("chat");
        let bytes = bytes::Bytes::from_static(stream);
        let out = splice_chat(&bytes, &chat, "gpt-4o-mini", true).expect("spliced");
        assert!(out.windows(13).any(|w| w == b"include_usage"), "{out:?}");
        // A model written with an escape is written again without it.
        let escaped = br#"{"model":"gpt\u002d4o","messages":[]}"#;
        let chat: ChatRequest = serde_json::from_slice(escaped).expect("chat");
        let bytes = bytes::Bytes::from_static(escaped);
        let out = splice_chat(&bytes, &chat, "gpt-4o", true).expect("spliced");
        assert_eq!(&out[..], br#"{"model":"gpt-4o","messages":[]}"#);
    }

    #[test]
    fn a_body_whose_limits_a_layer_changed_is_encoded() {
        let body = br#"{"model":"m","messages":[],"max_tokens":100}"#;
        let mut chat: ChatRequest = serde_json::from_slice(body).expect("chat");
        let bytes = bytes::Bytes::from_static(body);
        assert!(splice_chat(&bytes, &chat, "u", true).is_some());
        chat.max_tokens = Some(10);
        assert!(splice_chat(&bytes, &chat, "u", true).is_none());
        chat.max_tokens = Some(100);
        chat.max_completion_tokens = Some(10);
        assert!(splice_chat(&bytes, &chat, "u", true).is_none());
        let escaped = br#"{"model":"m","messages":[],"max_tok\u0065ns":100}"#;
        let chat: ChatRequest = serde_json::from_slice(escaped).expect("chat");
        assert!(splice_chat(&bytes::Bytes::from_static(escaped), &chat, "u", true).is_none());
    }
}
