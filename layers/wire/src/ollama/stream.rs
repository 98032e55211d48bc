//! A streamed `/api/chat` answer (newline-delimited JSON) to OpenAI `chat.completion.chunk`s.

use infermux_core::Usage;
use serde_json::{Map, Value, json};

use super::error::DecodeError;
use super::response::{ChatResponse, finish_reason, usage_json};

/// Translates the NDJSON body of a streamed `/api/chat` answer into OpenAI
/// `chat.completion.chunk` JSON documents (the glue frames each as an SSE `data:` event).
///
/// Bytes may be pushed in chunks cut anywhere, even inside a UTF-8 sequence: an incomplete
/// line waits in a buffer for the rest of it.
pub struct NdjsonTranslator {
    /// The completion id every chunk carries.
    id: String,
    /// The creation time every chunk carries.
    created: u64,
    /// Whether the client asked for a final usage chunk.
    include_usage: bool,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Whether the first chunk, the one carrying the role, was sent.
    role_sent: bool,
    /// Tool calls sent so far; the next one gets this index.
    tool_calls: usize,
    /// The usage of the final line, once seen.
    usage: Usage,
    /// Whether the final (`"done": true`) line was seen.
    done: bool,
}

impl NdjsonTranslator {
    /// A translator for one answer; every chunk carries `id` and `created`, and a usage chunk
    /// ends the stream when `include_usage` is set.
    pub fn new(id: String, created: u64, include_usage: bool) -> Self {
        Self {
            id,
            created,
            include_usage,
            partial: Vec::new(),
            role_sent: false,
            tool_calls: 0,
            usage: Usage::default(),
            done: false,
        }
    }

