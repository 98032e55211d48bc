//! OpenAI chat completion request -> Anthropic Messages request body.

use infermux_core::chat::{ChatMessage, ChatRequest, ContentPart, MessageContent, Tool};
use serde_json::{Map, Value, json};

use super::TranslateError;
use crate::chat_parts::{base64_data_url, tool_arguments};

/// `max_tokens` sent when the client set no output limit: Anthropic requires one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Anthropic's highest sampling temperature (OpenAI's is 2).
const MAX_TEMPERATURE: f64 = 1.0;

/// What Anthropic receives for an empty OpenAI function `parameters`.
fn empty_input_schema() -> Value {
    json!({"type": "object", "properties": {}})
}

/// The system instruction appended for `response_format: {"type": "json_object"}`.
const JSON_OBJECT_INSTRUCTION: &str = "Respond only with a single valid JSON object. Do not \
     write anything before or after it, and do not wrap it in Markdown code fences.";

/// Encodes `chat` as the JSON body of Anthropic's `POST /v1/messages`, for `upstream_model`.
///
/// * `system` and `developer` messages, wherever they appear, are hoisted into the top-level
///   `system` prompt, joined with a blank line (the parts of one message are concatenated).
/// * `user` and `assistant` messages become `messages` with content blocks; consecutive
///   messages of one role are merged, as Anthropic requires the roles to alternate. Text parts
///   become `text` blocks (blank ones are dropped: Anthropic rejects them, and a message left
///   with no block is dropped), `image_url` parts `image` blocks (`base64` source for
///   `data:<mime>;base64,..` URLs, `url` source for `http(s)` URLs), `file` parts carrying a
///   base64 PDF in `file_data` `document` blocks, and assistant `refusal` parts `text` blocks.
///   A `cache_control` field on a content part (or on a message, for its last block) is passed
///   through, so clients can use Anthropic's prompt caching.
/// * Assistant `tool_calls` become `tool_use` blocks whose `input` is the parsed `arguments`
///   (empty arguments mean `{}`); `tool` messages become `tool_result` blocks of a `user`
///   message, merged with adjacent tool results and user messages, tool results first as
///   Anthropic requires.
/// * `max_tokens` is `max_completion_tokens`, else `max_tokens`, clamped to `max_output` (the
///   model's output maximum, when known); without a client limit it is `max_output`, else 4096.
/// * `temperature`: OpenAI accepts 0..=2, Anthropic 0..=1. Values are clamped into 0..=1 rather
///   than rescaled, so the common values up to 1 keep their exact meaning and anything hotter
///   becomes Anthropic's most random setting.
/// * `top_p`, `stop` (one string or a list) -> `stop_sequences`, `stream`, and `user` (or its
///   successor `safety_identifier`) -> `metadata.user_id` are carried over.
/// * `reasoning_effort` -> `thinking` with a token budget, on models that think (see
///   `thinking`); `temperature` and `top_p` are then left out, as Anthropic requires.
/// * `tools` -> `[{name, description, input_schema}]`; `tool_choice` `auto`/`required`/`none`/
///   named function -> `auto`/`any`/`none`/`tool`; `parallel_tool_calls: false` ->
///   `disable_parallel_tool_use: true`. Without tools, `tool_choice` is validated but not sent.
/// * `response_format`: Anthropic has no JSON mode on every model, so `json_object` appends an
///   instruction to answer with a single JSON object only to `system`, and `json_schema` one to
///   answer with JSON conforming to the given schema (name, description and schema included).
///   The model is asked, not forced: the answer is not validated.
///
/// `n` > 1 is refused ([`TranslateError::Choices`]): Anthropic returns one choice. Fields with
/// no Anthropic equivalent are dropped silently: `frequency_penalty`, `presence_penalty`,
/// `logit_bias`, `top_logprobs` (without `logprobs`), `seed`, `service_tier`, `store`, `metadata`,
/// `modalities`, `audio`, `prediction`, `verbosity`,
/// `web_search_options`, `prompt_cache_key`, `stream_options` (Anthropic always reports usage),
/// message `name`s and image `detail`.
pub fn encode_request(
    chat: &ChatRequest,
    upstream_model: &str,
    max_output: Option<u64>,
) -> Result<Vec<u8>, TranslateError> {
    if let Some(n) = chat.extra.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(TranslateError::Choices { n });
    }
    if chat.extra.get("logprobs").and_then(Value::as_bool) == Some(true) {
        return Err(TranslateError::Logprobs);
    }

    let mut system = System::default();
    let mut turns = Turns::default();
    for (index, message) in chat.messages.iter().enumerate() {
        match message.role.as_str() {
            "system" | "developer" => system.push_message(message),
            "user" => turns.push(USER, user_blocks(index, message)?),
            "assistant" => turns.push(ASSISTANT, assistant_blocks(index, message)?),
            "tool" => turns.push(USER, vec![tool_result(index, message)?]),
            role => {
                return Err(TranslateError::Role {
                    index,
                    role: role.to_owned(),
                });
            }
        }
    }
    let native_schema = native_output_schema(chat, upstream_model);
    if native_schema.is_none()
        && let Some(instruction) = response_format_instruction(chat.response_format.as_ref())?
    {
        system.push(instruction, None);
    }
    let messages = turns.into_values();
    if messages.is_empty() {
        return Err(TranslateError::NoMessages);
    }

    let mut body = Map::new();
    body.insert("model".into(), upstream_model.into());
    let max_tokens = crate::limits::output_limit(chat.output_limit(), max_output, None)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), max_tokens.into());
    let thinking = thinking(chat, upstream_model, max_tokens);
    if let Some(thinking) = &thinking {
        body.insert("thinking".into(), thinking.clone());
    }
    if let Some(schema) = native_schema {
        body.insert(
            "output_format".into(),
            json!({"type": "json_schema", "schema": schema}),
        );
    }
    if let Some(system) = system.into_value() {
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), Value::Array(messages));
    // With thinking on, Anthropic takes no sampling parameters but the defaults.
    if let Some(temperature) = chat.temperature.filter(|_| thinking.is_none()) {
        body.insert(
            "temperature".into(),
            temperature.clamp(0.0, MAX_TEMPERATURE).into(),
        );
    }
    if let Some(top_p) = chat.top_p.filter(|_| thinking.is_none()) {
        body.insert("top_p".into(), top_p.into());
    }
    if let Some(stop) = &chat.stop {
        let sequences: Vec<String> = stop
            .to_vec()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if !sequences.is_empty() {
            body.insert("stop_sequences".into(), sequences.into());
        }
    }
    if chat.is_stream() {
        body.insert("stream".into(), true.into());
    }
    if let Some(user) = ["user", "safety_identifier"]
        .iter()
        .filter_map(|key| chat.extra.get(*key).and_then(Value::as_str))
        .find(|user| !user.is_empty())
    {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    let tool_choice = encode_tool_choice(
        chat.tool_choice.as_ref(),
        chat.extra
            .get("parallel_tool_calls")
            .and_then(Value::as_bool),
    )?;
    if let Some(tools) = chat.tools.as_deref().filter(|tools| !tools.is_empty()) {
        body.insert("tools".into(), Value::Array(encode_tools(tools)?));
        if let Some(tool_choice) = tool_choice {
            body.insert("tool_choice".into(), tool_choice);
        }
    }

    serde_json::to_vec(&Value::Object(body)).map_err(TranslateError::Encode)
}

