//! An OpenAI chat completion stream re-emitted as Anthropic's Messages event sequence.
//!
//! `message_start` (usage with `input_tokens`, `cache_creation_input_tokens`,
//! `cache_read_input_tokens`), then per block `content_block_start` / `content_block_delta`
//! (`thinking_delta`, `text_delta`, `input_json_delta`) / `content_block_stop`, then
//! `message_delta` (`stop_reason`, `usage`) and `message_stop`. A stream that breaks (an
//! OpenAI-shaped `data: {"error":...}` event, or an end without `data: [DONE]`) ends with
//! `event: error` and **no** `message_stop`, so a client such as Claude Code retries instead of
//! keeping a cut-off answer.

use infermux_core::Usage;
use serde_json::{Value, json};

use super::{
    error::error_body,
    response::{message_id, tool_use_id, usage_json},
    stop_reason,
};
use crate::{
    report::{StreamEnd, StreamReport, write_event},
    scan::needles,
};

/// The kind of the content block being streamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Thinking,
    Text,
    /// A tool call: the OpenAI `tool_calls[].index` it comes from.
    Tool(u64),
}

/// Re-encodes the bytes of an OpenAI chat stream as Anthropic events, as they arrive.
#[derive(Debug)]
pub struct StreamEncoder {
    pending: Vec<u8>,
    model: String,
    estimated_input: u64,
    started: bool,
    open: Option<Block>,
    next_index: u64,
    done: bool,
    report: StreamReport,
}

impl StreamEncoder {
    /// An encoder for a stream of `model`, whose `message_start` reports
    /// `estimated_input` tokens until the provider's own count arrives in `message_delta`.
    pub fn new(model: &str, estimated_input: u64) -> Self {
        Self {
            pending: Vec::new(),
            model: model.to_owned(),
            estimated_input,
            started: false,
            open: None,
            next_index: 0,
            done: false,
            report: StreamReport::default(),
        }
    }

    /// What the stream reported so far.
    pub fn report(&self) -> &StreamReport {
        &self.report
    }

    /// Feeds bytes of the OpenAI stream (split anywhere); appends the Anthropic events they
    /// complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.report.end != StreamEnd::Open {
            return;
        }
        self.pending.extend_from_slice(bytes);
        while let Some(end) = needles::EVENT_END.find(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..end + 2).collect();
            self.event(&event[..end], out);
            if self.report.end != StreamEnd::Open {
                return;
            }
        }
    }

    /// The upstream ended: `usage` is the usage infermux learnt. Appends `message_delta` and
    /// `message_stop` when the stream completed, an `error` event otherwise.
    pub fn finish(&mut self, usage: Option<Usage>, out: &mut Vec<u8>) {
        if self.report.end != StreamEnd::Open {
            return;
        }
        if !self.done {
            self.fail("the provider's stream ended before it completed", out);
            return;
        }
        if let Some(usage) = usage {
            self.report.usage = Some(usage);
        }
        self.start(out);
        self.close_block(out);
        let finish = self.report.finish_reason.as_deref().unwrap_or("stop");
        let usage = self.report.usage.unwrap_or_default();
        write_event(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(finish), "stop_sequence": null},
                "usage": usage_json(&usage),
            }),
        );
        write_event(out, "message_stop", &json!({"type": "message_stop"}));
        self.report.end = StreamEnd::Completed;
    }

    /// The stream broke: appends an `error` event (no `message_stop`).
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.report.end != StreamEnd::Open {
            return;
        }
        out.extend_from_slice(b"event: error\ndata: ");
        out.extend_from_slice(&error_body("api_error", message));
        out.extend_from_slice(b"\n\n");
        self.report.end = StreamEnd::Failed(message.to_owned());
    }

    fn event(&mut self, event: &[u8], out: &mut Vec<u8>) {
        let mut data = Vec::new();
        for line in event.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(payload) = line.strip_prefix(b"data:") {
                data.extend_from_slice(payload.strip_prefix(b" ").unwrap_or(payload));
            }
        }
        if data.is_empty() {
            return;
        }
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(&data) else {
            self.fail("the provider sent a malformed stream chunk", out);
            return;
        };
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .unwrap_or("the provider's stream failed")
                .to_owned();
            self.fail(&message, out);
            return;
        }
        self.chunk(&chunk, out);
    }

    fn chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if !self.started {
            if let Some(model) = chunk.get("model").and_then(Value::as_str) {
                model.clone_into(&mut self.model);
            }
            let id = chunk
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("infermux");
            self.start_with(&message_id(id), out);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
            self.report.usage = Some(Usage {
                prompt_tokens: n(usage.get("prompt_tokens")),
                completion_tokens: n(usage.get("completion_tokens")),
                cached_prompt_tokens: n(usage.pointer("/prompt_tokens_details/cached_tokens")),
                reasoning_tokens: n(usage.pointer("/completion_tokens_details/reasoning_tokens")),
                ..Usage::default()
            });
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            let reasoning = delta
                .get("reasoning_content")
                .or_else(|| delta.get("reasoning"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty());
            if let Some(thinking) = reasoning {
                self.ensure(Block::Thinking, None, out);
                self.delta(json!({"type": "thinking_delta", "thinking": thinking}), out);
            }
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.ensure(Block::Text, None, out);
                self.delta(json!({"type": "text_delta", "text": text}), out);
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for call in calls {
                    self.tool_call(call, out);
                }
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.report.finish_reason = Some(finish.to_owned());
        }
    }

    fn tool_call(&mut self, call: &Value, out: &mut Vec<u8>) {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let function = call.get("function");
        let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
        if self.open != Some(Block::Tool(index)) {
            let id = call.get("id").and_then(Value::as_str).unwrap_or("");
            let id = if id.is_empty() {
                format!("toolu_infermux_{index}")
            } else {
                tool_use_id(id)
            };
            let start =
                json!({"type": "tool_use", "id": id, "name": name.unwrap_or(""), "input": {}});
            self.ensure(Block::Tool(index), Some(start), out);
        }
        if let Some(arguments) = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            self.delta(
                json!({"type": "input_json_delta", "partial_json": arguments}),
                out,
            );
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start_with("msg_infermux", out);
        }
    }

    fn start_with(&mut self, id: &str, out: &mut Vec<u8>) {
        self.started = true;
        write_event(
            out,
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": self.estimated_input, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0, "output_tokens": 0},
                }
            }),
        );
    }

    /// Makes `block` the open block, closing another one first.
    fn ensure(&mut self, block: Block, start: Option<Value>, out: &mut Vec<u8>) {
        if self.open == Some(block) {
            return;
        }
        self.close_block(out);
        let content = start.unwrap_or_else(|| match block {
            Block::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
            _ => json!({"type": "text", "text": ""}),
        });
        write_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.next_index, "content_block": content}),
        );
        self.open = Some(block);
    }

    fn delta(&self, delta: Value, out: &mut Vec<u8>) {
        write_event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.next_index, "delta": delta}),
        );
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            write_event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.next_index}),
            );
            self.next_index += 1;
        }
    }
}

