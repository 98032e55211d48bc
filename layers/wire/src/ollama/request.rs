//! OpenAI requests to Ollama request bodies: chat completions to `POST /api/chat`, embeddings
//! to `POST /api/embed`.

use std::borrow::Cow;

use infermux_core::chat::{ChatMessage, ChatRequest, ContentPart, MessageContent, Tool};
use infermux_core::embeddings::EmbeddingsRequest;
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::TranslateError;
use crate::{
    chat_parts::{base64_data_url, is_data_url, tool_arguments},
    embedding::EmbeddingEncoding,
};

/// OpenAI sampling fields that Ollama takes, under the same names, in `options`.
const PASSED_OPTIONS: [&str; 3] = ["seed", "presence_penalty", "frequency_penalty"];

/// The body of `POST /api/chat`.
#[derive(Serialize)]
struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "<[Tool]>::is_empty")]
    tools: &'a [Tool],
    #[serde(skip_serializing_if = "Map::is_empty")]
    options: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Cow<'a, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<&'a Value>,
    /// Whether a thinking model reasons before answering (from `reasoning_effort`).
    #[serde(skip_serializing_if = "Option::is_none")]
    think: Option<bool>,
    /// Token log probabilities, which Ollama reports like OpenAI.
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_logprobs: Option<u64>,
}

/// One message of an Ollama chat.
#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'a str>,
}

/// A tool call of an assistant message, as Ollama takes it back in the history.
#[derive(Serialize)]
struct ToolCall<'a> {
    function: FunctionCall<'a>,
}

/// The function of a tool call: Ollama wants the arguments as a JSON object, not a string.
#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: Map<String, Value>,
}

/// The body of `POST /api/embed`.
#[derive(Serialize)]
struct EmbedBody<'a> {
    model: &'a str,
    input: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<&'a Value>,
}

/// Encodes a chat completion request as the body of Ollama's `POST /api/chat`, for the model
/// `upstream_model`.
pub fn encode_chat(chat: &ChatRequest, upstream_model: &str) -> Result<Vec<u8>, TranslateError> {
    if let Some(n) = chat.extra.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(TranslateError::Choices { n });
    }
    let messages = chat
        .messages
        .iter()
        .enumerate()
        .map(|(index, message)| encode_message(&chat.messages, index, message))
        .collect::<Result<Vec<_>, _>>()?;
    // Ollama has no `tool_choice`; `none` is honoured by not offering the tools at all.
    let tools_off = chat.tool_choice.as_ref().and_then(Value::as_str) == Some("none");
    let tools = match &chat.tools {
        Some(tools) if !tools_off => tools.as_slice(),
        _ => &[],
    };
    let body = ChatBody {
        model: upstream_model,
        messages,
        stream: chat.is_stream(),
        tools,
        options: encode_options(chat),
        format: encode_format(chat.response_format.as_ref())?,
        keep_alive: chat.extra.get("keep_alive").filter(|v| !v.is_null()),
        think: think(chat, upstream_model),
        logprobs: chat.extra.get("logprobs").and_then(Value::as_bool),
        top_logprobs: chat.extra.get("top_logprobs").and_then(Value::as_u64),
    };
    serde_json::to_vec(&body).map_err(TranslateError::Encode)
}

/// Ollama's `think` for the client's `reasoning_effort`, sent only to the model families that
/// think (Ollama refuses `think` for the others): `true` unless the effort is `none`.
fn think(chat: &ChatRequest, model: &str) -> Option<bool> {
    let effort = chat.extra.get("reasoning_effort")?.as_str()?;
    let thinks = [
        "qwen3",
        "deepseek-r1",
        "gpt-oss",
        "magistral",
        "phi4-reasoning",
    ]
    .iter()
    .any(|family| model.starts_with(family));
    thinks.then_some(effort != "none")
}

/// Encodes an embeddings request as the body of Ollama's `POST /api/embed`, for the model
/// `upstream_model`.
pub fn encode_embed(
    req: &EmbeddingsRequest,
    upstream_model: &str,
) -> Result<Vec<u8>, TranslateError> {
    EmbeddingEncoding::of(req)?;
    match &req.input {
        Value::String(_) => {}
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(_) => {}
                    Value::Number(_) | Value::Array(_) => return Err(TranslateError::TokenInput),
                    _ => return Err(TranslateError::Input),
                }
            }
        }
        _ => return Err(TranslateError::Input),
    }
    let body = EmbedBody {
        model: upstream_model,
        input: &req.input,
        dimensions: req.extra.get("dimensions").filter(|v| !v.is_null()),
        keep_alive: req.extra.get("keep_alive").filter(|v| !v.is_null()),
    };
    serde_json::to_vec(&body).map_err(TranslateError::Encode)
}