/// Anthropic's role of user turns (tool results included).
const USER: &str = "user";
/// Anthropic's role of model turns.
const ASSISTANT: &str = "assistant";

/// The top-level system prompt, gathered from every system and developer message.
#[derive(Default)]
struct System {
    /// One text per message (parts concatenated), with the `cache_control` asked for it.
    texts: Vec<(String, Option<Value>)>,
}

impl System {
    /// Adds a system or developer message.
    fn push_message(&mut self, message: &ChatMessage) {
        let Some(content) = &message.content else {
            return;
        };
        let part_cache = match content {
            MessageContent::Text(_) => None,
            MessageContent::Parts(parts) => parts
                .iter()
                .rev()
                .find_map(|part| part.extra.get("cache_control")),
        };
        let cache_control = part_cache.or_else(|| message.extra.get("cache_control"));
        self.push(content.text(), cache_control.cloned());
    }

    /// Adds one text, unless it is blank.
    fn push(&mut self, text: String, cache_control: Option<Value>) {
        if !text.trim().is_empty() {
            self.texts.push((text, cache_control));
        }
    }

    /// The `system` field: one string, or text blocks when some text asks for caching.
    fn into_value(self) -> Option<Value> {
        if self.texts.is_empty() {
            None
        } else if self.texts.iter().all(|(_, cache)| cache.is_none()) {
            let texts: Vec<String> = self.texts.into_iter().map(|(text, _)| text).collect();
            Some(texts.join("\n\n").into())
        } else {
            let blocks = self
                .texts
                .into_iter()
                .map(|(text, cache_control)| with_cache_control(text_block(text), cache_control))
                .collect();
            Some(Value::Array(blocks))
        }
    }
}