impl crate::report::StreamReencoder for StreamEncoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        Self::feed(self, bytes, out);
    }

    fn finish(&mut self, usage: Option<Usage>, out: &mut Vec<u8>) {
        Self::finish(self, usage, out);
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        Self::fail(self, message, out);
    }

    fn report(&self) -> &StreamReport {
        Self::report(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{chunk, events, text_then_tool_call};

    #[test]
    fn text_then_tool_call_stream() {
        let stream = text_then_tool_call();
        let mut encoder = StreamEncoder::new("m", 5);
        let mut out = Vec::new();
        // Split at every 7 bytes: events may arrive cut anywhere.
        for piece in stream.as_bytes().chunks(7) {
            encoder.feed(piece, &mut out);
        }
        encoder.finish(Some(Usage::new(12, 6)), &mut out);
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[0].1["message"]["model"], "gpt-4o-mini");
        assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 5);
        assert_eq!(events[5].1["content_block"]["type"], "tool_use");
        assert_eq!(events[5].1["index"], 1);
        assert_eq!(events[6].1["delta"]["partial_json"], "{\"a\":");
        assert_eq!(events[9].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[9].1["usage"]["output_tokens"], 6);
        assert_eq!(events[9].1["usage"]["input_tokens"], 12);
        assert_eq!(encoder.report().end, StreamEnd::Completed);
    }

    #[test]
    fn broken_streams_end_with_an_error_event() {
        let mut encoder = StreamEncoder::new("m", 1);
        let mut out = Vec::new();
        encoder.feed(chunk(json!({"content": "Hi"}), None).as_bytes(), &mut out);
        encoder.feed(b"data: {\"error\":{\"message\":\"upstream died\",\"code\":\"stream_interrupted\"}}\n\n", &mut out);
        encoder.finish(None, &mut out);
        let seen = events(&out);
        let (name, data) = seen.last().expect("events");
        assert_eq!(name, "error");
        assert_eq!(data["error"]["message"], "upstream died");
        assert!(!seen.iter().any(|(n, _)| n == "message_stop"));

        let mut encoder = StreamEncoder::new("m", 1);
        let mut out = Vec::new();
        encoder.feed(chunk(json!({"content": "Hi"}), None).as_bytes(), &mut out);
        encoder.finish(None, &mut out);
        assert_eq!(
            events(&out).last().map(|(n, _)| n.clone()),
            Some("error".to_owned())
        );
    }
}