/// Translates the message at `index` of `history`.
fn encode_message<'a>(
    history: &'a [ChatMessage],
    index: usize,
    message: &'a ChatMessage,
) -> Result<Message<'a>, TranslateError> {
    let role = match message.role.as_str() {
        "system" | "developer" => "system",
        "user" => "user",
        "assistant" => "assistant",
        "tool" | "function" => "tool",
        other => {
            return Err(TranslateError::Role {
                index,
                role: other.to_owned(),
            });
        }
    };
    let (content, images) = encode_content(index, message.content.as_ref())?;
    let tool_calls = match &message.tool_calls {
        Some(calls) if role == "assistant" => calls
            .iter()
            .enumerate()
            .map(|(call, tool_call)| {
                let arguments =
                    tool_arguments(&tool_call.function.arguments).map_err(|problem| {
                        TranslateError::ToolArguments {
                            index,
                            call,
                            problem,
                        }
                    })?;
                Ok(ToolCall {
                    function: FunctionCall {
                        name: &tool_call.function.name,
                        arguments,
                    },
                })
            })
            .collect::<Result<Vec<_>, TranslateError>>()?,
        _ => Vec::new(),
    };
    let tool_name = if role == "tool" {
        let earlier = history.get(..index).unwrap_or_default();
        message
            .tool_call_id
            .as_deref()
            .and_then(|id| called_function(earlier, id))
            .or(message.name.as_deref())
    } else {
        None
    };
    Ok(Message {
        role,
        content,
        images,
        tool_calls,
        tool_name,
    })
}

/// The name of the function that the tool call `id` of the latest assistant message making it
/// called.
fn called_function<'a>(earlier: &'a [ChatMessage], id: &str) -> Option<&'a str> {
    earlier
        .iter()
        .rev()
        .filter_map(|message| message.tool_calls.as_deref())
        .flatten()
        .find(|call| call.id == id)
        .map(|call| call.function.name.as_str())
}

/// The text of a message and its inline images (base64, without the `data:` prefix).
fn encode_content(
    index: usize,
    content: Option<&MessageContent>,
) -> Result<(String, Vec<&str>), TranslateError> {
    match content {
        None => Ok((String::new(), Vec::new())),
        Some(MessageContent::Text(text)) => Ok((text.clone(), Vec::new())),
        Some(MessageContent::Parts(parts)) => {
            let mut text = String::new();
            let mut images = Vec::new();
            for (part, content_part) in parts.iter().enumerate() {
                match content_part.kind.as_str() {
                    "text" => text.push_str(content_part.text.as_deref().unwrap_or_default()),
                    "refusal" => text.push_str(
                        content_part
                            .extra
                            .get("refusal")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ),
                    "image_url" => images.push(inline_image(index, part, content_part)?),
                    other => {
                        return Err(TranslateError::ContentPart {
                            index,
                            part,
                            kind: other.to_owned(),
                        });
                    }
                }
            }
            Ok((text, images))
        }
    }
}

/// The base64 payload of an `image_url` part given as a `data:<mime>;base64,<data>` URL.
fn inline_image(
    index: usize,
    part: usize,
    content_part: &ContentPart,
) -> Result<&str, TranslateError> {
    let url = content_part
        .image_url
        .as_ref()
        .ok_or(TranslateError::MissingImage { index, part })?
        .url
        .as_str();
    if !is_data_url(url) {
        return Err(TranslateError::RemoteImage { index, part });
    }
    let (_, data) = base64_data_url(url).ok_or(TranslateError::ImageEncoding { index, part })?;
    Ok(data)
}

/// Ollama's `options`: sampling parameters and the output limit.
fn encode_options(chat: &ChatRequest) -> Map<String, Value> {
    let mut options = Map::new();
    if let Some(temperature) = chat.temperature {
        options.insert("temperature".into(), temperature.into());
    }
    if let Some(top_p) = chat.top_p {
        options.insert("top_p".into(), top_p.into());
    }
    if let Some(stop) = &chat.stop {
        let stop = stop.to_vec();
        if !stop.is_empty() {
            options.insert("stop".into(), stop.into());
        }
    }
    if let Some(limit) = chat.output_limit() {
        options.insert("num_predict".into(), limit.into());
    }
    for name in PASSED_OPTIONS {
        if let Some(value) = chat.extra.get(name).filter(|v| !v.is_null()) {
            options.insert(name.into(), value.clone());
        }
    }
    options
}

