//! OpenAI's legacy function calling (`functions`, `function_call`, `role: "function"`) as tools,
//! for providers that only know tools (Anthropic, Ollama). OpenAI itself still takes the legacy
//! fields and is sent them as they are.

use infermux_core::chat::{ChatRequest, FunctionCall, FunctionDefinition, Tool, ToolCall};
use serde_json::{Value, json};

/// `chat` with its legacy function calling rewritten as tools, or `None` when it uses none.
///
/// `functions` become function tools (unless `tools` is set), `function_call` becomes
/// `tool_choice` (`"none"`, `"auto"`, or the named function), an assistant `function_call`
/// becomes a tool call with a made-up id (`call_<name>_<message index>`), and each
/// `role: "function"` message becomes a `tool` message answering the latest such call of its
/// name.
pub fn as_tools(chat: &ChatRequest) -> Option<ChatRequest> {
    let legacy = chat.extra.contains_key("functions")
        || chat.extra.contains_key("function_call")
        || chat
            .messages
            .iter()
            .any(|m| m.role == "function" || m.extra.contains_key("function_call"));
    if !legacy {
        return None;
    }
    let mut chat = chat.clone();
    let functions = chat.extra.remove("functions");
    let choice = chat.extra.remove("function_call");
    if chat.tools.is_none()
        && let Some(Value::Array(functions)) = functions
    {
        let tools: Vec<Tool> = functions
            .into_iter()
            .filter_map(|f| serde_json::from_value::<FunctionDefinition>(f).ok())
            .map(|function| Tool {
                kind: "function".to_owned(),
                function,
            })
            .collect();
        chat.tools = Some(tools);
    }
    if chat.tool_choice.is_none() {
        chat.tool_choice = match choice {
            Some(Value::String(s)) => Some(Value::String(s)),
            Some(Value::Object(o)) => o
                .get("name")
                .map(|name| json!({"type": "function", "function": {"name": name}})),
            _ => None,
        };
    }
    let mut calls: Vec<(String, String)> = Vec::new();
    for (index, message) in chat.messages.iter_mut().enumerate() {
        if let Some(call) = message.extra.remove("function_call") {
            let name = call.get("name").and_then(Value::as_str).unwrap_or("");
            let id = format!("call_{name}_{index}");
            let arguments = call
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}")
                .to_owned();
            calls.push((name.to_owned(), id.clone()));
            message
                .tool_calls
                .get_or_insert_with(Vec::new)
                .push(ToolCall {
                    id,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: name.to_owned(),
                        arguments,
                    },
                });
        }
        if message.role == "function" {
            let name = message.name.take().unwrap_or_default();
            let id = calls
                .iter()
                .rev()
                .find(|(n, _)| *n == name)
                .map_or_else(|| format!("call_{name}"), |(_, id)| id.clone());
            message.role = "tool".to_owned();
            message.tool_call_id = Some(id);
        }
    }
    Some(chat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_become_tools_and_function_messages_tool_results() {
        let chat: ChatRequest = serde_json::from_value(json!({
            "model": "m",
            "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
            "function_call": {"name": "get_weather"},
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
                {"role": "function", "name": "get_weather", "content": "sunny"}
            ]
        }))
        .expect("chat");
        let tools = as_tools(&chat).expect("legacy");
        assert_eq!(tools.tools.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            tools.tool_choice,
            Some(json!({"type": "function", "function": {"name": "get_weather"}}))
        );
        let call = &tools.messages[1].tool_calls.as_ref().expect("calls")[0];
        assert_eq!(call.id, "call_get_weather_1");
        assert_eq!(tools.messages[2].role, "tool");
        assert_eq!(
            tools.messages[2].tool_call_id.as_deref(),
            Some("call_get_weather_1")
        );
        assert!(!tools.extra.contains_key("functions"));
        let plain: ChatRequest = serde_json::from_value(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .expect("chat");
        assert!(as_tools(&plain).is_none());
    }
}
