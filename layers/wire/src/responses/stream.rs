//! An OpenAI chat completion stream re-emitted as the Responses event sequence.
//!
//! `response.created` and `response.in_progress`, then per output item
//! `response.output_item.added`, its deltas (`response.reasoning_summary_text.delta`,
//! `response.content_part.added` + `response.output_text.delta`,
//! `response.function_call_arguments.delta`) and their `...done` events, then
//! `response.output_item.done`; at the end `response.completed` (or `response.incomplete` when
//! the output limit cut the answer) carrying the whole response and its usage. A stream that
//! breaks (an OpenAI-shaped `data: {"error":...}` event, or an end without `data: [DONE]`)
//! ends with `response.failed` and **no** `response.completed`, so a client such as Codex
//! retries instead of keeping a cut-off answer.

use infermux_core::Usage;
use serde_json::{Value, json};

use super::response::{
    function_call_item, message_item, output_text, reasoning_item, response_id, response_object,
    status,
};
use crate::{
    report::{StreamEnd, StreamReport, write_event},
    scan::needles,
};

/// The output item being streamed.
#[derive(Debug)]
enum Open {
    Reasoning {
        text: String,
    },
    Text {
        text: String,
    },
    /// A tool call: the OpenAI `tool_calls[].index` it comes from.
    Tool {
        index: u64,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Re-encodes the bytes of an OpenAI chat stream as Responses events, as they arrive.
#[derive(Debug)]
pub struct StreamEncoder {
    pending: Vec<u8>,
    model: String,
    id: String,
    created_at: u64,
    sequence: u64,
    started: bool,
    open: Option<Open>,
    output: Vec<Value>,
    done: bool,
    report: StreamReport,
    namespaces: Vec<String>,
}

impl StreamEncoder {
    /// An encoder for a stream of `model` created at `created_at` (seconds since the epoch).
    pub fn new(model: &str, created_at: u64) -> Self {
        Self {
            pending: Vec::new(),
            model: model.to_owned(),
            id: "resp_infermux".to_owned(),
            created_at,
            sequence: 0,
            started: false,
            open: None,
            output: Vec::new(),
            done: false,
            report: StreamReport::default(),
            namespaces: Vec::new(),
        }
    }

    /// Splits calls of functions flattened from these `namespace` tools back into namespace
    /// and name.
    #[must_use]
    pub fn with_namespaces(mut self, namespaces: Vec<String>) -> Self {
        self.namespaces = namespaces;
        self
    }

    /// What the stream reported so far.
    pub fn report(&self) -> &StreamReport {
        &self.report
    }

    /// Feeds bytes of the OpenAI stream (split anywhere); appends the Responses events they
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

    /// The upstream ended: `usage` is the usage infermux learnt. Appends the last `...done`
    /// events and `response.completed` when the stream completed, `response.failed`
    /// otherwise.
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
        self.close(out);
        let finish = self.report.finish_reason.as_deref().unwrap_or("stop");
        let status = status(finish);
        let usage = self.report.usage.unwrap_or_default();
        let response = response_object(
            &self.id,
            &self.model,
            self.created_at,
            status,
            std::mem::take(&mut self.output),
            Some(&usage),
        );
        let kind = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(out, kind, json!({"response": response}));
        self.report.end = StreamEnd::Completed;
    }

    /// The stream broke: appends `response.failed` (no `response.completed`).
    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.report.end != StreamEnd::Open {
            return;
        }
        self.start(out);
        let mut response = response_object(
            &self.id,
            &self.model,
            self.created_at,
            "failed",
            std::mem::take(&mut self.output),
            None,
        );
        response["error"] = json!({"code": "server_error", "message": message});
        self.emit(out, "response.failed", json!({"response": response}));
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
            if let Some(id) = chunk.get("id").and_then(Value::as_str) {
                self.id = response_id(id);
            }
            self.start(out);
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
            if let Some(text) = reasoning {
                self.reasoning(text, out);
            }
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                self.text(text, out);
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

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(
            &self.id,
            &self.model,
            self.created_at,
            "in_progress",
            Vec::new(),
            None,
        );
        self.emit(out, "response.created", json!({"response": response}));
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    /// The index the open item has (or the next one will have) in `output`.
    fn index(&self) -> usize {
        self.output.len()
    }

    fn item_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}_{}", self.id, self.index())
    }

    fn reasoning(&mut self, delta: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            let item = reasoning_item(&self.item_id("rs"), "");
            self.emit(
                out,
                "response.output_item.added",
                json!({"output_index": self.index(), "item": item}),
            );
            let part = json!({"type": "summary_text", "text": ""});
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": self.item_id("rs"), "output_index": self.index(), "summary_index": 0, "part": part}),
            );
            self.open = Some(Open::Reasoning {
                text: String::new(),
            });
        }
        if let Some(Open::Reasoning { text }) = &mut self.open {
            text.push_str(delta);
        }
        self.emit(
            out,
            "response.reasoning_summary_text.delta",
            json!({"item_id": self.item_id("rs"), "output_index": self.index(), "summary_index": 0, "delta": delta}),
        );
    }

    fn text(&mut self, delta: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(Open::Text { .. })) {
            self.close(out);
            let id = self.item_id("msg");
            let mut item = message_item(&id, "", "in_progress");
            item["content"] = json!([]);
            self.emit(
                out,
                "response.output_item.added",
                json!({"output_index": self.index(), "item": item}),
            );
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": self.index(), "content_index": 0, "part": output_text("")}),
            );
            self.open = Some(Open::Text {
                text: String::new(),
            });
        }
        if let Some(Open::Text { text }) = &mut self.open {
            text.push_str(delta);
        }
        self.emit(
            out,
            "response.output_text.delta",
            json!({"item_id": self.item_id("msg"), "output_index": self.index(), "content_index": 0, "delta": delta, "logprobs": []}),
        );
    }

    fn tool_call(&mut self, call: &Value, out: &mut Vec<u8>) {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let function = call.get("function");
        if !matches!(self.open, Some(Open::Tool { index: open, .. }) if open == index) {
            self.close(out);
            let call_id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("call_{}_{index}", self.id), str::to_owned);
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let item = function_call_item(
                &self.item_id("fc"),
                &call_id,
                &name,
                "",
                "in_progress",
                &self.namespaces,
            );
            self.emit(
                out,
                "response.output_item.added",
                json!({"output_index": self.index(), "item": item}),
            );
            self.open = Some(Open::Tool {
                index,
                call_id,
                name,
                arguments: String::new(),
            });
        }
        if let Some(delta) = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            if let Some(Open::Tool { arguments, .. }) = &mut self.open {
                arguments.push_str(delta);
            }
            self.emit(
                out,
                "response.function_call_arguments.delta",
                json!({"item_id": self.item_id("fc"), "output_index": self.index(), "delta": delta}),
            );
        }
    }

    /// Closes the open item with its `...done` events and keeps it for the final response.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let index = self.index();
        let item = match open {
            Open::Reasoning { text } => {
                let id = self.item_id("rs");
                self.emit(
                    out,
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
                );
                self.emit(
                    out,
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0,
                           "part": {"type": "summary_text", "text": text}}),
                );
                reasoning_item(&id, &text)
            }
            Open::Text { text } => {
                let id = self.item_id("msg");
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": output_text(&text)}),
                );
                message_item(&id, &text, "completed")
            }
            Open::Tool {
                call_id,
                name,
                arguments,
                ..
            } => {
                let id = self.item_id("fc");
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}),
                );
                function_call_item(
                    &id,
                    &call_id,
                    &name,
                    &arguments,
                    "completed",
                    &self.namespaces,
                )
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
        self.output.push(item);
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = Value::from(kind);
        data["sequence_number"] = Value::from(self.sequence);
        self.sequence += 1;
        write_event(out, kind, &data);
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
        for piece in stream.as_bytes().chunks(7) {
            encoder.feed(piece, &mut out);
        }
        let usage = Usage {
            cached_prompt_tokens: 4,
            ..Usage::new(12, 6)
        };
        encoder.finish(Some(usage), &mut out);
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, (name, data)) in events.iter().enumerate() {
            assert_eq!(data["type"], name.as_str());
            assert_eq!(data["sequence_number"], i);
        }
        assert_eq!(events[0].1["response"]["model"], "gpt-4o-mini");
        assert_eq!(events[6].1["text"], "Hi there");
        assert_eq!(events[9].1["item"]["call_id"], "call_1");
        assert_eq!(events[9].1["output_index"], 1);
        assert_eq!(events[12].1["arguments"], "{\"a\":1}");
        let done = &events[14].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hi there");
        assert_eq!(done["output"][1]["name"], "f");
        assert_eq!(done["usage"]["input_tokens"], 12);
        assert_eq!(done["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(done["usage"]["output_tokens"], 6);
        assert_eq!(encoder.report().end, StreamEnd::Completed);
    }

    #[test]
    fn broken_streams_end_with_response_failed() {
        let mut encoder = StreamEncoder::new("m", 1);
        let mut out = Vec::new();
        encoder.feed(chunk(json!({"content": "Hi"}), None).as_bytes(), &mut out);
        encoder.feed(
            b"data: {\"error\":{\"message\":\"upstream died\"}}\n\n",
            &mut out,
        );
        encoder.finish(None, &mut out);
        let seen = events(&out);
        let (name, data) = seen.last().expect("events");
        assert_eq!(name, "response.failed");
        assert_eq!(data["response"]["error"]["message"], "upstream died");
        assert!(!seen.iter().any(|(n, _)| n == "response.completed"));

        let mut encoder = StreamEncoder::new("m", 1);
        let mut out = Vec::new();
        encoder.feed(chunk(json!({"content": "Hi"}), None).as_bytes(), &mut out);
        encoder.finish(None, &mut out);
        assert_eq!(
            events(&out).last().map(|(n, _)| n.clone()),
            Some("response.failed".to_owned())
        );
    }
}