/// Ollama's `format`: `"json"` for a JSON object, the schema itself for a JSON schema.
fn encode_format(
    response_format: Option<&Value>,
) -> Result<Option<Cow<'_, Value>>, TranslateError> {
    let Some(response_format) = response_format.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match response_format.get("type").and_then(Value::as_str) {
        None | Some("text") => Ok(None),
        Some("json_object") => Ok(Some(Cow::Owned(Value::String("json".into())))),
        Some("json_schema") => response_format
            .pointer("/json_schema/schema")
            .filter(|schema| schema.is_object())
            .map(|schema| Some(Cow::Borrowed(schema)))
            .ok_or(TranslateError::MissingSchema),
        Some(other) => Err(TranslateError::ResponseFormat {
            kind: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chat(value: Value) -> ChatRequest {
        serde_json::from_value(value).expect("a valid chat request")
    }

    fn encode(value: Value) -> Value {
        let body = encode_chat(&chat(value), "llama3.2:3b").expect("encodes");
        serde_json::from_slice(&body).expect("JSON body")
    }

    fn encode_err(value: Value) -> String {
        encode_chat(&chat(value), "llama3.2:3b")
            .expect_err("must fail")
            .to_string()
    }

    #[test]
    fn reasoning_effort_makes_thinking_models_think() {
        let request = json!({"model": "m", "reasoning_effort": "high", "logprobs": true,
            "messages": [{"role": "user", "content": "hi"}]});
        let body: Value = serde_json::from_slice(
            &encode_chat(&chat(request.clone()), "qwen3:8b").expect("encodes"),
        )
        .expect("json");
        assert_eq!(body["think"], true);
        assert_eq!(body["logprobs"], true);
        assert!(
            encode(request).get("think").is_none(),
            "llama does not think"
        );
    }

    fn embed(value: Value) -> Result<Value, TranslateError> {
        let req: EmbeddingsRequest = serde_json::from_value(value).expect("a valid request");
        let body = encode_embed(&req, "nomic-embed-text")?;
        Ok(serde_json::from_slice(&body).expect("JSON body"))
    }

    #[test]
    fn plain_chat_sends_upstream_model_and_explicit_non_stream() {
        let body = encode(json!({
            "model": "local",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Why is the sky blue?"}
            ]
        }));
        assert_eq!(
            body,
            json!({
                "model": "llama3.2:3b",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Why is the sky blue?"}
                ],
                "stream": false
            })
        );
    }

    #[test]
    fn stream_flag_is_carried() {
        let body = encode(json!({
            "model": "local",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]
        }));
        assert_eq!(body["stream"], json!(true));
        assert!(body.get("stream_options").is_none());
    }

    #[test]
    fn sampling_fields_map_to_options() {
        let body = encode(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "max_tokens": 64,
            "seed": 42,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.25,
            "keep_alive": "10m",
            "user": "someone"
        }));
        assert_eq!(
            body["options"],
            json!({
                "temperature": 0.2,
                "top_p": 0.9,
                "stop": ["END"],
                "num_predict": 64,
                "seed": 42,
                "presence_penalty": 0.5,
                "frequency_penalty": 0.25
            })
        );
        assert_eq!(body["keep_alive"], json!("10m"));
        assert!(body.get("user").is_none());
        assert!(body.get("format").is_none());
    }

    #[test]
    fn max_completion_tokens_wins_and_stop_lists_stay_lists() {
        let body = encode(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 64,
            "max_completion_tokens": 128,
            "stop": ["a", "b"]
        }));
        assert_eq!(
            body["options"],
            json!({"num_predict": 128, "stop": ["a", "b"]})
        );
    }

    #[test]
    fn json_object_becomes_json_format() {
        let body = encode(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}
        }));
        assert_eq!(body["format"], json!("json"));
    }

    #[test]
    fn json_schema_becomes_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        });
        let body = encode(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "place", "strict": true, "schema": schema}
            }
        }));
        assert_eq!(body["format"], schema);
    }

    #[test]
    fn text_format_sends_no_format() {
        let body = encode(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "text"}
        }));
        assert!(body.get("format").is_none());
    }

    #[test]
    fn bad_response_formats_are_refused() {
        let missing = encode_err(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}
        }));
        assert_eq!(
            missing,
            "response_format.json_schema.schema is required for json_schema"
        );
        let unknown = encode_err(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "grammar"}
        }));
        assert_eq!(unknown, "response_format.type `grammar` is not supported");
    }

    #[test]
    fn inline_images_become_base64_images_and_texts_join() {
        let body = encode(json!({
            "model": "local",
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in "},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "text", "text": "these images?"},
                    {"type": "image_url", "image_url": {"url": "DATA:image/jpeg;BASE64,/9j/4AAQ", "detail": "low"}}
                ]
            }]
        }));
        assert_eq!(
            body["messages"],
            json!([{
                "role": "user",
                "content": "What is in these images?",
                "images": ["iVBORw0KGgo=", "/9j/4AAQ"]
            }])
        );
    }

    #[test]
    fn remote_images_are_refused() {
        let message = encode_err(json!({
            "model": "local",
            "messages": [
                {"role": "system", "content": "x"},
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
                ]}
            ]
        }));
        assert_eq!(
            message,
            "messages[1].content[1].image_url.url: ollama accepts only inline base64 images (data: URLs)"
        );
    }

    #[test]
    fn data_urls_must_be_base64() {
        let message = encode_err(json!({
            "model": "local",
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}
            ]}]
        }));
        assert_eq!(
            message,
            "messages[0].content[0].image_url.url: the data url is not base64-encoded"
        );
    }

    #[test]
    fn unsupported_parts_are_refused() {
        let message = encode_err(json!({
            "model": "local",
            "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
            ]}]
        }));
        assert_eq!(
            message,
            "messages[0].content[0].type `input_audio` is not supported by ollama"
        );
    }

    #[test]
    fn tools_and_tool_history_translate() {
        let tools = json!([{
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"]
                }
            }
        }]);
        let body = encode(json!({
            "model": "local",
            "messages": [
                {"role": "developer", "content": "Use tools."},
                {"role": "user", "content": "Weather in Paris and Oslo?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
                {"role": "tool", "tool_call_id": "call_a", "content": [{"type": "text", "text": "18°C"}]},
                {"role": "tool", "tool_call_id": "unknown", "content": "?"}
            ],
            "tools": tools
        }));
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "Use tools."},
                {"role": "user", "content": "Weather in Paris and Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "get_time", "arguments": {}}}
                ]},
                {"role": "tool", "content": "12:00", "tool_name": "get_time"},
                {"role": "tool", "content": "18°C", "tool_name": "get_weather"},
                {"role": "tool", "content": "?"}
            ])
        );
        assert_eq!(body["tools"], tools);
    }

    #[test]
    fn tool_choice_none_withholds_the_tools() {
        let body = encode(json!({
            "model": "local",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "none"
        }));
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn tool_arguments_must_be_a_json_object() {
        let request = |arguments: &str| {
            json!({
                "model": "local",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
                    ]}
                ]
            })
        };
        assert_eq!(
            encode_err(request("[1]")),
            "messages[1].tool_calls[0].function.arguments is not a JSON object"
        );
        assert_eq!(
            encode_err(request("{oops")),
            "messages[1].tool_calls[0].function.arguments is not valid JSON"
        );
    }

    #[test]
    fn unknown_roles_and_several_choices_are_refused() {
        assert_eq!(
            encode_err(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})),
            "messages[0].role `robot` is not supported"
        );
        assert_eq!(
            encode_err(
                json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]})
            ),
            "n = 2 is not supported by ollama models, which return exactly one choice"
        );
    }

    #[test]
    fn embed_takes_a_string_or_strings_and_dimensions() {
        let one = embed(json!({"model": "e", "input": "hello"})).expect("encodes");
        assert_eq!(one, json!({"model": "nomic-embed-text", "input": "hello"}));
        let many = embed(json!({
            "model": "e",
            "input": ["a", "b"],
            "dimensions": 256,
            "encoding_format": "float",
            "user": "u"
        }))
        .expect("encodes");
        assert_eq!(
            many,
            json!({"model": "nomic-embed-text", "input": ["a", "b"], "dimensions": 256})
        );
    }

    #[test]
    fn embed_refuses_token_arrays_and_other_inputs() {
        let tokens = embed(json!({"model": "e", "input": [1, 2, 3]})).expect_err("tokens");
        assert_eq!(
            tokens.to_string(),
            "input: ollama accepts only text input, not token arrays"
        );
        let nested = embed(json!({"model": "e", "input": [[1, 2], [3]]})).expect_err("tokens");
        assert!(matches!(nested, TranslateError::TokenInput));
        let object = embed(json!({"model": "e", "input": {"text": "x"}})).expect_err("object");
        assert_eq!(
            object.to_string(),
            "input must be a string or a list of strings"
        );
    }

    #[test]
    fn an_unknown_embedding_encoding_is_refused() {
        let refused = embed(json!({"model": "e", "input": "x", "encoding_format": "int8"}));
        assert!(matches!(refused, Err(TranslateError::EncodingFormat(_))));
    }
}
