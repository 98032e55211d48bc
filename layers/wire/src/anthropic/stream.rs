//! Anthropic streaming events -> OpenAI `chat.completion.chunk`s.

use std::collections::HashMap;

use infermux_core::Usage;
use serde::Deserialize;
use serde_json::{Value, json};
use sse_stream::Sse;

use super::DecodeError;
use super::response::{AnthropicUsage, map_stop_reason, openai_usage, provider_error};

/// Translates the server-sent events of one streamed Anthropic message into OpenAI chunks.
///
/// Feed it every event in order with [`on_event`](Self::on_event) and write each returned
/// chunk as `data: <json>\n\n`. The chunks follow OpenAI's stream: a first chunk with the
/// `assistant` role and empty content, content and tool call chunks, a chunk with the
/// `finish_reason`, and, when the client asked for `stream_options.include_usage`, a last chunk
/// with no choices and the `usage` (every earlier chunk then carries `"usage": null`, as
/// OpenAI's do). The usage is learnt whether or not the client asked for it.
#[derive(Debug)]
pub struct StreamTranslator {
    /// `created` of every chunk (Unix seconds).
    created: u64,
    /// Whether the client asked for a final usage chunk.
    include_usage: bool,
    /// Anthropic's message id, from `message_start`.
    id: String,
    /// The model that answers, from `message_start`.
    model: String,
    /// Usage so far.
    usage: Usage,
    /// The tool calls of the message, by Anthropic content block index.
    tool_blocks: HashMap<u64, ToolBlock>,
    /// Whether `message_stop` has been seen.
    complete: bool,
}

/// A `tool_use` content block being streamed.
#[derive(Debug)]
struct ToolBlock {
    /// The OpenAI tool call index: the count of tool blocks before this one.
    index: usize,
    /// Whether any argument text has been sent for it.
    has_arguments: bool,
}

impl StreamTranslator {
    /// A translator for one stream answered at `created` (Unix seconds), with a final usage
    /// chunk when `include_usage`.
    pub fn new(created: u64, include_usage: bool) -> Self {
        Self {
            created,
            include_usage,
            id: String::new(),
            model: String::new(),
            usage: Usage::default(),
            tool_blocks: HashMap::new(),
            complete: false,
        }
    }

