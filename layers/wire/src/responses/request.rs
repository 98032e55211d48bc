//! A Responses request decoded into the hub chat request.
//!
//! Mapping (what infermux does with each field):
//!
//! | Responses | hub (OpenAI chat) |
//! | --- | --- |
//! | `instructions` | a first `system` message |
//! | `input` string | one `user` message |
//! | `message` items (`developer`/`system`/`user`/`assistant`) | messages (`developer` -> `system`); `input_text`/`output_text` -> text parts, `input_image` -> `image_url` |
//! | `function_call` items | `tool_calls` of an assistant message (consecutive calls grouped) |
//! | `function_call_output` items | `tool` messages |
//! | `reasoning` items | dropped (they only mean something to OpenAI) |
//! | `tools`: `function` | function tools; `namespace` tools flattened to `namespace__name` |
//! | `tools`: `web_search`, `custom`, other server tools; `additional_tools` items' tools likewise | left out (refused when `tool_choice` forces one) |
//! | `tool_choice` `auto` / `none` / `required` / `{type: function, name}` | the same in chat's shape |
//! | `parallel_tool_calls`, `temperature`, `top_p` | the same |
//! | `max_output_tokens` | `max_tokens` |
//! | `text.format` `json_schema` / `json_object` | `response_format` |
//! | `reasoning.effort` | `reasoning_effort` |
//! | `previous_response_id`, `store: true`, `conversation`, `background: true`, `item_reference` | need OpenAI's stored state: recorded as [`DecodedRequest::native_only`] |
//! | `include`, `store: false`, `prompt_cache_key`, `client_metadata`, `metadata`, `reasoning.summary`, `text.verbosity`, `truncation`, `service_tier`, `user`, `safety_identifier` | dropped |

use infermux_core::chat::{
    ChatMessage, ChatRequest, ContentPart, FunctionCall, FunctionDefinition, ImageUrl,
    MessageContent, Tool, ToolCall,
};
use serde_json::{Map, Value, json};

pub use crate::messages::DecodeError;

/// A decoded Responses request: the hub request and what only OpenAI itself can serve.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedRequest {
    /// The hub chat request.
    pub chat: ChatRequest,
    /// The first field that needs OpenAI's stored state or server-side tools; a translated
    /// provider must refuse the request naming it.
    pub native_only: Option<String>,
    /// The `namespace` tools whose functions were flattened to `namespace__function`.
    pub tool_namespaces: Vec<String>,
}

/// The separator of a flattened namespace tool name (`namespace__function`).
pub const NAMESPACE_SEPARATOR: &str = "__";

/// Decodes a Responses request body.
pub fn decode(body: &[u8]) -> Result<DecodedRequest, DecodeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| error(format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(req) = value else {
        return Err(error("the request body must be a JSON object"));
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| error("`model` must name a model; GET /v1/models lists them"))?;
    let mut chat = ChatRequest {
        model: model.to_owned(),
        ..ChatRequest::default()
    };
    let mut native_only = native_field(&req);
    if let Some(instructions) = req
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        chat.messages.push(text_message("system", instructions));
    }
    let mut tools = Vec::new();
    let mut server_tools = Vec::new();
    match req.get("input") {
        Some(Value::String(text)) => chat.messages.push(text_message("user", text)),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                decode_item(i, item, &mut chat.messages, &mut tools, &mut server_tools)?;
                if native_only.is_none()
                    && item.get("type").and_then(Value::as_str) == Some("item_reference")
                {
                    native_only = Some(format!("input[{i}].type: item_reference"));
                }
            }
        }
        _ => return Err(error("`input` must be a string or a list of items")),
    }
    if chat.messages.is_empty() {
        return Err(error("`input` must contain at least one item"));
    }
    if let Some(list) = req.get("tools").and_then(Value::as_array) {
        for tool in list {
            decode_tool(tool, &mut tools, &mut server_tools);
        }
    }
    if let Some(choice) = req.get("tool_choice") {
        match decode_tool_choice(choice, &server_tools)? {
            Choice::Chat(value) if !tools.is_empty() => chat.tool_choice = Some(value),
            Choice::Chat(_) => {}
            Choice::Server(kind) => {
                native_only.get_or_insert(format!("tool_choice: {kind}"));
            }
        }
    }
    if !tools.is_empty() {
        chat.tools = Some(tools);
        if let Some(parallel) = req.get("parallel_tool_calls").and_then(Value::as_bool) {
            chat.extra
                .insert("parallel_tool_calls".to_owned(), Value::Bool(parallel));
        }
    }
    chat.stream = req.get("stream").and_then(Value::as_bool);
    chat.temperature = req.get("temperature").and_then(Value::as_f64);
    chat.top_p = req.get("top_p").and_then(Value::as_f64);
    chat.max_tokens = match req.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| error("`max_output_tokens` must be a positive integer"))?,
        ),
    };
    if let Some(effort) = req
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
        .and_then(reasoning_effort)
    {
        chat.extra
            .insert("reasoning_effort".to_owned(), Value::from(effort));
    }
    chat.response_format = req
        .get("text")
        .and_then(|t| t.get("format"))
        .and_then(response_format);
    let tool_namespaces = namespaces(&req);
    Ok(DecodedRequest {
        chat,
        native_only,
        tool_namespaces,
    })
}