    /// Feeds the next bytes of the body; returns the chunks of every line they complete.
    /// An `{"error": ...}` line is a [`DecodeError::Provider`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
        let Some(last_newline) = bytes.iter().rposition(|&byte| byte == b'\n') else {
            self.partial.extend_from_slice(bytes);
            return Ok(Vec::new());
        };
        let (complete, rest) = bytes.split_at(last_newline + 1);
        let mut lines = std::mem::take(&mut self.partial);
        lines.extend_from_slice(complete);
        self.partial.extend_from_slice(rest);
        let mut chunks = Vec::new();
        for line in lines.split(|&byte| byte == b'\n') {
            self.line(line, &mut chunks)?;
        }
        Ok(chunks)
    }

    /// Ends the body: translates a last line that lacks only its newline, and fails if the
    /// body stopped inside a line ("stream ended mid-line") or before the final line.
    pub fn finish(&mut self) -> Result<Vec<String>, DecodeError> {
        let rest = std::mem::take(&mut self.partial);
        let mut chunks = Vec::new();
        if !rest.trim_ascii().is_empty() {
            if serde_json::from_slice::<serde::de::IgnoredAny>(&rest).is_err() {
                return Err(DecodeError::MidLine);
            }
            self.line(&rest, &mut chunks)?;
        }
        if !self.done {
            return Err(DecodeError::Incomplete);
        }
        Ok(chunks)
    }

    /// The usage Ollama reported on the final line (zero until then).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether the final (`"done": true`) line was seen.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// Translates one line; blank lines and anything after the final line are ignored.
    fn line(&mut self, line: &[u8], chunks: &mut Vec<String>) -> Result<(), DecodeError> {
        let line = line.trim_ascii();
        if line.is_empty() || self.done {
            return Ok(());
        }
        let response = ChatResponse::parse(line)?;
        let mut delta = Map::new();
        if let Some(message) = &response.message {
            if let Some(thinking) = message.thinking.as_deref().filter(|t| !t.is_empty()) {
                delta.insert("reasoning_content".into(), thinking.into());
            }
            if let Some(content) = message.content.as_deref().filter(|c| !c.is_empty()) {
                delta.insert("content".into(), content.into());
            }
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .flatten()
                .map(|call| {
                    let index = self.tool_calls;
                    self.tool_calls += 1;
                    let mut delta = call.to_openai(index);
                    if let Some(object) = delta.as_object_mut() {
                        object.insert("index".into(), index.into());
                    }
                    delta
                })
                .collect();
            if !calls.is_empty() {
                delta.insert("tool_calls".into(), Value::Array(calls));
            }
        }
        if !self.role_sent {
            self.role_sent = true;
            delta.insert("role".into(), "assistant".into());
            delta.entry("content").or_insert_with(|| "".into());
        }
        if !delta.is_empty() {
            let mut chunk = self.chunk_value(&response.model, Value::Object(delta), Value::Null);
            if response.logprobs.is_some() {
                chunk["choices"][0]["logprobs"] = response.openai_logprobs();
            }
            chunks.push(chunk.to_string());
        }
        if response.done {
            self.done = true;
            self.usage = response.usage();
            let reason = finish_reason(response.done_reason.as_deref(), self.tool_calls > 0);
            chunks.push(self.chunk(&response.model, json!({}), reason.into()));
            if self.include_usage {
                let usage = json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": response.model,
                    "choices": [],
                    "usage": usage_json(&self.usage),
                });
                chunks.push(usage.to_string());
            }
        }
        Ok(())
    }

    /// One chunk with a single choice carrying `delta` and `finish_reason`.
    fn chunk(&self, model: &str, delta: Value, finish_reason: Value) -> String {
        self.chunk_value(model, delta, finish_reason).to_string()
    }

    /// [`chunk`](Self::chunk) before it is written.
    fn chunk_value(&self, model: &str, delta: Value, finish_reason: Value) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.include_usage
            && let Some(object) = chunk.as_object_mut()
        {
            // OpenAI sends `usage: null` on every chunk but the last when usage was asked for.
            object.insert("usage".into(), Value::Null);
        }
        chunk
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A streamed `/api/chat` answer as Ollama writes it, with multi-byte characters.
    const STREAM: &str = concat!(
        r#"{"model":"llama3.2:3b","created_at":"2025-06-02T10:21:03.0Z","message":{"role":"assistant","content":"The sky"},"done":false}"#,
        "\n",
        r#"{"model":"llama3.2:3b","created_at":"2025-06-02T10:21:03.1Z","message":{"role":"assistant","content":" is blue ☀️"},"done":false}"#,
        "\n",
        r#"{"model":"llama3.2:3b","created_at":"2025-06-02T10:21:03.2Z","message":{"role":"assistant","content":" — Rayleigh."},"done":false}"#,
        "\n",
        r#"{"model":"llama3.2:3b","created_at":"2025-06-02T10:21:03.3Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":5,"eval_duration":4799921000}"#,
        "\n",
    );

    /// A streamed answer that calls a tool.
    const TOOL_STREAM: &str = concat!(
        r#"{"model":"qwen3:8b","created_at":"2025-06-02T10:22:40.0Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":false}"#,
        "\n",
        r#"{"model":"qwen3:8b","created_at":"2025-06-02T10:22:40.1Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"index":1,"name":"get_time","arguments":{"tz":"CET"}}}]},"done":false}"#,
        "\n",
        r#"{"model":"qwen3:8b","created_at":"2025-06-02T10:22:41.0Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":1831000000,"prompt_eval_count":171,"eval_count":41}"#,
        "\n",
    );

    fn translator(include_usage: bool) -> NdjsonTranslator {
        NdjsonTranslator::new("chatcmpl-1".into(), 1_717_000_000, include_usage)
    }

    fn parse(chunks: Vec<String>) -> Vec<Value> {
        chunks
            .iter()
            .map(|chunk| serde_json::from_str(chunk).expect("JSON chunk"))
            .collect()
    }

    /// Feeds `parts` in order and finishes.
    fn run(include_usage: bool, parts: &[&[u8]]) -> (Vec<Value>, NdjsonTranslator) {
        let mut translator = translator(include_usage);
        let mut chunks = Vec::new();
        for part in parts {
            chunks.extend(translator.push(part).expect("push"));
        }
        chunks.extend(translator.finish().expect("finish"));
        (parse(chunks), translator)
    }

    fn content_chunk(delta: Value) -> Value {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1_717_000_000,
            "model": "llama3.2:3b",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]
        })
    }

    #[test]
    fn lines_become_chunks_without_usage() {
        let (chunks, translator) = run(false, &[STREAM.as_bytes()]);
        assert_eq!(
            chunks,
            vec![
                content_chunk(json!({"role": "assistant", "content": "The sky"})),
                content_chunk(json!({"content": " is blue ☀️"})),
                content_chunk(json!({"content": " — Rayleigh."})),
                json!({
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1_717_000_000,
                    "model": "llama3.2:3b",
                    "choices": [{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]
                }),
            ]
        );
        assert!(translator.is_complete());
        assert_eq!(
            translator.usage(),
            Usage {
                prompt_tokens: 26,
                completion_tokens: 5,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn include_usage_adds_a_final_usage_chunk() {
        let (chunks, _) = run(true, &[STREAM.as_bytes()]);
        assert_eq!(chunks.len(), 5);
        for chunk in &chunks[..4] {
            assert_eq!(chunk["usage"], Value::Null);
            assert!(chunk.as_object().is_some_and(|c| c.contains_key("usage")));
        }
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], json!("stop"));
        assert_eq!(
            chunks[4],
            json!({
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1_717_000_000,
                "model": "llama3.2:3b",
                "choices": [],
                "usage": {"prompt_tokens": 26, "completion_tokens": 5, "total_tokens": 31}
            })
        );
    }

    #[test]
    fn every_split_point_gives_the_same_chunks() {
        for include_usage in [false, true] {
            let (whole, _) = run(include_usage, &[STREAM.as_bytes()]);
            let bytes = STREAM.as_bytes();
            for split in 0..=bytes.len() {
                let (first, second) = bytes.split_at(split);
                let (chunks, translator) = run(include_usage, &[first, second]);
                assert_eq!(chunks, whole, "split at byte {split}");
                assert_eq!(translator.usage().total_tokens(), 31);
            }
            for (a, b) in [(1, 2), (7, 300), (150, 151), (200, 500)] {
                let (first, rest) = bytes.split_at(a);
                let (second, third) = rest.split_at(b - a);
                let (chunks, _) = run(include_usage, &[first, second, third]);
                assert_eq!(chunks, whole, "splits at bytes {a} and {b}");
            }
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_chunks() {
        let (whole, _) = run(true, &[TOOL_STREAM.as_bytes()]);
        let bytes: Vec<&[u8]> = TOOL_STREAM.as_bytes().chunks(1).collect();
        let (chunks, _) = run(true, &bytes);
        assert_eq!(chunks, whole);
    }

    #[test]
    fn tool_calls_become_tool_call_deltas() {
        let (chunks, translator) = run(false, &[TOOL_STREAM.as_bytes()]);
        assert_eq!(chunks.len(), 3);
        let first = &chunks[0]["choices"][0]["delta"];
        assert_eq!(first["role"], json!("assistant"));
        assert_eq!(first["content"], json!(""));
        assert_eq!(
            first["tool_calls"],
            json!([{
                "index": 0,
                "id": "call_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
            }])
        );
        let second = &chunks[1]["choices"][0]["delta"];
        assert!(second.get("role").is_none());
        assert_eq!(second["tool_calls"][0]["index"], json!(1));
        assert_eq!(second["tool_calls"][0]["id"], json!("call_1"));
        assert_eq!(
            second["tool_calls"][0]["function"]["name"],
            json!("get_time")
        );
        let arguments: Value = serde_json::from_str(
            second["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .expect("a string"),
        )
        .expect("JSON arguments");
        assert_eq!(arguments, json!({"tz": "CET"}));
        assert_eq!(
            chunks[2]["choices"][0]["finish_reason"],
            json!("tool_calls")
        );
        assert_eq!(translator.usage().prompt_tokens, 171);
    }

    #[test]
    fn length_done_reason_is_length() {
        let stream = concat!(
            r#"{"model":"m","message":{"role":"assistant","content":"a"},"done":false}"#,
            "\r\n\r\n",
            r#"{"model":"m","message":{"role":"assistant","content":""},"done_reason":"length","done":true,"prompt_eval_count":3,"eval_count":1}"#,
            "\r\n",
        );
        let (chunks, _) = run(false, &[stream.as_bytes()]);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1]["choices"][0]["finish_reason"], json!("length"));
    }

    #[test]
    fn a_done_line_alone_still_sends_the_role() {
        let line = r#"{"model":"m","message":{"role":"assistant","content":""},"done_reason":"stop","done":true}"#;
        let (chunks, translator) = run(false, &[line.as_bytes(), b"\n"]);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(chunks[1]["choices"][0]["finish_reason"], json!("stop"));
        assert_eq!(translator.usage(), Usage::default());
    }

    #[test]
    fn error_line_is_a_provider_error() {
        let mut translator = translator(true);
        let first = translator
            .push(br#"{"model":"m","message":{"role":"assistant","content":"Hel"},"done":false}"#)
            .expect("partial line");
        assert!(first.is_empty());
        let error = translator
            .push(
                b"\n{\"error\":\"an error was encountered while running the model: CUDA error\"}\n",
            )
            .expect_err("an error line");
        assert!(matches!(&error, DecodeError::Provider { message }
            if message == "an error was encountered while running the model: CUDA error"));
        assert_eq!(
            error.to_string(),
            "ollama error: an error was encountered while running the model: CUDA error"
        );
        assert!(!translator.is_complete());
    }

    #[test]
    fn a_last_line_without_newline_is_translated() {
        let stream = STREAM.trim_end();
        let (chunks, translator) = run(true, &[stream.as_bytes()]);
        assert_eq!(chunks, run(true, &[STREAM.as_bytes()]).0);
        assert!(translator.is_complete());
    }

    #[test]
    fn ending_mid_line_or_before_done_fails() {
        let mut translator = translator(false);
        let cut = STREAM.len() - 20;
        translator.push(&STREAM.as_bytes()[..cut]).expect("push");
        let error = translator.finish().expect_err("mid-line");
        assert_eq!(error.to_string(), "stream ended mid-line");
        assert!(!translator.is_complete());

        let mut translator = self::translator(false);
        let first_line = STREAM.split_inclusive('\n').next().expect("a line");
        assert_eq!(
            translator.push(first_line.as_bytes()).expect("push").len(),
            1
        );
        let error = translator.finish().expect_err("no done line");
        assert!(matches!(error, DecodeError::Incomplete));
    }

    #[test]
    fn invalid_lines_fail() {
        let mut translator = translator(false);
        let error = translator.push(b"not json\n").expect_err("invalid");
        assert!(matches!(error, DecodeError::Json(_)));
    }

    #[test]
    fn lines_after_done_are_ignored() {
        let mut bytes = STREAM.to_owned();
        bytes.push_str(
            r#"{"model":"m","message":{"role":"assistant","content":"late"},"done":false}"#,
        );
        bytes.push('\n');
        let (chunks, _) = run(false, &[bytes.as_bytes()]);
        assert_eq!(chunks, run(false, &[STREAM.as_bytes()]).0);
    }
}