    /// Translates one Anthropic event into zero or more OpenAI chunks (JSON documents).
    ///
    /// * `message_start`: the role chunk; the message id, model and input usage are noted.
    /// * `content_block_start`: nothing for text (unless it already has text); for `tool_use`
    ///   a `tool_calls` chunk with the call's index, id, type, name and empty `arguments`.
    /// * `content_block_delta`: `text_delta` -> a content chunk; `input_json_delta` -> a
    ///   `tool_calls` chunk with the arguments fragment; `thinking_delta` -> a
    ///   `reasoning_content` chunk; signature, citation and server tool deltas are dropped.
    /// * `content_block_stop`: for a tool call that received no argument text, an `arguments`
    ///   chunk of `{}`, so the client's accumulated arguments are valid JSON.
    /// * `message_delta`: the `finish_reason` chunk (when it has a `stop_reason`); usage noted.
    /// * `message_stop`: the stream is complete; the usage chunk when the client asked for it.
    /// * `ping`, events without data and unknown events: nothing.
    /// * `error`: [`DecodeError::Provider`] with Anthropic's error type and message.
    ///
    /// Data that is not JSON, or not the shape of its event, is [`DecodeError::Json`].
    pub fn on_event(&mut self, event: &Sse) -> Result<Vec<String>, DecodeError> {
        let Some(data) = event.data.as_deref() else {
            return Ok(Vec::new());
        };
        let value: Value = serde_json::from_str(data)?;
        if let Some(error) = provider_error(&value) {
            return Err(error);
        }
        let chunks = match serde_json::from_value(value)? {
            Event::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                message.usage.update(&mut self.usage);
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                StartBlock::Text { text } => self.text_chunk(&text),
                StartBlock::ToolUse { id, name } => {
                    let tool = self.tool_blocks.len();
                    self.tool_blocks.insert(
                        index,
                        ToolBlock {
                            index: tool,
                            has_arguments: false,
                        },
                    );
                    vec![self.chunk(
                        json!({"tool_calls": [{
                            "index": tool,
                            "id": id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }]}),
                        None,
                    )]
                }
                StartBlock::Other => Vec::new(),
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                Delta::Text { text } => self.text_chunk(&text),
                Delta::Thinking { thinking } if !thinking.is_empty() => {
                    vec![self.chunk(json!({"reasoning_content": thinking}), None)]
                }
                Delta::Thinking { .. } => Vec::new(),
                Delta::InputJson { partial_json } => match self.tool_blocks.get_mut(&index) {
                    Some(tool) if !partial_json.is_empty() => {
                        tool.has_arguments = true;
                        let tool = tool.index;
                        vec![self.arguments_chunk(tool, &partial_json)]
                    }
                    _ => Vec::new(),
                },
                Delta::Other => Vec::new(),
            },
            Event::ContentBlockStop { index } => match self.tool_blocks.get(&index) {
                Some(tool) if !tool.has_arguments => {
                    vec![self.arguments_chunk(tool.index, "{}")]
                }
                _ => Vec::new(),
            },
            Event::MessageDelta { delta, usage } => {
                usage.update(&mut self.usage);
                delta
                    .stop_reason
                    .map(|reason| self.chunk(json!({}), Some(map_stop_reason(&reason))))
                    .into_iter()
                    .collect()
            }
            Event::MessageStop => {
                self.complete = true;
                if self.include_usage {
                    vec![
                        json!({
                            "id": self.id,
                            "object": "chat.completion.chunk",
                            "created": self.created,
                            "model": self.model,
                            "choices": [],
                            "usage": openai_usage(&self.usage),
                        })
                        .to_string(),
                    ]
                } else {
                    Vec::new()
                }
            }
            Event::Other => Vec::new(),
        };
        Ok(chunks)
    }

    /// The usage learnt so far; final once [`is_complete`](Self::is_complete).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether the message is complete (`message_stop` was seen).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// A chunk with one choice carrying `delta`.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> String {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk.to_string()
    }

    /// A content chunk for `text`; none for empty text.
    fn text_chunk(&self, text: &str) -> Vec<String> {
        if text.is_empty() {
            Vec::new()
        } else {
            vec![self.chunk(json!({"content": text}), None)]
        }
    }

    /// A chunk adding `arguments` to the tool call at `index`.
    fn arguments_chunk(&self, index: usize, arguments: &str) -> String {
        self.chunk(
            json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}),
            None,
        )
    }
}

/// An Anthropic streaming event, as far as the translation reads it.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    /// The message begins.
    MessageStart {
        /// The message, without content yet.
        message: StartMessage,
    },
    /// A content block begins.
    ContentBlockStart {
        /// The block's index in the message.
        index: u64,
        /// The block, without its streamed content.
        content_block: StartBlock,
    },
    /// More of a content block.
    ContentBlockDelta {
        /// The block's index in the message.
        index: u64,
        /// The addition.
        delta: Delta,
    },
    /// A content block ends.
    ContentBlockStop {
        /// The block's index in the message.
        index: u64,
    },
    /// Top-level changes: the stop reason and the running usage.
    MessageDelta {
        /// The changes.
        delta: MessageDelta,
        /// Running totals.
        #[serde(default)]
        usage: AnthropicUsage,
    },
    /// The message is complete.
    MessageStop,
    /// `ping` and any event type added later.
    #[serde(other)]
    Other,
}

/// The message of `message_start`.
#[derive(Debug, Deserialize)]
struct StartMessage {
    /// Message id (`msg_..`).
    id: String,
    /// The model that answers.
    model: String,
    /// Input usage (and a first output count).
    #[serde(default)]
    usage: AnthropicUsage,
}

/// The block of `content_block_start`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    /// Answer text, usually empty at the start.
    Text {
        /// The text so far.
        #[serde(default)]
        text: String,
    },
    /// A call of a client tool.
    ToolUse {
        /// Call id (`toolu_..`).
        id: String,
        /// Tool name.
        name: String,
    },
    /// Thinking, server tools and anything else OpenAI has no place for.
    #[serde(other)]
    Other,
}