/// The names of the `namespace` tools, in `tools` and in `additional_tools` items.
fn namespaces(req: &Map<String, Value>) -> Vec<String> {
    let items = req
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("additional_tools"))
        .flat_map(|item| {
            item.get("tools")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        });
    req.get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(items)
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("namespace"))
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// `name` split back into its namespace and function when a translation flattened it.
pub fn split_namespace<'a>(name: &'a str, namespaces: &[String]) -> Option<(&'a str, &'a str)> {
    let (namespace, function) = name.split_once(NAMESPACE_SEPARATOR)?;
    namespaces
        .iter()
        .any(|n| n == namespace)
        .then_some((namespace, function))
}

fn error(message: impl Into<String>) -> DecodeError {
    DecodeError::new(message)
}

/// The first top-level field asking for OpenAI's stored state.
fn native_field(req: &Map<String, Value>) -> Option<String> {
    let set = |name: &str| req.get(name).is_some_and(|v| !v.is_null());
    if set("previous_response_id") {
        return Some("previous_response_id".to_owned());
    }
    if req.get("store").and_then(Value::as_bool) == Some(true) {
        return Some("store: true".to_owned());
    }
    if set("conversation") {
        return Some("conversation".to_owned());
    }
    if req.get("background").and_then(Value::as_bool) == Some(true) {
        return Some("background: true".to_owned());
    }
    None
}

/// `reasoning.effort` in chat's words; `none` asks for no reasoning.
fn reasoning_effort(effort: &str) -> Option<&'static str> {
    match effort {
        "minimal" | "low" => Some("low"),
        "medium" => Some("medium"),
        "high" | "xhigh" => Some("high"),
        _ => None,
    }
}

