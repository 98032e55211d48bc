//! A Messages request decoded into the hub chat request.
//!
//! Mapping (what infermux does with each field):
//!
//! | Messages | hub (OpenAI chat) |
//! | --- | --- |
//! | `system` (string or text blocks) | a first `system` message |
//! | `role: "system"` message mid-conversation | a `system` message at that position |
//! | `text` / `image` / `document` blocks | `text` / `image_url` (data or https URL) / `file` parts |
//! | `tool_use` blocks | `tool_calls` (arguments as a JSON string) |
//! | `tool_result` blocks | `tool` messages before the rest of the user turn (`is_error` prefixes `Error: `) |
//! | `thinking` / `redacted_thinking` blocks | dropped (they only mean something to Anthropic) |
//! | `tools` (`input_schema`) | function tools; `defer_loading: true` and server tools left out |
//! | `tool_choice` `auto` / `any` / `tool` / `none` | `auto` / `required` / named function / `none`; `disable_parallel_tool_use` -> `parallel_tool_calls: false` |
//! | `max_tokens`, `stop_sequences`, `temperature`, `top_p` | `max_tokens`, `stop`, `temperature`, `top_p` |
//! | `thinking` (`enabled` budget, `adaptive`), `output_config.effort` | `reasoning_effort` |
//! | `output_format` / `output_config.format` (`json_schema`) | `response_format` `json_schema` (strict) |
//! | `metadata`, `context_management`, `cache_control`, `top_k`, `service_tier`, `container` | dropped: Anthropic-only |

use std::fmt;

use infermux_core::chat::{
    ChatMessage, ChatRequest, ContentPart, FunctionCall, FunctionDefinition, ImageUrl,
    MessageContent, Stop, Tool, ToolCall,
};
use serde_json::{Map, Value, json};

/// Why a Messages body was refused; the message names the field, as Anthropic's do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A decoded Messages request: the hub request and what the router reads beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedRequest {
    /// The hub chat request.
    pub chat: ChatRequest,
    /// `metadata.user_id`: the client's session (Claude Code puts its session id there), which
    /// virtual models keep on one model. Never sent to a translated provider.
    pub session: Option<String>,
}

/// Decodes a Messages request body. `count_tokens` bodies have no `max_tokens`: pass
/// `require_max_tokens = false` for them.
pub fn decode_request(body: &[u8], require_max_tokens: bool) -> Result<ChatRequest, DecodeError> {
    decode(body, require_max_tokens).map(|decoded| decoded.chat)
}

/// Decodes a Messages request body, with the session it names; see [`decode_request`].
pub fn decode(body: &[u8], require_max_tokens: bool) -> Result<DecodedRequest, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(req) = value else {
        return Err(DecodeError::new("the request body must be a JSON object"));
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| DecodeError::new("model: Field required"))?;
    let max_tokens = match req.get("max_tokens") {
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| DecodeError::new("max_tokens: Input should be a valid integer"))?,
        ),
        None if require_max_tokens => return Err(DecodeError::new("max_tokens: Field required")),
        None => None,
    };
    let Some(Value::Array(messages)) = req.get("messages") else {
        return Err(DecodeError::new("messages: Field required"));
    };
    if messages.is_empty() {
        return Err(DecodeError::new(
            "messages: at least one message is required",
        ));
    }

    let mut chat = ChatRequest {
        model: model.to_owned(),
        max_tokens,
        ..ChatRequest::default()
    };
    if let Some(system) = req.get("system").filter(|v| !v.is_null()) {
        let text = text_of(system, "system")?;
        if !text.is_empty() {
            chat.messages.push(text_message("system", text));
        }
    }
    for (i, message) in messages.iter().enumerate() {
        decode_message(i, message, &mut chat.messages)?;
    }
    chat.stream = req.get("stream").and_then(Value::as_bool);
    chat.temperature = req.get("temperature").and_then(Value::as_f64);
    chat.top_p = req.get("top_p").and_then(Value::as_f64);
    if let Some(stops) = req.get("stop_sequences").and_then(Value::as_array) {
        let stops: Vec<String> = stops
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if !stops.is_empty() {
            chat.stop = Some(Stop::Many(stops));
        }
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        let tools: Vec<Tool> = tools.iter().filter_map(decode_tool).collect();
        if !tools.is_empty() {
            chat.tools = Some(tools);
        }
    }
    if chat.tools.is_some()
        && let Some(choice) = req.get("tool_choice").and_then(Value::as_object)
    {
        chat.tool_choice = decode_tool_choice(choice)?;
        if choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
            == Some(true)
        {
            chat.extra
                .insert("parallel_tool_calls".to_owned(), Value::Bool(false));
        }
    }
    if let Some(effort) = reasoning_effort(&req) {
        chat.extra
            .insert("reasoning_effort".to_owned(), Value::from(effort));
    }
    let output_config = req.get("output_config").and_then(Value::as_object);
    let format = req
        .get("output_format")
        .or_else(|| output_config.and_then(|c| c.get("format")));
    if let Some(format) = format.and_then(Value::as_object)
        && format.get("type").and_then(Value::as_str) == Some("json_schema")
    {
        let schema = format.get("schema").cloned().unwrap_or_else(|| json!({}));
        chat.response_format = Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": true}
        }));
    }
    let session = req
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    Ok(DecodedRequest { chat, session })
}