/// The delta of `content_block_delta`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta {
    /// More answer text.
    #[serde(rename = "text_delta")]
    Text {
        /// The text.
        text: String,
    },
    /// More of a tool call's input, as a fragment of JSON text.
    #[serde(rename = "input_json_delta")]
    InputJson {
        /// The fragment.
        partial_json: String,
    },
    /// More of the model's visible reasoning.
    #[serde(rename = "thinking_delta")]
    Thinking {
        /// The reasoning text.
        thinking: String,
    },
    /// Signatures, citations and anything else OpenAI has no place for.
    #[serde(other)]
    Other,
}

/// The delta of `message_delta`.
#[derive(Debug, Deserialize)]
struct MessageDelta {
    /// Why the model stopped, once it has.
    #[serde(default)]
    stop_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a recorded `text/event-stream` body into its events.
    fn events(recorded: &str) -> Vec<Sse> {
        recorded
            .split("\n\n")
            .filter(|block| !block.trim().is_empty())
            .map(|block| {
                let mut sse = Sse::default();
                for line in block.lines() {
                    if let Some(event) = line.strip_prefix("event: ") {
                        sse.event = Some(event.to_owned());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        sse.data = Some(data.to_owned());
                    }
                }
                sse
            })
            .collect()
    }

    /// Feeds a recorded stream through a translator, returning it and every chunk as JSON.
    fn translate(recorded: &str, include_usage: bool) -> (StreamTranslator, Vec<Value>) {
        let mut translator = StreamTranslator::new(1_741_569_952, include_usage);
        let mut chunks = Vec::new();
        for event in events(recorded) {
            assert!(!translator.is_complete(), "complete before message_stop");
            for chunk in translator.on_event(&event).expect("translates") {
                chunks.push(serde_json::from_str(&chunk).expect("chunk is JSON"));
            }
        }
        (translator, chunks)
    }

    /// The `delta`s of the chunks that have a choice.
    fn deltas(chunks: &[Value]) -> Vec<&Value> {
        chunks
            .iter()
            .filter_map(|chunk| chunk["choices"].get(0))
            .map(|choice| &choice["delta"])
            .collect()
    }

    /// A text answer as the Messages API streams it.
    const TEXT_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":1024,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"! How can I help?"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

"#;