/// `text.format` as chat's `response_format`; plain text needs none.
fn response_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let mut schema = Map::new();
            let name = format
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("output");
            schema.insert("name".to_owned(), Value::from(name));
            for field in ["schema", "strict", "description"] {
                if let Some(v) = format.get(field).filter(|v| !v.is_null()) {
                    schema.insert(field.to_owned(), v.clone());
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        "json_object" => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

fn text_message(role: &str, text: &str) -> ChatMessage {
    ChatMessage {
        role: role.to_owned(),
        content: Some(MessageContent::Text(text.to_owned())),
        ..ChatMessage::default()
    }
}

fn decode_item(
    index: usize,
    item: &Value,
    out: &mut Vec<ChatMessage>,
    tools: &mut Vec<Tool>,
    server_tools: &mut Vec<String>,
) -> Result<(), DecodeError> {
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        None | Some("message") => decode_message(index, item, out),
        Some("function_call") => {
            let field = |name: &str| {
                item.get(name).and_then(Value::as_str).ok_or_else(|| {
                    error(format!(
                        "`input[{index}].{name}` is required for a function_call"
                    ))
                })
            };
            let call_id = field("call_id")?;
            let name = field("name")?;
            let name = match item.get("namespace").and_then(Value::as_str) {
                Some(namespace) => format!("{namespace}{NAMESPACE_SEPARATOR}{name}"),
                None => name.to_owned(),
            };
            let arguments = match item.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "{}".to_owned(),
            };
            let call = ToolCall {
                id: call_id.to_owned(),
                kind: "function".to_owned(),
                function: FunctionCall { name, arguments },
            };
            // Consecutive calls (and the text before them) are one assistant turn.
            match out.last_mut() {
                Some(last) if last.role == "assistant" => {
                    last.tool_calls.get_or_insert_with(Vec::new).push(call);
                }
                _ => out.push(ChatMessage {
                    role: "assistant".to_owned(),
                    tool_calls: Some(vec![call]),
                    ..ChatMessage::default()
                }),
            }
            Ok(())
        }
        Some("function_call_output" | "custom_tool_call_output") => {
            let call_id = item
                .get("call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| error(format!("`input[{index}].call_id` is required")))?;
            let text = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            out.push(ChatMessage {
                role: "tool".to_owned(),
                content: Some(MessageContent::Text(text)),
                tool_call_id: Some(call_id.to_owned()),
                ..ChatMessage::default()
            });
            Ok(())
        }
        Some("additional_tools") => {
            if let Some(list) = item.get("tools").and_then(Value::as_array) {
                for tool in list {
                    decode_tool(tool, tools, server_tools);
                }
            }
            Ok(())
        }
        // Reasoning, server tool calls and references carry nothing another API can use.
        Some(_) => Ok(()),
    }
}

fn decode_message(
    index: usize,
    item: &Value,
    out: &mut Vec<ChatMessage>,
) -> Result<(), DecodeError> {
    let role = match item.get("role").and_then(Value::as_str) {
        Some("developer" | "system") => "system",
        Some("user") => "user",
        Some("assistant") => "assistant",
        _ => {
            return Err(error(format!(
                "`input[{index}].role` must be one of user, assistant, system, developer"
            )));
        }
    };
    let content = match item.get("content") {
        Some(Value::String(text)) => MessageContent::Text(text.clone()),
        Some(Value::Array(parts)) => {
            let parts: Vec<ContentPart> = parts.iter().filter_map(decode_part).collect();
            // Text-only content stays a string: every target takes that.
            if parts.iter().all(|p| p.kind == "text") {
                MessageContent::Text(
                    parts
                        .iter()
                        .filter_map(|p| p.text.as_deref())
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            } else {
                MessageContent::Parts(parts)
            }
        }
        _ => {
            return Err(error(format!(
                "`input[{index}].content` must be a string or a list of parts"
            )));
        }
    };
    out.push(ChatMessage {
        role: role.to_owned(),
        content: Some(content),
        ..ChatMessage::default()
    });
    Ok(())
}

fn decode_part(part: &Value) -> Option<ContentPart> {
    match part.get("type").and_then(Value::as_str)? {
        "input_text" | "output_text" | "text" => Some(ContentPart {
            kind: "text".to_owned(),
            text: Some(part.get("text").and_then(Value::as_str)?.to_owned()),
            ..ContentPart::default()
        }),
        "refusal" => Some(ContentPart {
            kind: "text".to_owned(),
            text: Some(part.get("refusal").and_then(Value::as_str)?.to_owned()),
            ..ContentPart::default()
        }),
        "input_image" => {
            let url = part
                .get("image_url")
                .and_then(|u| u.as_str().or_else(|| u.get("url").and_then(Value::as_str)))?;
            Some(ContentPart {
                kind: "image_url".to_owned(),
                image_url: Some(ImageUrl {
                    url: url.to_owned(),
                    detail: part
                        .get("detail")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }),
                ..ContentPart::default()
            })
        }
        _ => None,
    }
}

/// Adds the function tools of `tool` to `tools`; a server-side tool's type goes to
/// `server_tools` instead (it has no equivalent on another API).
fn decode_tool(tool: &Value, tools: &mut Vec<Tool>, server_tools: &mut Vec<String>) {
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {
            if let Some(t) = function_tool(tool, None) {
                tools.push(t);
            }
        }
        Some("namespace") => {
            let namespace = tool.get("name").and_then(Value::as_str);
            for inner in tool
                .get("tools")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = function_tool(inner, namespace) {
                    tools.push(t);
                }
            }
        }
        Some(kind) => server_tools.push(kind.to_owned()),
        None => {}
    }
}

fn function_tool(tool: &Value, namespace: Option<&str>) -> Option<Tool> {
    let name = tool.get("name").and_then(Value::as_str)?;
    let name = match namespace {
        Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
        None => name.to_owned(),
    };
    let mut extra = Map::new();
    if let Some(strict) = tool.get("strict").filter(|v| v.as_bool() == Some(true)) {
        extra.insert("strict".to_owned(), strict.clone());
    }
    Some(Tool {
        kind: "function".to_owned(),
        function: FunctionDefinition {
            name,
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: tool.get("parameters").filter(|v| !v.is_null()).cloned(),
            extra,
        },
    })
}

enum Choice {
    Chat(Value),
    /// A forced server-side tool, by type.
    Server(String),
}