/// `reasoning_effort` from `output_config.effort`, else from `thinking`.
fn reasoning_effort(req: &Map<String, Value>) -> Option<&'static str> {
    let effort = req
        .get("output_config")
        .and_then(|c| c.get("effort"))
        .and_then(Value::as_str);
    if let Some(effort) = effort {
        return Some(match effort {
            "low" => "low",
            "medium" => "medium",
            _ => "high",
        });
    }
    let thinking = req.get("thinking")?.as_object()?;
    match thinking.get("type").and_then(Value::as_str)? {
        "enabled" => {
            let budget = thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            Some(if budget < 4096 {
                "low"
            } else if budget < 16384 {
                "medium"
            } else {
                "high"
            })
        }
        "adaptive" => Some("medium"),
        _ => None,
    }
}

fn text_message(role: &str, text: String) -> ChatMessage {
    ChatMessage {
        role: role.to_owned(),
        content: Some(MessageContent::Text(text)),
        ..ChatMessage::default()
    }
}

/// The text of a string or of a list of blocks (non-text blocks skipped).
fn text_of(value: &Value, field: &str) -> Result<String, DecodeError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => Ok(blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")),
        _ => Err(DecodeError::new(format!(
            "{field}: Input should be a valid string or list of content blocks"
        ))),
    }
}

fn decode_message(
    index: usize,
    message: &Value,
    out: &mut Vec<ChatMessage>,
) -> Result<(), DecodeError> {
    let role = message.get("role").and_then(Value::as_str).unwrap_or("");
    let content = message.get("content").unwrap_or(&Value::Null);
    match role {
        "system" => {
            let text = text_of(content, &format!("messages.{index}.content"))?;
            out.push(text_message("system", text));
            Ok(())
        }
        "user" => decode_user(index, content, out),
        "assistant" => decode_assistant(index, content, out),
        _ => Err(DecodeError::new(format!(
            "messages.{index}.role: Input should be 'user' or 'assistant'"
        ))),
    }
}

fn blocks(index: usize, content: &Value) -> Result<Vec<&Value>, DecodeError> {
    match content {
        Value::Array(blocks) => Ok(blocks.iter().collect()),
        _ => Err(DecodeError::new(format!(
            "messages.{index}.content: Input should be a valid string or list"
        ))),
    }
}