    #[test]
    fn text_stream_without_usage() {
        let (translator, chunks) = translate(TEXT_STREAM, false);
        assert_eq!(chunks.len(), 4);
        assert_eq!(
            chunks[0],
            json!({
                "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
                "object": "chat.completion.chunk",
                "created": 1_741_569_952,
                "model": "claude-sonnet-4-5-20250929",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]
            })
        );
        assert_eq!(
            chunks[1]["choices"][0]["delta"],
            json!({"content": "Hello"})
        );
        assert_eq!(
            chunks[2]["choices"][0]["delta"],
            json!({"content": "! How can I help?"})
        );
        assert_eq!(chunks[3]["choices"][0]["delta"], json!({}));
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));

        assert!(translator.is_complete());
        assert_eq!(
            translator.usage(),
            Usage {
                prompt_tokens: 1049,
                completion_tokens: 15,
                cached_prompt_tokens: 1024,
                cache_creation_tokens: 0,
                reasoning_tokens: 0,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn text_stream_with_usage() {
        let (translator, chunks) = translate(TEXT_STREAM, true);
        assert_eq!(chunks.len(), 5);
        for chunk in &chunks[..4] {
            assert_eq!(chunk["usage"], Value::Null);
            assert!(chunk.get("usage").is_some());
        }
        assert_eq!(
            chunks[4],
            json!({
                "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
                "object": "chat.completion.chunk",
                "created": 1_741_569_952,
                "model": "claude-sonnet-4-5-20250929",
                "choices": [],
                "usage": {
                    "prompt_tokens": 1049,
                    "completion_tokens": 15,
                    "total_tokens": 1064,
                    "prompt_tokens_details": {"cached_tokens": 1024}
                }
            })
        );
        assert!(translator.is_complete());
    }

    /// Thinking, text and two tool calls (arguments split over deltas, and none at all).
    const TOOL_STREAM: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants the weather, I should call get_weather."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Okay, let's check the weather for San Francisco, CA:"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" \"San Fra"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisc"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"o,"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" CA\", \"unit\": \"fah"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"renheit\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_01ABCDEFGHIJKLMNOPQRSTUV","name":"get_time","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"#;

    #[test]
    fn tool_call_stream() {
        let (translator, chunks) = translate(TOOL_STREAM, false);
        let deltas = deltas(&chunks);
        assert_eq!(deltas[0], &json!({"role": "assistant", "content": ""}));
        assert_eq!(
            deltas[1],
            &json!({"reasoning_content": "The user wants the weather, I should call get_weather."})
        );
        assert_eq!(
            deltas[2],
            &json!({"content": "Okay, let's check the weather for San Francisco, CA:"})
        );
        assert_eq!(
            deltas[3],
            &json!({"tool_calls": [{
                "index": 0,
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""}
            }]})
        );

        // What an OpenAI client does: accumulate arguments by tool call index.
        let mut calls: Vec<(String, String, String)> = Vec::new();
        for delta in &deltas {
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().expect("index") as usize;
                if let Some(id) = call["id"].as_str() {
                    assert_eq!(index, calls.len(), "tool indexes count tool blocks only");
                    let name = call["function"]["name"].as_str().expect("name");
                    calls.push((id.to_owned(), name.to_owned(), String::new()));
                }
                let arguments = call["function"]["arguments"].as_str().expect("arguments");
                calls[index].2.push_str(arguments);
            }
        }
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
        assert_eq!(calls[0].1, "get_weather");
        assert_eq!(
            serde_json::from_str::<Value>(&calls[0].2).expect("arguments JSON"),
            json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
        );
        assert_eq!(calls[1].1, "get_time");
        assert_eq!(
            serde_json::from_str::<Value>(&calls[1].2).expect("arguments JSON"),
            json!({})
        );

        let last = chunks.last().expect("chunks");
        assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
        assert!(
            chunks
                .iter()
                .all(|chunk| !chunk.to_string().contains("EqQBCgIY")),
            "signatures are not passed on"
        );
        assert!(translator.is_complete());
        assert_eq!(translator.usage().prompt_tokens, 472);
        assert_eq!(translator.usage().completion_tokens, 89);
    }

    #[test]
    fn cumulative_message_delta_usage_wins() {
        let mut translator = StreamTranslator::new(0, false);
        let recorded = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-haiku-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":2000,"cache_read_input_tokens":0,"output_tokens":1}}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":2000,"cache_read_input_tokens":0,"output_tokens":64}}

"#;
        let mut last = Vec::new();
        for event in events(recorded) {
            last = translator.on_event(&event).expect("translates");
        }
        let finish: Value = serde_json::from_str(&last[0]).expect("JSON");
        assert_eq!(finish["choices"][0]["finish_reason"], "length");
        assert!(!translator.is_complete());
        assert_eq!(
            translator.usage(),
            Usage {
                prompt_tokens: 2012,
                completion_tokens: 64,
                cached_prompt_tokens: 0,
                cache_creation_tokens: 2000,
                reasoning_tokens: 0,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn error_event() {
        let recorded = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","content":[],"model":"claude-opus-4-1","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}

event: error
data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

"#;
        let mut translator = StreamTranslator::new(0, true);
        let events = events(recorded);
        assert_eq!(translator.on_event(&events[0]).expect("start").len(), 1);
        match translator.on_event(&events[1]) {
            Err(DecodeError::Provider { kind, message }) => {
                assert_eq!(kind, "overloaded_error");
                assert_eq!(message, "Overloaded");
            }
            other => panic!("expected a provider error, got {other:?}"),
        }
        assert!(!translator.is_complete());
    }

    #[test]
    fn ignorable_and_invalid_events() {
        let mut translator = StreamTranslator::new(0, false);
        let no_data = Sse {
            event: Some("ping".into()),
            ..Sse::default()
        };
        assert!(translator.on_event(&no_data).expect("no data").is_empty());
        let unknown = Sse {
            event: Some("future_event".into()),
            data: Some(r#"{"type":"future_event","payload":1}"#.into()),
            ..Sse::default()
        };
        assert!(translator.on_event(&unknown).expect("unknown").is_empty());
        let garbage = Sse {
            data: Some("not json".into()),
            ..Sse::default()
        };
        assert!(matches!(
            translator.on_event(&garbage),
            Err(DecodeError::Json(_))
        ));
    }
}