/// The alternating user/assistant turns of the conversation.
#[derive(Default)]
struct Turns {
    /// Role and content blocks of each turn.
    turns: Vec<(&'static str, Vec<Value>)>,
}

impl Turns {
    /// Appends a message's blocks, merging them into the previous turn when it has the same
    /// role; a message with no block is skipped.
    fn push(&mut self, role: &'static str, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => self.turns.push((role, blocks)),
        }
    }

    /// The `messages` field. In user turns the tool results come first, as Anthropic requires.
    fn into_values(self) -> Vec<Value> {
        self.turns
            .into_iter()
            .map(|(role, mut content)| {
                if role == USER {
                    content.sort_by_key(|block| block["type"] != "tool_result");
                }
                json!({"role": role, "content": content})
            })
            .collect()
    }
}

/// A `text` content block.
/// Anthropic's `thinking` for the client's `reasoning_effort`, on models that think (Claude 3.7
/// and later): a budget of 2048 (`low`, `minimal`), 8192 (`medium`) or 24576 (`high`) tokens,
/// below `max_tokens` as Anthropic requires and at least its minimum of 1024; none when
/// `max_tokens` leaves no room for that.
fn thinking(chat: &ChatRequest, model: &str, max_tokens: u64) -> Option<Value> {
    let effort = chat.extra.get("reasoning_effort")?.as_str()?;
    let thinks = model.starts_with("claude-")
        && (!model.starts_with("claude-3-") || model.starts_with("claude-3-7"));
    let budget: u64 = match effort {
        "minimal" | "low" => 2048,
        "medium" => 8192,
        "high" => 24576,
        _ => return None,
    };
    let budget = budget.min(max_tokens.saturating_sub(1));
    (thinks && budget >= 1024).then(|| json!({"type": "enabled", "budget_tokens": budget}))
}

fn text_block(text: String) -> Value {
    json!({"type": "text", "text": text})
}

/// `block` with `cache_control` set, when there is one.
fn with_cache_control(mut block: Value, cache_control: Option<Value>) -> Value {
    if let (Some(cache_control), Some(block)) = (cache_control, block.as_object_mut()) {
        block.insert("cache_control".into(), cache_control);
    }
    block
}

/// Sets a message-level `cache_control` on the message's last block.
fn apply_message_cache_control(message: &ChatMessage, blocks: &mut [Value]) {
    if let (Some(cache_control), Some(last)) =
        (message.extra.get("cache_control"), blocks.last_mut())
        && let Some(last) = last.as_object_mut()
    {
        last.entry("cache_control")
            .or_insert_with(|| cache_control.clone());
    }
}

/// The content blocks of a user message.
fn user_blocks(index: usize, message: &ChatMessage) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = content_blocks(index, message)?;
    apply_message_cache_control(message, &mut blocks);
    Ok(blocks)
}

/// The content blocks of a message's `content`.
fn content_blocks(index: usize, message: &ChatMessage) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = Vec::new();
    match &message.content {
        Some(MessageContent::Text(text)) if !text.trim().is_empty() => {
            blocks.push(text_block(text.clone()));
        }
        None | Some(MessageContent::Text(_)) => {}
        Some(MessageContent::Parts(parts)) => {
            for (part_index, part) in parts.iter().enumerate() {
                if let Some(block) = part_block(index, part_index, part)? {
                    let cache_control = part.extra.get("cache_control").cloned();
                    blocks.push(with_cache_control(block, cache_control));
                }
            }
        }
    }
    Ok(blocks)
}

