//! Errors of the Anthropic translation.

/// A chat request that cannot be carried to the Messages API as asked.
///
/// The message names the offending field (`messages[2].tool_calls[0].function.arguments`), in
/// lower case, for the client: the glue returns it as a 400 `invalid_request`.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// `n` > 1: Anthropic always returns exactly one choice.
    #[error("n = {n} is not supported by anthropic models, which return exactly one choice")]
    Choices {
        /// The requested number of choices.
        n: u64,
    },
    /// `logprobs: true`: Anthropic reports no token probabilities, and a client that asks
    /// for them reads them.
    #[error("logprobs is not supported by anthropic models, which report no token probabilities")]
    Logprobs,
    /// A message role other than `system`, `developer`, `user`, `assistant` or `tool`.
    #[error("messages[{index}].role `{role}` is not supported")]
    Role {
        /// Index of the message.
        index: usize,
        /// The role as sent.
        role: String,
    },
    /// A `tool` message without `tool_call_id`.
    #[error("messages[{index}].tool_call_id is required on tool messages")]
    ToolCallId {
        /// Index of the message.
        index: usize,
    },
    /// Tool call arguments that are not a JSON object.
    #[error("messages[{index}].tool_calls[{call}].function.arguments {problem}")]
    ToolArguments {
        /// Index of the message.
        index: usize,
        /// Index of the tool call in the message.
        call: usize,
        /// What is wrong with them: `is not valid JSON` or `is not a JSON object`.
        problem: &'static str,
    },
    /// A content part type that Anthropic has no equivalent for (audio, file ids, ...).
    #[error("messages[{index}].content[{part}].type `{kind}` is not supported")]
    ContentPart {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
        /// The part's type, or the unsupported variant of it.
        kind: String,
    },
    /// An image URL that is neither `http(s)://` nor `data:<mime>;base64,<data>`.
    #[error(
        "messages[{index}].content[{part}].image_url.url must be an http(s) url or a base64 data url"
    )]
    ImageUrl {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
    },
    /// A `file` part other than a base64 PDF in `file_data` (the only file Anthropic takes inline).
    #[error("messages[{index}].content[{part}].file must carry a base64 pdf data url in file_data")]
    File {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
    },
    /// A tool whose type is not `function`.
    #[error("tools[{index}].type `{kind}` is not supported")]
    ToolType {
        /// Index of the tool.
        index: usize,
        /// The tool's type as sent.
        kind: String,
    },
    /// A `tool_choice` that is not `auto`, `none`, `required` or a named function.
    #[error("tool_choice {value} is not supported")]
    ToolChoice {
        /// The tool choice as sent, JSON-encoded.
        value: String,
    },
    /// A `response_format` type other than `text`, `json_object` or `json_schema`.
    #[error("response_format.type `{kind}` is not supported")]
    ResponseFormat {
        /// The type as sent.
        kind: String,
    },
    /// Nothing left to send once system messages are hoisted and empty messages dropped.
    #[error("messages must contain at least one non-empty user or assistant message")]
    NoMessages,
    /// The request body could not be serialized.
    #[error("cannot encode the anthropic request: {0}")]
    Encode(#[source] serde_json::Error),
}

/// An Anthropic answer that cannot be turned into an OpenAI one.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body or an event's data is not the JSON expected.
    #[error("anthropic sent an invalid response: {0}")]
    Json(#[from] serde_json::Error),
    /// The provider reported an error: an `error` event in a stream (`overloaded_error`, ...),
    /// or an error object where a message was expected.
    #[error("anthropic error ({kind}): {message}")]
    Provider {
        /// Anthropic's error type, such as `overloaded_error` or `api_error`.
        kind: String,
        /// Anthropic's error message.
        message: String,
    },
}
