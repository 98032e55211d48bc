//! Built-in list prices, USD per 1M tokens, each with its source and as-of date (also shown
//! in `docs/pricing.md`, which a test keeps in step with this table).

use infermux_core::{Price, PriceTier, Rates};

/// Where a list price was published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// OpenAI's API pricing page.
    OpenAi,
    /// Anthropic's API pricing page.
    Anthropic,
    /// Google's Gemini API pricing page.
    Google,
    /// Groq's pricing page.
    Groq,
    /// Mistral's API pricing page.
    Mistral,
}

impl Source {
    /// The page the prices were read from.
    pub const fn url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://developers.openai.com/api/docs/pricing",
            Self::Anthropic => "https://platform.claude.com/docs/en/about-claude/pricing",
            Self::Google => "https://ai.google.dev/gemini-api/docs/pricing",
            Self::Groq => "https://groq.com/pricing",
            Self::Mistral => "https://mistral.ai/pricing#api-pricing",
        }
    }

    /// The vendor's name.
    pub const fn vendor(self) -> &'static str {
        match self {
            Self::OpenAi => "OpenAI",
            Self::Anthropic => "Anthropic",
            Self::Google => "Google",
            Self::Groq => "Groq",
            Self::Mistral => "Mistral",
        }
    }
}

/// One model's list price, USD per 1M tokens.
#[derive(Clone, Copy, Debug)]
pub struct ListPrice {
    /// The model name as the provider's API takes it (dated snapshots and `-latest` names
    /// of it are priced the same).
    pub model: &'static str,
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cached input read, where the provider bills it apart.
    pub cached_input: Option<f64>,
    /// Cache write, where the provider bills it apart (Anthropic: the 5-minute write).
    pub cache_write: Option<f64>,
    /// Anthropic's 1-hour cache write.
    pub cache_write_1h: Option<f64>,
    /// The long-context tier: above this many prompt tokens (cache included), every token of
    /// the request is at these rates.
    pub long_context: Option<(u64, ListRates)>,
    /// `service_tier: priority` rates.
    pub priority: Option<ListRates>,
    /// `service_tier: flex` rates.
    pub flex: Option<ListRates>,
    /// Where the price was published.
    pub source: Source,
    /// When the price was read from its source (`YYYY-MM-DD`).
    pub as_of: &'static str,
}

/// Rates of a long-context or service tier, USD per 1M tokens.
#[derive(Clone, Copy, Debug)]
pub struct ListRates {
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cached input read.
    pub cached_input: Option<f64>,
    /// Cache write (Anthropic: 5 minutes).
    pub cache_write: Option<f64>,
    /// Anthropic's 1-hour cache write.
    pub cache_write_1h: Option<f64>,
}

impl ListRates {
    fn rates(&self) -> Option<Rates> {
        Rates::per_million(
            self.input,
            self.output,
            self.cached_input,
            self.cache_write,
            self.cache_write_1h,
        )
    }
}

impl ListPrice {
    /// The exact per-token price, with its tiers.
    pub fn price(&self) -> Price {
        self.try_price().unwrap_or_default()
    }

    fn try_price(&self) -> Option<Price> {
        let standard = ListRates {
            input: self.input,
            output: self.output,
            cached_input: self.cached_input,
            cache_write: self.cache_write,
            cache_write_1h: self.cache_write_1h,
        };
        let mut price = Price::FREE.with_rates(standard.rates()?);
        if let Some((above, rates)) = &self.long_context {
            price = price.with_tier(PriceTier {
                above: *above,
                rates: rates.rates()?,
            })?;
        }
        if let Some(priority) = &self.priority {
            price = price.with_priority(priority.rates()?);
        }
        if let Some(flex) = &self.flex {
            price = price.with_flex(flex.rates()?);
        }
        Some(price)
    }

    /// With a long-context tier above `above` prompt tokens.
    const fn above(mut self, above: u64, rates: ListRates) -> Self {
        self.long_context = Some((above, rates));
        self
    }

    /// With `service_tier: priority` rates.
    const fn priority(mut self, rates: ListRates) -> Self {
        self.priority = Some(rates);
        self
    }

    /// With `service_tier: flex` rates.
    const fn flex(mut self, rates: ListRates) -> Self {
        self.flex = Some(rates);
        self
    }

    /// Stated as of `date`.
    const fn as_of(mut self, date: &'static str) -> Self {
        self.as_of = date;
        self
    }
}

/// OpenAI-style rates: input, cached input, output.
const fn rates(input: f64, cached: f64, output: f64) -> ListRates {
    ListRates {
        input,
        output,
        cached_input: Some(cached),
        cache_write: None,
        cache_write_1h: None,
    }
}