/// The content block of one content part; `None` for a blank text.
fn part_block(
    index: usize,
    part_index: usize,
    part: &ContentPart,
) -> Result<Option<Value>, TranslateError> {
    let text = match part.kind.as_str() {
        "text" => part.text.as_deref(),
        "refusal" => part.extra.get("refusal").and_then(Value::as_str),
        "image_url" => {
            let source = part
                .image_url
                .as_ref()
                .and_then(|image| image_source(&image.url))
                .ok_or(TranslateError::ImageUrl {
                    index,
                    part: part_index,
                })?;
            return Ok(Some(json!({"type": "image", "source": source})));
        }
        "file" => {
            let source = part
                .extra
                .get("file")
                .and_then(|file| file.get("file_data"))
                .and_then(Value::as_str)
                .and_then(base64_data_url)
                .filter(|(media_type, _)| *media_type == "application/pdf")
                .ok_or(TranslateError::File {
                    index,
                    part: part_index,
                })?;
            return Ok(Some(json!({
                "type": "document",
                "source": {"type": "base64", "media_type": source.0, "data": source.1},
            })));
        }
        kind => {
            return Err(TranslateError::ContentPart {
                index,
                part: part_index,
                kind: kind.to_owned(),
            });
        }
    };
    Ok(text
        .filter(|text| !text.trim().is_empty())
        .map(|text| text_block(text.to_owned())))
}

/// The Anthropic image `source` of an OpenAI image URL.
fn image_source(url: &str) -> Option<Value> {
    if let Some((media_type, data)) = base64_data_url(url) {
        // Anthropic knows `image/jpeg` only; clients write `image/jpg` too.
        let media_type = if media_type.eq_ignore_ascii_case("image/jpg") {
            "image/jpeg"
        } else {
            media_type
        };
        return Some(json!({"type": "base64", "media_type": media_type, "data": data}));
    }
    let scheme = url.split_once("://")?.0;
    (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
        .then(|| json!({"type": "url", "url": url}))
}

/// The content blocks of an assistant message: its text, then one `tool_use` per tool call.
fn assistant_blocks(index: usize, message: &ChatMessage) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = content_blocks(index, message)?;
    for (call, tool_call) in message.tool_calls.iter().flatten().enumerate() {
        let input = tool_arguments(&tool_call.function.arguments).map_err(|problem| {
            TranslateError::ToolArguments {
                index,
                call,
                problem,
            }
        })?;
        blocks.push(json!({
            "type": "tool_use",
            "id": crate::messages::tool_use_id(&tool_call.id),
            "name": tool_call.function.name,
            "input": input,
        }));
    }
    apply_message_cache_control(message, &mut blocks);
    Ok(blocks)
}

/// The `tool_result` block of a `tool` message.
fn tool_result(index: usize, message: &ChatMessage) -> Result<Value, TranslateError> {
    let tool_use_id = message
        .tool_call_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or(TranslateError::ToolCallId { index })?;
    // Rewritten exactly as the call's id was, so that they still match.
    let tool_use_id = crate::messages::tool_use_id(tool_use_id);
    let mut block = json!({"type": "tool_result", "tool_use_id": tool_use_id});
    let content = message.content.as_ref().map(MessageContent::text);
    if let (Some(content), Some(fields)) = (content, block.as_object_mut())
        && !content.is_empty()
    {
        fields.insert("content".into(), content.into());
    }
    let mut blocks = [block];
    apply_message_cache_control(message, &mut blocks);
    let [block] = blocks;
    Ok(block)
}

/// Anthropic `tools` from OpenAI function tools.
fn encode_tools(tools: &[Tool]) -> Result<Vec<Value>, TranslateError> {
    tools
        .iter()
        .enumerate()
        .map(|(index, tool)| {
            if tool.kind != "function" {
                return Err(TranslateError::ToolType {
                    index,
                    kind: tool.kind.clone(),
                });
            }
            let function = &tool.function;
            let mut encoded = Map::new();
            encoded.insert("name".into(), function.name.clone().into());
            if let Some(description) = function.description.as_deref().filter(|d| !d.is_empty()) {
                encoded.insert("description".into(), description.into());
            }
            let schema = function
                .parameters
                .clone()
                .filter(|schema| !schema.is_null())
                .unwrap_or_else(empty_input_schema);
            encoded.insert("input_schema".into(), schema);
            Ok(Value::Object(encoded))
        })
        .collect()
}

/// Anthropic's `tool_choice` for OpenAI's `tool_choice` and `parallel_tool_calls`.
fn encode_tool_choice(
    choice: Option<&Value>,
    parallel_tool_calls: Option<bool>,
) -> Result<Option<Value>, TranslateError> {
    let unsupported = |value: &Value| TranslateError::ToolChoice {
        value: value.to_string(),
    };
    let mut encoded = match choice {
        None | Some(Value::Null) => None,
        Some(value @ Value::String(choice)) => Some(match choice.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            _ => return Err(unsupported(value)),
        }),
        Some(value) => {
            let name = (value.get("type").and_then(Value::as_str) == Some("function"))
                .then(|| value.pointer("/function/name").and_then(Value::as_str))
                .flatten()
                .ok_or_else(|| unsupported(value))?;
            Some(json!({"type": "tool", "name": name}))
        }
    };
    if parallel_tool_calls == Some(false) {
        let choice = encoded.get_or_insert_with(|| json!({"type": "auto"}));
        if let Some(fields) = choice.as_object_mut()
            && fields.get("type").and_then(Value::as_str) != Some("none")
        {
            fields.insert("disable_parallel_tool_use".into(), true.into());
        }
    }
    Ok(encoded)
}