fn decode_user(
    index: usize,
    content: &Value,
    out: &mut Vec<ChatMessage>,
) -> Result<(), DecodeError> {
    if let Value::String(text) = content {
        out.push(text_message("user", text.clone()));
        return Ok(());
    }
    let mut parts = Vec::new();
    for block in blocks(index, content)? {
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "tool_result" => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        DecodeError::new(format!(
                            "messages.{index}.content: tool_result.tool_use_id: Field required"
                        ))
                    })?;
                let mut text = match block.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(c) => text_of(c, &format!("messages.{index}.content.tool_result"))?,
                };
                if block.get("is_error").and_then(Value::as_bool) == Some(true) {
                    text = format!("Error: {text}");
                }
                out.push(ChatMessage {
                    role: "tool".to_owned(),
                    content: Some(MessageContent::Text(text)),
                    tool_call_id: Some(id.to_owned()),
                    ..ChatMessage::default()
                });
            }
            _ => {
                if let Some(part) = decode_part(block) {
                    parts.push(part);
                }
            }
        }
    }
    if !parts.is_empty() {
        out.push(ChatMessage {
            role: "user".to_owned(),
            content: Some(MessageContent::Parts(parts)),
            ..ChatMessage::default()
        });
    }
    Ok(())
}

/// A text, image or document block as a chat content part.
fn decode_part(block: &Value) -> Option<ContentPart> {
    let kind = block.get("type").and_then(Value::as_str)?;
    match kind {
        "text" => Some(ContentPart {
            kind: "text".to_owned(),
            text: Some(block.get("text")?.as_str()?.to_owned()),
            ..ContentPart::default()
        }),
        "image" => {
            let url = source_url(block.get("source")?)?;
            Some(ContentPart {
                kind: "image_url".to_owned(),
                image_url: Some(ImageUrl { url, detail: None }),
                ..ContentPart::default()
            })
        }
        "document" => {
            let url = source_url(block.get("source")?)?;
            let mut extra = Map::new();
            extra.insert("file".to_owned(), json!({ "file_data": url }));
            Some(ContentPart {
                kind: "file".to_owned(),
                extra,
                ..ContentPart::default()
            })
        }
        _ => None,
    }
}

/// A `base64` source as a data URL, a `url` source as its URL.
fn source_url(source: &Value) -> Option<String> {
    match source.get("type").and_then(Value::as_str)? {
        "base64" => {
            let media = source.get("media_type").and_then(Value::as_str)?;
            let data = source.get("data").and_then(Value::as_str)?;
            Some(format!("data:{media};base64,{data}"))
        }
        "url" => Some(source.get("url")?.as_str()?.to_owned()),
        _ => None,
    }
}

fn decode_assistant(
    index: usize,
    content: &Value,
    out: &mut Vec<ChatMessage>,
) -> Result<(), DecodeError> {
    if let Value::String(text) = content {
        out.push(text_message("assistant", text.clone()));
        return Ok(());
    }
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks(index, content)? {
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            "tool_use" => {
                let field = |name: &str| {
                    block
                        .get(name)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            DecodeError::new(format!(
                                "messages.{index}.content: tool_use.{name}: Field required"
                            ))
                        })
                };
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(ToolCall {
                    id: field("id")?,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: field("name")?,
                        arguments: input.to_string(),
                    },
                });
            }
            _ => {}
        }
    }
    out.push(ChatMessage {
        role: "assistant".to_owned(),
        content: (!text.is_empty() || calls.is_empty()).then_some(MessageContent::Text(text)),
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..ChatMessage::default()
    });
    Ok(())
}

/// A custom tool as a function tool; server tools and deferred tools are left out.
fn decode_tool(tool: &Value) -> Option<Tool> {
    if tool.get("defer_loading").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    if let Some(kind) = tool.get("type").and_then(Value::as_str)
        && kind != "custom"
    {
        return None;
    }
    let name = tool.get("name")?.as_str()?.to_owned();
    let schema = tool
        .get("input_schema")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    Some(Tool {
        kind: "function".to_owned(),
        function: FunctionDefinition {
            name,
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: Some(schema),
            extra: Map::new(),
        },
    })
}