/// Anthropic-style rates: input, output, read, 5-minute and 1-hour writes.
const fn claude_rates(input: f64, output: f64, read: f64, write: f64, hour: f64) -> ListRates {
    ListRates {
        input,
        output,
        cached_input: Some(read),
        cache_write: Some(write),
        cache_write_1h: Some(hour),
    }
}

/// As-of date of the OpenAI, Google, Groq and Mistral entries.
const AS_OF: &str = "2025-11-01";
/// As-of date of the Anthropic entries (Claude Opus 4.5 launched at its price that month).
const AS_OF_ANTHROPIC: &str = "2025-11-24";
/// As-of date of the entries read from the current price pages.
const AS_OF_CURRENT: &str = "2026-12-04";

const fn openai(model: &'static str, input: f64, output: f64, cached: Option<f64>) -> ListPrice {
    ListPrice {
        model,
        input,
        output,
        cached_input: cached,
        cache_write: None,
        cache_write_1h: None,
        long_context: None,
        priority: None,
        flex: None,
        source: Source::OpenAi,
        as_of: AS_OF,
    }
}

/// Anthropic bills cache reads at 0.1x input (0.05x for the 5.5 models), 5-minute cache
/// writes at 1.25x input and 1-hour cache writes at 2x input.
const fn anthropic(
    model: &'static str,
    input: f64,
    output: f64,
    read: f64,
    write: f64,
) -> ListPrice {
    ListPrice {
        model,
        input,
        output,
        cached_input: Some(read),
        cache_write: Some(write),
        cache_write_1h: Some(input * 2.0),
        long_context: None,
        priority: None,
        flex: None,
        source: Source::Anthropic,
        as_of: AS_OF_ANTHROPIC,
    }
}

const fn other(
    source: Source,
    model: &'static str,
    input: f64,
    output: f64,
    cached: Option<f64>,
) -> ListPrice {
    ListPrice {
        model,
        input,
        output,
        cached_input: cached,
        cache_write: None,
        cache_write_1h: None,
        long_context: None,
        priority: None,
        flex: None,
        source,
        as_of: AS_OF,
    }
}