/// The `anthropic-beta` that Anthropic's native structured outputs (`output_format`) need.
pub const STRUCTURED_OUTPUTS_BETA: &str = "structured-outputs-2025-11-13";

/// The JSON schema of a `json_schema` `response_format` when `model` takes Anthropic's native
/// structured outputs (the Claude 4.5 and 5 families): the answer is then constrained to the
/// schema, not only asked for. Other models get a system instruction, the last resort.
pub fn native_output_schema<'a>(chat: &'a ChatRequest, model: &str) -> Option<&'a Value> {
    let format = chat.response_format.as_ref()?;
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return None;
    }
    let native = [
        "claude-opus-4-5",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-opus-4-1",
    ]
    .iter()
    .any(|p| model.starts_with(p))
        || model.strip_prefix("claude-").is_some_and(|rest| {
            let mut parts = rest.split('-');
            let family = parts.next().unwrap_or_default();
            let major = parts.next().and_then(|major| major.parse::<u32>().ok());
            family.chars().all(|c| c.is_ascii_alphabetic()) && major >= Some(5)
        });
    native
        .then(|| format.pointer("/json_schema/schema"))
        .flatten()
}

/// The system instruction standing in for OpenAI's `response_format`, if any.
fn response_format_instruction(format: Option<&Value>) -> Result<Option<String>, TranslateError> {
    let Some(format) = format.filter(|format| !format.is_null()) else {
        return Ok(None);
    };
    match format
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "text" => Ok(None),
        "json_object" => Ok(Some(JSON_OBJECT_INSTRUCTION.to_owned())),
        "json_schema" => {
            let spec = format.get("json_schema");
            let field = |name: &str| spec.and_then(|spec| spec.get(name));
            let mut instruction = String::from("Respond only with a single valid JSON value");
            match field("schema") {
                Some(schema) => {
                    instruction.push_str(" that conforms to the following JSON Schema");
                    if let Some(name) = field("name").and_then(Value::as_str) {
                        instruction.push_str(&format!(" (named `{name}`)"));
                    }
                    if let Some(description) = field("description").and_then(Value::as_str) {
                        instruction.push_str(&format!(", described as: {description}"));
                    }
                    instruction.push_str(&format!(":\n{schema}\n"));
                }
                None => instruction.push_str(". "),
            }
            instruction.push_str(
                "Do not write anything before or after it, and do not wrap it in Markdown code \
                 fences.",
            );
            Ok(Some(instruction))
        }
        kind => Err(TranslateError::ResponseFormat {
            kind: kind.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a request given as OpenAI JSON and parses the Anthropic body back.
    fn encode(request: Value) -> Value {
        let chat: ChatRequest = serde_json::from_value(request).expect("valid chat request");
        let body = encode_request(&chat, "claude-sonnet-4-5", None).expect("encodes");
        serde_json::from_slice(&body).expect("valid JSON body")
    }

    /// The error message for a request given as OpenAI JSON.
    fn encode_err(request: Value) -> String {
        let chat: ChatRequest = serde_json::from_value(request).expect("valid chat request");
        encode_request(&chat, "claude-sonnet-4-5", None)
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn system_and_multi_turn_conversation() {
        let body = encode(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "developer", "content": [
                    {"type": "text", "text": "Answer in French. "},
                    {"type": "text", "text": "Be brief."}
                ]},
                {"role": "user", "content": "Hello!", "name": "alice"},
                {"role": "assistant", "content": "Bonjour !"},
                {"role": "user", "content": "What is the capital of France?"},
                {"role": "user", "content": [{"type": "text", "text": "And of Spain?"}]}
            ],
            "temperature": 0.7,
            "top_p": 0.9,
            "stream": true,
            "user": "user-1234",
            "logit_bias": {"50256": -100},
            "presence_penalty": 0.5,
            "seed": 42,
            "n": 1
        }));
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 4096,
                "system": "You are a helpful assistant.\n\nAnswer in French. Be brief.",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Hello!"}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "Bonjour !"}]},
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is the capital of France?"},
                        {"type": "text", "text": "And of Spain?"}
                    ]}
                ],
                "temperature": 0.7,
                "top_p": 0.9,
                "stream": true,
                "metadata": {"user_id": "user-1234"}
            })
        );
    }

    #[test]
    fn max_tokens_default_and_precedence() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(encode(base.clone())["max_tokens"], 4096);

        let mut legacy = base.clone();
        legacy["max_tokens"] = json!(100);
        assert_eq!(encode(legacy.clone())["max_tokens"], 100);

        let mut both = legacy;
        both["max_completion_tokens"] = json!(250);
        assert_eq!(encode(both)["max_tokens"], 250);

        let body = encode(base);
        for absent in ["system", "temperature", "stream", "tools", "stop_sequences"] {
            assert!(body.get(absent).is_none(), "{absent} must be absent");
        }
    }

    #[test]
    fn temperature_is_clamped_to_anthropic_range() {
        let request = |t: f64| json!({"model": "m", "temperature": t, "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(encode(request(1.8))["temperature"], 1.0);
        assert_eq!(encode(request(0.0))["temperature"], 0.0);
        assert_eq!(encode(request(0.3))["temperature"], 0.3);
    }

    #[test]
    fn stop_string_and_list() {
        let one = encode(json!({
            "model": "m", "stop": "\n\nHuman:",
            "messages": [{"role": "user", "content": "hi"}]
        }));
        assert_eq!(one["stop_sequences"], json!(["\n\nHuman:"]));

        let many = encode(json!({
            "model": "m", "stop": ["END", "", "STOP"],
            "messages": [{"role": "user", "content": "hi"}]
        }));
        assert_eq!(many["stop_sequences"], json!(["END", "STOP"]));

        let none = encode(json!({
            "model": "m", "stop": [],
            "messages": [{"role": "user", "content": "hi"}]
        }));
        assert!(none.get("stop_sequences").is_none());
    }

    /// The weather tool of the OpenAI function calling guide.
    fn weather_request(tool_choice: Value) -> Value {
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "What's the weather like in Paris today?"}],
            "tools": [
                {"type": "function", "function": {
                    "name": "get_weather",
                    "description": "Get current temperature for a given location.",
                    "parameters": {
                        "type": "object",
                        "properties": {"location": {"type": "string", "description": "City and country e.g. Bogotá, Colombia"}},
                        "required": ["location"],
                        "additionalProperties": false
                    },
                    "strict": true
                }},
                {"type": "function", "function": {"name": "get_time"}}
            ],
            "tool_choice": tool_choice
        })
    }

    #[test]
    fn tool_definitions() {
        let body = encode(weather_request(Value::Null));
        assert_eq!(
            body["tools"],
            json!([
                {
                    "name": "get_weather",
                    "description": "Get current temperature for a given location.",
                    "input_schema": {
                        "type": "object",
                        "properties": {"location": {"type": "string", "description": "City and country e.g. Bogotá, Colombia"}},
                        "required": ["location"],
                        "additionalProperties": false
                    }
                },
                {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
            ])
        );
        assert!(body.get("tool_choice").is_none());
    }

    #[test]
    fn tool_choice_variants() {
        let cases = [
            (json!("auto"), json!({"type": "auto"})),
            (json!("required"), json!({"type": "any"})),
            (json!("none"), json!({"type": "none"})),
            (
                json!({"type": "function", "function": {"name": "get_weather"}}),
                json!({"type": "tool", "name": "get_weather"}),
            ),
        ];
        for (openai, anthropic) in cases {
            assert_eq!(encode(weather_request(openai))["tool_choice"], anthropic);
        }

        let mut serial = weather_request(json!("required"));
        serial["parallel_tool_calls"] = json!(false);
        assert_eq!(
            encode(serial)["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );

        let mut serial_default = weather_request(Value::Null);
        serial_default["parallel_tool_calls"] = json!(false);
        assert_eq!(
            encode(serial_default)["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );

        let mut parallel = weather_request(json!("auto"));
        parallel["parallel_tool_calls"] = json!(true);
        assert_eq!(encode(parallel)["tool_choice"], json!({"type": "auto"}));

        assert_eq!(
            encode_err(weather_request(json!("sometimes"))),
            "tool_choice \"sometimes\" is not supported"
        );
        let mut custom = weather_request(Value::Null);
        custom["tools"][1] = json!({"type": "custom", "function": {"name": "x"}});
        assert_eq!(
            encode_err(custom),
            "tools[1].type `custom` is not supported"
        );
    }

    #[test]
    fn tool_call_and_result_round_trip() {
        let body = encode(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "What's the weather in Paris and Bogotá?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}"}},
                    {"id": "toolu_01B19q90qw90lq917835lq8", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"location\":\"Bogotá, Colombia\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "14°C, cloudy"},
                {"role": "tool", "tool_call_id": "toolu_01B19q90qw90lq917835lq8",
                 "content": [{"type": "text", "text": "22°C, sunny"}]},
                {"role": "user", "content": "Thanks! Which is warmer?"}
            ]
        }));
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris and Bogotá?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                     "input": {"location": "Paris, France"}},
                    {"type": "tool_use", "id": "toolu_01B19q90qw90lq917835lq8", "name": "get_weather",
                     "input": {"location": "Bogotá, Colombia"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "14°C, cloudy"},
                    {"type": "tool_result", "tool_use_id": "toolu_01B19q90qw90lq917835lq8", "content": "22°C, sunny"},
                    {"type": "text", "text": "Thanks! Which is warmer?"}
                ]}
            ])
        );
    }

    #[test]
    fn assistant_text_with_tool_call_and_empty_arguments() {
        let body = encode(json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "What time is it?"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": ""}
            ]
        }));
        assert_eq!(
            body["messages"][1]["content"],
            json!([
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_1", "name": "get_time", "input": {}}
            ])
        );
        assert_eq!(
            body["messages"][2]["content"],
            json!([{"type": "tool_result", "tool_use_id": "call_1"}])
        );
    }

    #[test]
    fn invalid_tool_arguments_name_the_field() {
        let request = |arguments: &str| {
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "b", "type": "function", "function": {"name": "f", "arguments": arguments}}
                    ]}
                ]
            })
        };
        assert_eq!(
            encode_err(request("{\"location\": ")),
            "messages[2].tool_calls[1].function.arguments is not valid JSON"
        );
        assert_eq!(
            encode_err(request("[1, 2]")),
            "messages[2].tool_calls[1].function.arguments is not a JSON object"
        );
    }

    #[test]
    fn json_schema_is_native_where_the_model_has_structured_outputs() {
        let chat: ChatRequest = serde_json::from_value(json!({
            "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}}
        }))
        .expect("chat");
        let native: Value = serde_json::from_slice(
            &encode_request(&chat, "claude-sonnet-4-5", None).expect("encodes"),
        )
        .expect("json");
        assert_eq!(
            native["output_format"],
            json!({"type": "json_schema", "schema": {"type": "object"}})
        );
        assert!(
            native.get("system").is_none(),
            "no instruction when the schema is enforced"
        );
        let opus5: Value = serde_json::from_slice(
            &encode_request(&chat, "claude-opus-5-5", None).expect("encodes"),
        )
        .expect("json");
        assert!(opus5.get("output_format").is_some());
        let old: Value = serde_json::from_slice(
            &encode_request(&chat, "claude-3-5-haiku", None).expect("encodes"),
        )
        .expect("json");
        assert!(old.get("output_format").is_none());
        assert!(old["system"].to_string().contains("JSON Schema"));
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_budget() {
        let body = encode(json!({
            "model": "claude-sonnet-4-5", "reasoning_effort": "medium", "temperature": 0.2,
            "max_tokens": 4000, "messages": [{"role": "user", "content": "hi"}]
        }));
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 3999})
        );
        assert!(
            body.get("temperature").is_none(),
            "thinking takes no temperature"
        );
        let body = encode(json!({
            "model": "claude-sonnet-4-5", "reasoning_effort": "low", "max_tokens": 512,
            "messages": [{"role": "user", "content": "hi"}]
        }));
        assert!(
            body.get("thinking").is_none(),
            "no room for the minimum budget"
        );
    }

    #[test]
    fn ids_and_media_types_anthropic_refuses_are_rewritten() {
        let body = encode(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAAA"}}]},
                {"role": "assistant", "tool_calls": [{"id": "functions.get_weather:0", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "sunny"}
            ]
        }));
        assert_eq!(
            body["messages"][0]["content"][0]["source"]["media_type"],
            "image/jpeg"
        );
        assert_eq!(
            body["messages"][1]["content"][0]["id"],
            "functions_get_weather_0"
        );
        assert_eq!(
            body["messages"][2]["content"][0]["tool_use_id"],
            "functions_get_weather_0"
        );
    }

    #[test]
    fn images_base64_and_url() {
        let body = encode(json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is in these images?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"}}
            ]}]
        }));
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"type": "text", "text": "What is in these images?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}},
                {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"}}
            ])
        );

        let bad = json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.png"}}
            ]}]
        });
        assert_eq!(
            encode_err(bad),
            "messages[0].content[1].image_url.url must be an http(s) url or a base64 data url"
        );
    }

    #[test]
    fn pdf_file_and_unsupported_parts() {
        let body = encode(json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"}},
                {"type": "text", "text": "Summarize this."}
            ]}]
        }));
        assert_eq!(
            body["messages"][0]["content"][0],
            json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}})
        );

        let by_id = json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Summarize this."},
                {"type": "file", "file": {"file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}}
            ]}]
        });
        assert_eq!(
            encode_err(by_id),
            "messages[0].content[1].file must carry a base64 pdf data url in file_data"
        );

        let audio = json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
            ]}]
        });
        assert_eq!(
            encode_err(audio),
            "messages[0].content[0].type `input_audio` is not supported"
        );
    }

    #[test]
    fn cache_control_is_passed_through() {
        let body = encode(json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": [
                    {"type": "text", "text": "A long reference document.", "cache_control": {"type": "ephemeral"}}
                ]},
                {"role": "user", "content": "Question?", "cache_control": {"type": "ephemeral"}}
            ],
            "response_format": {"type": "json_object"}
        }));
        assert_eq!(
            body["system"],
            json!([
                {"type": "text", "text": "A long reference document.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": JSON_OBJECT_INSTRUCTION}
            ])
        );
        assert_eq!(
            body["messages"][0]["content"],
            json!([{"type": "text", "text": "Question?", "cache_control": {"type": "ephemeral"}}])
        );
    }

    #[test]
    fn response_format_becomes_a_system_instruction() {
        let json_object = encode(json!({
            "model": "m",
            "messages": [{"role": "system", "content": "Extract the fields."}, {"role": "user", "content": "Bob is 32."}],
            "response_format": {"type": "json_object"}
        }));
        assert_eq!(
            json_object["system"],
            format!("Extract the fields.\n\n{JSON_OBJECT_INSTRUCTION}")
        );

        let schema = json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
            "additionalProperties": false
        });
        // A model without native structured outputs: the instruction is the last resort.
        let chat: ChatRequest = serde_json::from_value(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "Bob is 32."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": schema}}
        }))
        .expect("chat");
        let json_schema: Value = serde_json::from_slice(
            &encode_request(&chat, "claude-3-7-sonnet", None).expect("encodes"),
        )
        .expect("json");
        let system = json_schema["system"].as_str().expect("system is a string");
        assert!(system.contains("JSON Schema (named `person`)"), "{system}");
        let embedded = system
            .lines()
            .find(|line| line.starts_with('{'))
            .expect("schema line");
        assert_eq!(
            serde_json::from_str::<Value>(embedded).expect("schema JSON"),
            schema
        );

        let text = encode(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "text"}
        }));
        assert!(text.get("system").is_none());

        assert_eq!(
            encode_err(json!({
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "response_format": {"type": "yaml"}
            })),
            "response_format.type `yaml` is not supported"
        );
    }

    #[test]
    fn unsupported_requests_are_refused() {
        assert_eq!(
            encode_err(
                json!({"model": "m", "n": 3, "messages": [{"role": "user", "content": "hi"}]})
            ),
            "n = 3 is not supported by anthropic models, which return exactly one choice"
        );
        assert_eq!(
            encode_err(
                json!({"model": "m", "logprobs": true, "messages": [{"role": "user", "content": "hi"}]})
            ),
            "logprobs is not supported by anthropic models, which report no token probabilities"
        );
        assert_eq!(
            encode_err(json!({"model": "m", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "function", "name": "f", "content": "{}"}
            ]})),
            "messages[1].role `function` is not supported"
        );
        assert_eq!(
            encode_err(json!({"model": "m", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "content": "{}"}
            ]})),
            "messages[1].tool_call_id is required on tool messages"
        );
        assert_eq!(
            encode_err(json!({"model": "m", "messages": [
                {"role": "system", "content": "only a system prompt"},
                {"role": "user", "content": "  "}
            ]})),
            "messages must contain at least one non-empty user or assistant message"
        );
    }
}