fn decode_tool_choice(choice: &Map<String, Value>) -> Result<Option<Value>, DecodeError> {
    Ok(match choice.get("type").and_then(Value::as_str) {
        Some("auto") | None => None,
        Some("any") => Some(Value::from("required")),
        Some("none") => Some(Value::from("none")),
        Some("tool") => {
            let name = choice
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| DecodeError::new("tool_choice.name: Field required"))?;
            Some(json!({"type": "function", "function": {"name": name}}))
        }
        Some(other) => {
            return Err(DecodeError::new(format!(
                "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none' (got '{other}')"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: Value) -> ChatRequest {
        decode_request(body.to_string().as_bytes(), true).expect("decodes")
    }

    #[test]
    fn claude_code_shaped_request() {
        let chat = decode(json!({
            "model": "claude-opus-5-5",
            "max_tokens": 32000,
            "stream": true,
            "system": [{"type": "text", "text": "You are Claude Code."}, {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": "{\"device\":\"x\"}"},
            "context_management": {"edits": []},
            "thinking": {"type": "adaptive", "display": "omitted"},
            "output_config": {"effort": "high"},
            "tools": [
                {"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
                {"name": "Hidden", "description": "never", "input_schema": {"type": "object"}, "defer_loading": true},
                {"type": "web_search_20250305", "name": "web_search"}
            ],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"}, {"type": "text", "text": "list files"}]},
                {"role": "system", "content": "cwd: /tmp"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "text", "text": "Let me look."}, {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "thanks"}]}
            ]
        }));
        assert_eq!(chat.model, "claude-opus-5-5");
        assert_eq!(chat.max_tokens, Some(32000));
        assert!(chat.is_stream());
        let roles: Vec<&str> = chat.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(
            roles,
            ["system", "user", "system", "assistant", "tool", "user"]
        );
        assert_eq!(
            chat.messages[0].content.as_ref().map(MessageContent::text),
            Some("You are Claude Code.\nBe brief.".to_owned())
        );
        let calls = chat.messages[3].tool_calls.as_ref().expect("tool calls");
        assert_eq!(calls[0].id, "toolu_1");
        assert_eq!(calls[0].function.arguments, r#"{"command":"ls"}"#);
        assert_eq!(chat.messages[4].tool_call_id.as_deref(), Some("toolu_1"));
        let tools = chat.tools.as_ref().expect("tools");
        assert_eq!(tools.len(), 1, "deferred and server tools are left out");
        assert_eq!(chat.extra["reasoning_effort"], "high");
        assert!(!chat.extra.contains_key("metadata"));
        assert!(!chat.extra.contains_key("context_management"));
    }

    #[test]
    fn images_tool_choice_and_structured_output() {
        let chat = decode(json!({
            "model": "m", "max_tokens": 10,
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": true},
            "output_format": {"type": "json_schema", "schema": {"type": "object"}},
            "stop_sequences": ["END"],
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
            ]}]
        }));
        let MessageContent::Parts(parts) = chat.messages[0].content.clone().expect("content")
        else {
            panic!("parts");
        };
        assert_eq!(
            parts[0].image_url.as_ref().map(|i| i.url.as_str()),
            Some("data:image/png;base64,AAAA")
        );
        assert_eq!(
            parts[1].image_url.as_ref().map(|i| i.url.as_str()),
            Some("https://x/y.png")
        );
        assert_eq!(
            chat.tool_choice,
            Some(json!({"type": "function", "function": {"name": "f"}}))
        );
        assert_eq!(chat.extra["parallel_tool_calls"], false);
        assert_eq!(
            chat.response_format.as_ref().map(|f| f["type"].clone()),
            Some(json!("json_schema"))
        );
        assert_eq!(chat.stop, Some(Stop::Many(vec!["END".to_owned()])));
    }

    #[test]
    fn missing_fields_are_named() {
        let err = |body: Value, need_max: bool| {
            decode_request(body.to_string().as_bytes(), need_max)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            err(json!({"max_tokens": 1, "messages": []}), true),
            "model: Field required"
        );
        assert_eq!(
            err(
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
                true
            ),
            "max_tokens: Field required"
        );
        assert!(
            decode_request(
                br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
                false
            )
            .is_ok()
        );
        assert!(err(json!({"model": "m", "max_tokens": 1, "messages": [{"role": "bot", "content": "x"}]}), true).contains("role"));
        assert!(decode_request(b"{nope", true).is_err());
    }
}