fn decode_tool_choice(choice: &Value, _server_tools: &[String]) -> Result<Choice, DecodeError> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" | "none" | "required" => Ok(Choice::Chat(choice.clone())),
            other => Err(error(format!(
                "`tool_choice` must be auto, none, required or an object (got `{other}`)"
            ))),
        },
        Value::Object(object) => match object.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = object
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| error("`tool_choice.name` is required"))?;
                Ok(Choice::Chat(
                    json!({"type": "function", "function": {"name": name}}),
                ))
            }
            Some("allowed_tools") => Ok(Choice::Chat(Value::from(
                object.get("mode").and_then(Value::as_str).unwrap_or("auto"),
            ))),
            // Forcing a tool that only OpenAI runs (`web_search`, a custom grammar tool).
            Some(kind) => Ok(Choice::Server(kind.to_owned())),
            None => Err(error("`tool_choice.type` is required")),
        },
        _ => Ok(Choice::Chat(Value::from("auto"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_shaped_request() {
        let body = json!({
            "model": "gpt-6.2-sol", "stream": true, "store": false,
            "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
            "client_metadata": {"a": "b"}, "reasoning": {"summary": "auto", "effort": "medium"},
            "tool_choice": "auto", "parallel_tool_calls": false,
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
                {"type": "message", "role": "user", "id": "m1", "content": [{"type": "input_text", "text": "List files"}]},
                {"type": "reasoning", "summary": [], "encrypted_content": "x"},
                {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}
            ],
            "tools": [
                {"type": "function", "name": "shell", "strict": false, "parameters": {"type": "object"}},
                {"type": "namespace", "name": "mcp", "tools": [{"type": "function", "name": "read", "parameters": {"type": "object"}}]},
                {"type": "web_search"}
            ]
        });
        let decoded = decode(body.to_string().as_bytes()).expect("decodes");
        assert_eq!(decoded.native_only, None);
        assert_eq!(decoded.tool_namespaces, ["mcp"]);
        assert_eq!(
            split_namespace("mcp__read", &decoded.tool_namespaces),
            Some(("mcp", "read"))
        );
        assert_eq!(
            split_namespace("other__read", &decoded.tool_namespaces),
            None
        );
        let chat = decoded.chat;
        let roles: Vec<&str> = chat.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool"]);
        assert_eq!(
            chat.messages[0].content.as_ref().map(MessageContent::text),
            Some("Be brief.".to_owned())
        );
        let calls = chat.messages[2].tool_calls.as_ref().expect("calls");
        assert_eq!(calls[0].id, "call_1");
        assert_eq!(chat.messages[3].tool_call_id.as_deref(), Some("call_1"));
        let names: Vec<&str> = chat
            .tools
            .as_ref()
            .expect("tools")
            .iter()
            .map(|t| t.function.name.as_str())
            .collect();
        assert_eq!(names, ["shell", "mcp__read"]);
        assert_eq!(chat.extra["parallel_tool_calls"], false);
        assert_eq!(chat.extra["reasoning_effort"], "medium");
        assert_eq!(chat.tool_choice, Some(json!("auto")));
        assert!(chat.is_stream());
        for dropped in ["include", "prompt_cache_key", "client_metadata", "store"] {
            assert!(!chat.extra.contains_key(dropped), "{dropped}");
        }
    }

    #[test]
    fn string_input_instructions_limits_and_schema() {
        let body = json!({
            "model": "m", "input": "Hi", "instructions": "Obey.", "max_output_tokens": 50,
            "text": {"format": {"type": "json_schema", "name": "city", "schema": {"type": "object"}, "strict": true}}
        });
        let chat = decode(body.to_string().as_bytes()).expect("decodes").chat;
        assert_eq!(chat.messages.len(), 2);
        assert_eq!(chat.messages[0].role, "system");
        assert_eq!(chat.max_tokens, Some(50));
        let format = chat.response_format.expect("format");
        assert_eq!(format["json_schema"]["name"], "city");
        assert_eq!(format["json_schema"]["strict"], true);
    }

    #[test]
    fn stored_state_is_named() {
        for (field, value, named) in [
            (
                "previous_response_id",
                json!("resp_1"),
                "previous_response_id",
            ),
            ("store", json!(true), "store: true"),
        ] {
            let mut body = json!({"model": "m", "input": "Hi"});
            body[field] = value;
            let decoded = decode(body.to_string().as_bytes()).expect("decodes");
            assert_eq!(decoded.native_only.as_deref(), Some(named));
        }
        let body = json!({"model": "m", "input": "Hi", "tools": [{"type": "web_search"}],
                          "tool_choice": {"type": "web_search"}});
        let decoded = decode(body.to_string().as_bytes()).expect("decodes");
        assert_eq!(
            decoded.native_only.as_deref(),
            Some("tool_choice: web_search")
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        assert!(decode(br#"{"input":"x"}"#).is_err());
        assert!(decode(br#"{"model":"m"}"#).is_err());
        assert!(decode(br#"{"model":"m","input":[{"role":"robot","content":"x"}]}"#).is_err());
    }
}
