//! Token usage as providers report it.

/// Tokens one request consumed, as the provider billed them.
///
/// `prompt_tokens` counts every input token, including the cached ones; `cached_prompt_tokens`
/// and `cache_creation_tokens` say how many of them were read from or written to a prompt
/// cache (priced differently), so no token is ever charged twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens, reasoning tokens included.
    pub completion_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_prompt_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_creation_tokens: u64,
    /// Output tokens spent on hidden reasoning (already part of `completion_tokens`).
    pub reasoning_tokens: u64,
    /// Of `cache_creation_tokens`, those written with a 1-hour lifetime (Anthropic's
    /// `usage.cache_creation.ephemeral_1h_input_tokens`), priced at `cache_write_1h`.
    pub cache_creation_1h_tokens: u64,
    /// The processing tier the provider says served the request (`service_tier`).
    pub service_tier: ServiceTier,
}

/// The processing tier of a request, as the provider's answer names it (`service_tier`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ServiceTier {
    /// Standard processing (`default`, `auto`, `standard`, or not said).
    #[default]
    Standard,
    /// Priority processing, at the `priority` prices where the price has them.
    Priority,
    /// Flex (cheaper, slower) processing, at the `flex` prices where the price has them.
    Flex,
}

impl ServiceTier {
    /// The tier a provider's `service_tier` value names.
    pub fn from_wire(value: &str) -> Self {
        match value {
            "priority" => Self::Priority,
            "flex" => Self::Flex,
            _ => Self::Standard,
        }
    }
}

impl Usage {
    /// Usage of `prompt_tokens` in and `completion_tokens` out, with no cache or reasoning
    /// tokens.
    pub const fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            cached_prompt_tokens: 0,
            cache_creation_tokens: 0,
            reasoning_tokens: 0,
            cache_creation_1h_tokens: 0,
            service_tier: ServiceTier::Standard,
        }
    }

    /// All tokens of the request: prompt plus completion.
    pub const fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Counts tokens of text the way a model's tokenizer would (exactly for the models whose
/// tokenizer is known, approximately for others).
///
/// Ingress counts the prompt with it once per request; the cost layer counts the text of a
/// stream the client abandoned, so that aborted work is still charged.
pub trait TokenCounter: Send + Sync + std::fmt::Debug + 'static {
    /// Tokens in `text` for `model`.
    fn count(&self, model: &str, text: &str) -> u64;

    /// Whether counting for `model` is cheap now; `false` while the tokenizer it needs is
    /// still to be loaded (about 100 ms), which callers on the async runtime then count on
    /// the blocking pool.
    fn ready(&self, _model: &str) -> bool {
        true
    }
}
