//! Same-protocol passthrough: the client's bytes go to the provider with only `model`
//! replaced, and the provider's bytes come back untouched while infermux locates the usage in
//! them.
//!
//! Neither direction parses the whole document: [`replace_model`] scans the top level of the
//! request object for the `model` member and splices the new name in; [`UsageObserver`] looks
//! at each line of a passing Anthropic stream and parses only the few `data:` lines that carry
//! `usage` (`message_start`, `message_delta`).

use bytes::Bytes;
use infermux_core::Usage;
use serde::Deserialize;

use crate::scan::{Lines, keys};

/// `body` with the value of its top-level `"model"` member replaced by `model`. The original
/// bytes (shared, not copied) when the model is already `model`; `None` when `body` is not a
/// JSON object with a string `model`.
pub fn replace_model(body: &Bytes, model: &str) -> Option<Bytes> {
    let (start, end) = model_span(body)?;
    let span = &body[start..end];
    // Decoded only when it is not written out plainly (an escape in the client's name).
    if names_model(span, model) || serde_json::from_slice::<String>(span).ok()? == model {
        return Some(body.clone());
    }
    let encoded = serde_json::to_vec(model).ok()?;
    let mut out = Vec::with_capacity(body.len() + encoded.len());
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(&encoded);
    out.extend_from_slice(&body[end..]);
    Some(Bytes::from(out))
}

/// Whether `span`, a JSON string in a body that parsed, is `model` written without escapes
/// (so it stands for `model` exactly, with nothing to decode).
pub(crate) fn names_model(span: &[u8], model: &str) -> bool {
    span.len() == model.len() + 2
        && span[1..span.len() - 1] == *model.as_bytes()
        && !model.contains('\\')
}

/// The byte range of the top-level `model` string value.
fn model_span(body: &[u8]) -> Option<(usize, usize)> {
    let mut found = None;
    let mut string = true;
    members(body, |key, start, end| {
        if key == b"\"model\"" {
            string = body.get(start) == Some(&b'"');
            found = Some((start, end));
        }
    })?;
    found.filter(|_| string)
}

