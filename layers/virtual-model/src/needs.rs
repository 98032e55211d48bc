//! What a request needs of the model that serves it.

use std::fmt;

use infermux_core::{
    InferRequest, ModelKind, ModelSpec, RequestBody,
    chat::{ChatRequest, MessageContent},
};
use serde_json::Value;

/// The capabilities a request uses, and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Needs {
    pub(crate) kind: ModelKind,
    pub(crate) prompt_tokens: u64,
    /// The output limit the client set, if any.
    pub(crate) output: Option<u64>,
    pub(crate) tools: bool,
    pub(crate) vision: bool,
    pub(crate) structured: bool,
}

/// Why a model cannot serve a request: the first capability it lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// It serves the other kind (chat vs embeddings).
    Kind(ModelKind),
    /// It cannot call tools.
    Tools,
    /// It cannot read images.
    Vision,
    /// It cannot follow a JSON schema.
    Structured,
    /// Its context window cannot hold the prompt plus the output.
    Context {
        /// The model's window.
        window: u64,
        /// Prompt plus output.
        needed: u64,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kind(ModelKind::Chat) => f.write_str("chat (it is an embeddings model)"),
            Self::Kind(ModelKind::Embeddings) => f.write_str("embeddings (it is a chat model)"),
            Self::Tools => f.write_str("tools"),
            Self::Vision => f.write_str("images"),
            Self::Structured => f.write_str("structured output"),
            Self::Context { window, needed } => write!(
                f,
                "context window ({needed} tokens needed, {window} available)"
            ),
        }
    }
}

impl Needs {
    /// What `request` needs.
    pub(crate) fn of(request: &InferRequest) -> Self {
        let prompt_tokens = request.estimate.prompt_tokens;
        match &request.body {
            RequestBody::Embeddings(_) => Self {
                kind: ModelKind::Embeddings,
                prompt_tokens,
                output: None,
                tools: false,
                vision: false,
                structured: false,
            },
            RequestBody::Chat(chat) => Self {
                kind: ModelKind::Chat,
                prompt_tokens,
                output: chat.output_limit(),
                tools: uses_tools(chat),
                vision: uses_images(chat),
                structured: chat
                    .response_format
                    .as_ref()
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "json_schema" || t == "json_object"),
            },
        }
    }

    /// The output tokens assumed for `spec`: the client's limit, else the model's typical
    /// answer, never more than its maximum.
    pub(crate) fn output_for(&self, spec: &ModelSpec) -> u64 {
        match self.kind {
            ModelKind::Embeddings => 0,
            ModelKind::Chat => self
                .output
                .unwrap_or(spec.typical_output)
                .min(spec.max_output),
        }
    }

    /// Whether `spec` can serve this request; the output tokens assumed if so.
    pub(crate) fn check(&self, spec: &ModelSpec) -> Result<u64, Missing> {
        if spec.kind != self.kind {
            return Err(Missing::Kind(self.kind));
        }
        if self.tools && !spec.tools {
            return Err(Missing::Tools);
        }
        if self.vision && !spec.vision {
            return Err(Missing::Vision);
        }
        if self.structured && !spec.structured_output {
            return Err(Missing::Structured);
        }
        let output = self.output_for(spec);
        let needed = self.prompt_tokens.saturating_add(output);
        if needed > spec.context {
            return Err(Missing::Context {
                window: spec.context,
                needed,
            });
        }
        Ok(output)
    }
}

fn uses_tools(chat: &ChatRequest) -> bool {
    chat.tools.as_ref().is_some_and(|t| !t.is_empty())
        || chat
            .messages
            .iter()
            .any(|m| m.role == "tool" || m.tool_calls.as_ref().is_some_and(|c| !c.is_empty()))
}

fn uses_images(chat: &ChatRequest) -> bool {
    chat.messages.iter().any(|m| {
        matches!(&m.content, Some(MessageContent::Parts(parts))
            if parts.iter().any(|p| p.image_url.is_some() || p.kind.starts_with("image")))
    })
}