/// Every built-in list price.
pub const LIST_PRICES: &[ListPrice] = &[
    // OpenAI: GPT-6 (Codex's default model is gpt-6.2-sol). Above 272K input tokens input
    // and cache rates double and output is 1.5x, for the whole request; Fast (priority)
    // processing is 2x.
    openai("gpt-6.2-sol", 2.00, 10.00, Some(0.10))
        .above(272_000, rates(4.00, 0.20, 15.00))
        .priority(rates(4.00, 0.20, 20.00))
        .as_of(AS_OF_CURRENT),
    openai("gpt-6.1-sol", 2.00, 10.00, Some(0.10))
        .above(272_000, rates(4.00, 0.20, 15.00))
        .priority(rates(4.00, 0.20, 20.00))
        .as_of(AS_OF_CURRENT),
    openai("gpt-6-sol", 2.00, 10.00, Some(0.20))
        .above(272_000, rates(4.00, 0.40, 15.00))
        .priority(rates(4.00, 0.40, 20.00))
        .as_of(AS_OF_CURRENT),
    // OpenAI: chat and reasoning
    openai("gpt-5", 1.25, 10.00, Some(0.125))
        .priority(rates(2.50, 0.25, 20.00))
        .flex(rates(0.625, 0.0625, 5.00)),
    openai("gpt-5-mini", 0.25, 2.00, Some(0.025)),
    openai("gpt-5-nano", 0.05, 0.40, Some(0.005)),
    openai("gpt-4.1", 2.00, 8.00, Some(0.50)),
    openai("gpt-4.1-mini", 0.40, 1.60, Some(0.10)),
    openai("gpt-4.1-nano", 0.10, 0.40, Some(0.025)),
    openai("gpt-4o", 2.50, 10.00, Some(1.25)),
    openai("gpt-4o-mini", 0.15, 0.60, Some(0.075)),
    openai("o1", 15.00, 60.00, Some(7.50)),
    openai("o3", 2.00, 8.00, Some(0.50)),
    openai("o3-mini", 1.10, 4.40, Some(0.55)),
    openai("o4-mini", 1.10, 4.40, Some(0.275)),
    openai("gpt-4-turbo", 10.00, 30.00, None),
    openai("gpt-3.5-turbo", 0.50, 1.50, None),
    // OpenAI: embeddings
    openai("text-embedding-3-small", 0.02, 0.0, None),
    openai("text-embedding-3-large", 0.13, 0.0, None),
    openai("text-embedding-ada-002", 0.10, 0.0, None),
    // Anthropic: Claude 5 (Claude Code's default model is claude-opus-5-5). The 5.5 models
    // read the cache at 0.05x input.
    anthropic("claude-opus-5-5", 4.00, 20.00, 0.20, 5.00).as_of(AS_OF_CURRENT),
    anthropic("claude-opus-5", 5.00, 25.00, 0.50, 6.25).as_of(AS_OF_CURRENT),
    anthropic("claude-sonnet-5-5", 2.00, 10.00, 0.10, 2.50).as_of(AS_OF_CURRENT),
    anthropic("claude-sonnet-5", 2.00, 10.00, 0.20, 2.50).as_of(AS_OF_CURRENT),
    anthropic("claude-fable-5-1", 10.00, 50.00, 0.25, 12.50).as_of(AS_OF_CURRENT),
    anthropic("claude-opus-4-8", 5.00, 25.00, 0.50, 6.25).as_of(AS_OF_CURRENT),
    anthropic("claude-opus-4-7", 5.00, 25.00, 0.50, 6.25).as_of(AS_OF_CURRENT),
    anthropic("claude-opus-4-6", 5.00, 25.00, 0.50, 6.25).as_of(AS_OF_CURRENT),
    anthropic("claude-sonnet-4-6", 3.00, 15.00, 0.30, 3.75).as_of(AS_OF_CURRENT),
    // Anthropic: Claude 4.5 and older
    anthropic("claude-opus-4-5", 5.00, 25.00, 0.50, 6.25),
    anthropic("claude-opus-4-1", 15.00, 75.00, 1.50, 18.75),
    anthropic("claude-opus-4-0", 15.00, 75.00, 1.50, 18.75),
    anthropic("claude-opus-4", 15.00, 75.00, 1.50, 18.75),
    // Above 200k prompt tokens (1M context) every token is at the long-context rates.
    anthropic("claude-sonnet-4-5", 3.00, 15.00, 0.30, 3.75)
        .above(200_000, claude_rates(6.00, 22.50, 0.60, 7.50, 12.00)),
    anthropic("claude-sonnet-4-0", 3.00, 15.00, 0.30, 3.75),
    anthropic("claude-sonnet-4", 3.00, 15.00, 0.30, 3.75),
    anthropic("claude-3-7-sonnet", 3.00, 15.00, 0.30, 3.75),
    anthropic("claude-haiku-4-5", 1.00, 5.00, 0.10, 1.25),
    anthropic("claude-3-5-haiku", 0.80, 4.00, 0.08, 1.00),
    // The seed tutorial's name for Claude 3.5 Haiku.
    anthropic("claude-haiku-3-5", 0.80, 4.00, 0.08, 1.00),
    anthropic("claude-3-haiku", 0.25, 1.25, 0.03, 0.30),
    // Google Gemini (prompts up to 200k tokens; context-cache storage is not billed per token)
    other(Source::Google, "gemini-2.5-pro", 1.25, 10.00, Some(0.125)),
    other(Source::Google, "gemini-2.5-flash", 0.30, 2.50, Some(0.03)),
    other(
        Source::Google,
        "gemini-2.5-flash-lite",
        0.10,
        0.40,
        Some(0.01),
    ),
    other(Source::Google, "gemini-2.0-flash", 0.10, 0.40, Some(0.025)),
    other(Source::Google, "gemini-2.0-flash-lite", 0.075, 0.30, None),
    other(Source::Google, "gemini-embedding-001", 0.15, 0.0, None),
    // Groq
    other(Source::Groq, "llama-3.3-70b-versatile", 0.59, 0.79, None),
    other(Source::Groq, "llama-3.1-8b-instant", 0.05, 0.08, None),
    other(
        Source::Groq,
        "meta-llama/llama-4-scout-17b-16e-instruct",
        0.11,
        0.34,
        None,
    ),
    other(
        Source::Groq,
        "meta-llama/llama-4-maverick-17b-128e-instruct",
        0.20,
        0.60,
        None,
    ),
    other(Source::Groq, "openai/gpt-oss-120b", 0.15, 0.75, None),
    other(Source::Groq, "openai/gpt-oss-20b", 0.10, 0.50, None),
    other(Source::Groq, "qwen/qwen3-32b", 0.29, 0.59, None),
    other(
        Source::Groq,
        "moonshotai/kimi-k2-instruct",
        1.00,
        3.00,
        None,
    ),
    // Mistral (`-latest` names resolve to these)
    other(Source::Mistral, "mistral-large", 2.00, 6.00, None),
    other(Source::Mistral, "mistral-medium", 0.40, 2.00, None),
    other(Source::Mistral, "mistral-small", 0.10, 0.30, None),
    other(Source::Mistral, "codestral", 0.30, 0.90, None),
    other(Source::Mistral, "pixtral-large", 2.00, 6.00, None),
    other(Source::Mistral, "ministral-8b", 0.10, 0.10, None),
    other(Source::Mistral, "ministral-3b", 0.04, 0.04, None),
    other(Source::Mistral, "open-mistral-nemo", 0.15, 0.15, None),
    other(Source::Mistral, "mistral-embed", 0.10, 0.0, None),
];
