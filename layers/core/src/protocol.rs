//! Which wire protocol a client spoke, and what of its request a same-protocol provider is
//! forwarded untouched.

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

/// The API a request arrived on. Every protocol is decoded into the one typed
/// [`RequestBody`](crate::RequestBody); the protocol says how the answer must be shaped and
/// whether a provider speaking the same protocol can be sent the client's bytes as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OpenAI chat completions and embeddings (`/v1/chat/completions`, `/v1/embeddings`).
    #[default]
    OpenAiChat,
    /// Anthropic's Messages API (`/v1/messages`).
    AnthropicMessages,
    /// Anthropic's token counting (`/v1/messages/count_tokens`): answered with
    /// `{"input_tokens": N}`, never billed.
    AnthropicCountTokens,
    /// OpenAI's Responses API (`/v1/responses`): passed through to `openai` providers,
    /// translated to every other provider type.
    OpenAiResponses,
}

impl Protocol {
    /// A short stable label (`openai_chat`, `anthropic_messages`, ...) for logs and the
    /// request log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OpenAiChat => "openai_chat",
            Self::AnthropicMessages => "anthropic_messages",
            Self::AnthropicCountTokens => "anthropic_count_tokens",
            Self::OpenAiResponses => "openai_responses",
        }
    }

    /// Whether errors and answers are shaped the Anthropic way.
    pub const fn is_anthropic(self) -> bool {
        matches!(self, Self::AnthropicMessages | Self::AnthropicCountTokens)
    }
}

/// The client's request as it arrived, kept for same-protocol passthrough: a provider that
/// speaks the client's protocol is sent these bytes (only `model` replaced) and the protocol's
/// own headers (never credentials).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientRequest {
    /// The body bytes, as received.
    pub body: Bytes,
    /// Protocol headers to forward (`anthropic-version`, `anthropic-beta`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// A field of the request that only a provider speaking the client's protocol can honour
    /// (Responses `previous_response_id`, `store: true`, a forced server-side tool): a
    /// translated provider refuses the request with a 400 naming it.
    pub native_only: Option<String>,
    /// The Responses `namespace` tools whose functions a translation flattened to
    /// `namespace__function`: a translated answer's calls of those are split back.
    pub tool_namespaces: Vec<String>,
}
