//! OpenAI chat completions wire types (`POST /v1/chat/completions`).
//!
//! Only the fields that infermux reads or translates are typed; every other field of the
//! request, of each message and of each content part is kept in an `extra` map and written
//! back unchanged, so OpenAI-compatible providers receive exactly what the client sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A chat completion request, parsed once at ingress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The requested model.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Whether to answer as a server-sent event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Legacy output token limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Output token limit (reasoning tokens included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences: one string or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// `"auto"`, `"none"`, `"required"` or `{"type":"function","function":{"name":..}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// `{"type":"json_object"}` or `{"type":"json_schema","json_schema":{..}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Every other field, passed through verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// Whether the client asked for a final usage chunk in its stream.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true)
    }

    /// The output token limit, whichever of the two fields carries it.
    pub fn output_limit(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

/// `stream_options` of a chat request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Ask for a final chunk carrying the usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Every other field, passed through verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Stop sequences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// A single stop sequence.
    One(String),
    /// Several stop sequences.
    Many(Vec<String>),
}

impl Stop {
    /// The stop sequences as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// One message of the conversation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text or content parts; absent on assistant messages that only call tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// Optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls made by an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// On `tool` messages: the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Every other field, passed through verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a plain string or a list of typed parts.
///
/// Read by a visitor of its own rather than as an untagged enum, which would first copy the
/// content (every part of it) into serde's buffer and then read it again for each variant.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Text, image and other parts.
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Content;

        impl<'de> serde::de::Visitor<'de> for Content {
            type Value = MessageContent;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of content parts")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<MessageContent, E> {
                Ok(MessageContent::Text(text.to_owned()))
            }

            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<MessageContent, E> {
                Ok(MessageContent::Text(text))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                parts: A,
            ) -> Result<MessageContent, A::Error> {
                let parts = serde::de::value::SeqAccessDeserializer::new(parts);
                Vec::deserialize(parts).map(MessageContent::Parts)
            }
        }

        deserializer.deserialize_any(Content)
    }
}

impl MessageContent {
    /// The text of the content, parts' texts joined; images and other parts are skipped.
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join(""),
        }
    }
}

/// One content part (`{"type":"text","text":..}`, `{"type":"image_url","image_url":{..}}`, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// The part's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The image of an `image_url` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl>,
    /// Every other field, passed through verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image reference: an `https:` URL or a `data:<mime>;base64,<data>` URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// The URL.
    pub url: String,
    /// `auto`, `low` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A tool the model may call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: FunctionDefinition,
}

/// A callable function.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// Function name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Every other field (`strict`, ...), passed through verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A call the assistant made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id, echoed by the `tool` message that answers it.
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function and its JSON-encoded arguments.
    pub function: FunctionCall,
}

/// The function part of a tool call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments, a JSON document encoded as a string.
    pub arguments: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn content(value: Value) -> Result<Option<MessageContent>, serde_json::Error> {
        let message: ChatMessage =
            serde_json::from_value(json!({"role": "user", "content": value}))?;
        Ok(message.content)
    }

    #[test]
    fn content_is_text_or_parts_and_nothing_else() {
        assert_eq!(
            content(json!("hi")).expect("text"),
            Some(MessageContent::Text("hi".into()))
        );
        let parts = content(json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}, "cache": 1}
        ]))
        .expect("parts");
        let Some(MessageContent::Parts(parts)) = parts else {
            panic!("parts: {parts:?}");
        };
        assert_eq!(parts[0].text.as_deref(), Some("look"));
        assert_eq!(
            parts[1].image_url.as_ref().map(|i| i.url.as_str()),
            Some("https://x/y.png")
        );
        assert_eq!(parts[1].extra["cache"], json!(1));
        assert_eq!(content(Value::Null).expect("null"), None);
        let error = content(json!(7)).expect_err("a number is no content");
        assert!(
            error
                .to_string()
                .contains("a string or a list of content parts"),
            "{error}"
        );
        assert!(content(json!([{"text": "no type"}])).is_err());
    }

    #[test]
    fn content_is_written_back_as_it_came() {
        for value in [
            json!("hi"),
            json!([{"type": "text", "text": "a", "x": true}]),
        ] {
            let parsed = content(value.clone()).expect("content").expect("some");
            assert_eq!(serde_json::to_value(parsed).expect("json"), value);
        }
    }
}