/// Calls `member(key, value_start, value_end)` for each top-level member of the JSON object
/// `body`, in order (`key` as written, quotes included); `None` when `body` is not an object.
/// The body is one that already parsed (ingress checked it), so values are skipped, not
/// validated.
pub(crate) fn members(body: &[u8], mut member: impl FnMut(&[u8], usize, usize)) -> Option<()> {
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(body, i);
        match body.get(i)? {
            b'}' => return Some(()),
            b'"' => {}
            _ => return None,
        }
        let key_end = skip_string(body, i)?;
        let key = &body[i..key_end];
        i = skip_ws(body, key_end);
        if body.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(body, i + 1);
        let value_end = skip_value(body, i)?;
        member(key, i, value_end);
        i = skip_ws(body, value_end);
        match body.get(i)? {
            b',' => i += 1,
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while body.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The index after the string starting at `i` (which is a `"`).
fn skip_string(body: &[u8], i: usize) -> Option<usize> {
    crate::scan::string_end(body, i)
}

/// The index after the value starting at `i`.
fn skip_value(body: &[u8], mut i: usize) -> Option<usize> {
    match body.get(i)? {
        b'"' => skip_string(body, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match body.get(i)? {
                    b'"' => {
                        i = skip_string(body, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while body
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            Some(i)
        }
    }
}

/// Anthropic's usage object.
#[derive(Debug, Default, Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct WithUsage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    message: Option<Box<WithUsage>>,
}

/// Usage as infermux counts it: `prompt_tokens` includes cache reads and writes.
fn merge(usage: &mut Usage, seen: &AnthropicUsage) {
    let mut input = usage
        .prompt_tokens
        .saturating_sub(usage.cached_prompt_tokens + usage.cache_creation_tokens);
    if let Some(n) = seen.input_tokens {
        input = n;
    }
    if let Some(n) = seen.cache_read_input_tokens {
        usage.cached_prompt_tokens = n;
    }
    if let Some(n) = seen.cache_creation_input_tokens {
        usage.cache_creation_tokens = n;
    }
    if let Some(n) = seen.output_tokens {
        usage.completion_tokens = n;
    }
    usage.prompt_tokens = input + usage.cached_prompt_tokens + usage.cache_creation_tokens;
}

/// The usage of a complete Messages response body (`count_tokens` bodies have none).
pub fn response_usage(body: &[u8]) -> Option<Usage> {
    let parsed: WithUsage = serde_json::from_slice(body).ok()?;
    let mut usage = Usage::default();
    merge(&mut usage, parsed.usage.as_ref()?);
    Some(usage)
}

/// Watches a passing Anthropic Messages stream: usage, and whether it completed.
#[derive(Debug, Default)]
pub struct UsageObserver {
    lines: Lines,
    usage: Option<Usage>,
    stopped: bool,
    errored: bool,
}

impl UsageObserver {
    /// A fresh observer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at the next bytes of the stream (split anywhere).
    pub fn observe(&mut self, bytes: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |line| self.line(line));
        self.lines = lines;
    }

    fn line(&mut self, line: &[u8]) {
        if let Some(name) = line.strip_prefix(b"event:") {
            match name.trim_ascii() {
                b"message_stop" => self.stopped = true,
                b"error" => self.errored = true,
                _ => {}
            }
            return;
        }
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        // Only `message_start` and `message_delta` carry usage; no other line is parsed.
        if keys::USAGE.first_value(data).is_none() {
            return;
        }
        if let Ok(parsed) = serde_json::from_slice::<WithUsage>(data) {
            let seen = parsed
                .usage
                .or_else(|| parsed.message.and_then(|m| m.usage));
            if let Some(seen) = seen {
                merge(self.usage.get_or_insert_with(Usage::default), &seen);
            }
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Whether `message_stop` went by.
    pub fn completed(&self) -> bool {
        self.stopped
    }

    /// Whether the provider sent an `error` event.
    pub fn errored(&self) -> bool {
        self.errored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_replaced_in_place() {
        let body = Bytes::from_static(
            br#"{"messages":[{"role":"user","content":"say \"model\": x"}], "model" : "opus", "max_tokens":5,"x":{"model":"keep"}}"#,
        );
        let out = replace_model(&body, "claude-opus-4-5").expect("replaced");
        assert_eq!(
            &out[..],
            &br#"{"messages":[{"role":"user","content":"say \"model\": x"}], "model" : "claude-opus-4-5", "max_tokens":5,"x":{"model":"keep"}}"#[..]
        );
        let same = replace_model(&out, "claude-opus-4-5").expect("same");
        assert_eq!(
            same.as_ptr(),
            out.as_ptr(),
            "unchanged bodies are not copied"
        );
        assert!(replace_model(&Bytes::from_static(b"[1]"), "m").is_none());
        assert!(replace_model(&Bytes::from_static(br#"{"model":3}"#), "m").is_none());
        assert!(replace_model(&Bytes::from_static(br#"{"model":"a""#), "m").is_none());
    }

    #[test]
    fn stream_usage_is_located() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":4,\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let mut observer = UsageObserver::new();
        for piece in stream.as_bytes().chunks(5) {
            observer.observe(piece);
        }
        let usage = observer.usage().expect("usage");
        assert_eq!(usage.prompt_tokens, 16);
        assert_eq!(usage.cached_prompt_tokens, 4);
        assert_eq!(usage.cache_creation_tokens, 2);
        assert_eq!(usage.completion_tokens, 7);
        assert!(observer.completed());
        assert!(!observer.errored());
        assert_eq!(
            response_usage(br#"{"usage":{"input_tokens":3,"output_tokens":2}}"#),
            Some(Usage::new(3, 2))
        );
    }
}
