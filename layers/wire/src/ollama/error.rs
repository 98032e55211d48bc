//! Errors of the Ollama translation.

/// A request that cannot be carried to Ollama's native API as asked.
///
/// The message names the offending field (`messages[1].content[2].image_url.url`), in lower
/// case, for the client: the glue returns it as a 400 `invalid_request`.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// `n` > 1: Ollama always returns exactly one choice.
    #[error("n = {n} is not supported by ollama models, which return exactly one choice")]
    Choices {
        /// The requested number of choices.
        n: u64,
    },
    /// A message role other than `system`, `developer`, `user`, `assistant`, `tool` or
    /// `function`.
    #[error("messages[{index}].role `{role}` is not supported")]
    Role {
        /// Index of the message.
        index: usize,
        /// The role as sent.
        role: String,
    },
    /// An image given by reference (`https://...`) rather than inline.
    #[error(
        "messages[{index}].content[{part}].image_url.url: ollama accepts only inline base64 images (data: URLs)"
    )]
    RemoteImage {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
    },
    /// A `data:` URL whose payload is not base64 (`data:image/png,...`).
    #[error("messages[{index}].content[{part}].image_url.url: the data url is not base64-encoded")]
    ImageEncoding {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
    },
    /// An `image_url` part without its `image_url` object.
    #[error("messages[{index}].content[{part}].image_url is required on image_url parts")]
    MissingImage {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
    },
    /// A content part type that Ollama has no equivalent for (audio, files, ...).
    #[error("messages[{index}].content[{part}].type `{kind}` is not supported by ollama")]
    ContentPart {
        /// Index of the message.
        index: usize,
        /// Index of the part in the message content.
        part: usize,
        /// The part's type as sent.
        kind: String,
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
    /// A `response_format` type other than `text`, `json_object` or `json_schema`.
    #[error("response_format.type `{kind}` is not supported")]
    ResponseFormat {
        /// The type as sent.
        kind: String,
    },
    /// A `json_schema` response format without its schema.
    #[error("response_format.json_schema.schema is required for json_schema")]
    MissingSchema,
    /// Embeddings input given as token arrays, which Ollama cannot take.
    #[error("input: ollama accepts only text input, not token arrays")]
    TokenInput,
    /// Embeddings input that is neither a string nor a list of strings.
    #[error("input must be a string or a list of strings")]
    Input,
    /// An `encoding_format` other than `float` or `base64`.
    #[error(transparent)]
    EncodingFormat(#[from] crate::embedding::UnsupportedEncoding),
    /// The request body could not be serialized.
    #[error("cannot encode the ollama request: {0}")]
    Encode(#[source] serde_json::Error),
}

/// An Ollama answer that cannot be turned into an OpenAI one.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body or a stream line is not the JSON expected.
    #[error("ollama sent an invalid response: {0}")]
    Json(#[from] serde_json::Error),
    /// The provider reported an error: a `{"error": "..."}` body or stream line.
    #[error("ollama error: {message}")]
    Provider {
        /// Ollama's error message.
        message: String,
    },
    /// A chat response without its `message`.
    #[error("message is missing from the ollama chat response")]
    MissingMessage,
    /// An embed response without its `embeddings`.
    #[error("embeddings is missing from the ollama embed response")]
    MissingEmbeddings,
    /// The stream ended inside a line.
    #[error("stream ended mid-line")]
    MidLine,
    /// The stream ended before the final (`"done": true`) line.
    #[error("stream ended before ollama's final (done) line")]
    Incomplete,
}
