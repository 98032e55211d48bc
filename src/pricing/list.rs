//! Built-in list prices, USD per 1M tokens. Sources and as-of dates: `docs/pricing.md`.

use infermux_core::Price;

/// One model's list price, USD per 1M tokens.
#[derive(Clone, Copy, Debug)]
pub struct ListPrice {
    /// The model name as the provider's API takes it.
    pub model: &'static str,
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cached input read, where the provider bills it apart.
    pub cached_input: Option<f64>,
    /// Cache write, where the provider bills it apart.
    pub cache_write: Option<f64>,
}

impl ListPrice {
    /// The exact per-token price.
    pub fn price(&self) -> Price {
        Price::per_million(self.input, self.output, self.cached_input, self.cache_write)
            .unwrap_or_default()
    }
}

const fn list(
    model: &'static str,
    input: f64,
    output: f64,
    cached_input: Option<f64>,
    cache_write: Option<f64>,
) -> ListPrice {
    ListPrice {
        model,
        input,
        output,
        cached_input,
        cache_write,
    }
}

/// Every built-in list price.
pub const LIST_PRICES: &[ListPrice] = &[
    // OpenAI
    list("gpt-4o", 2.50, 10.00, Some(1.25), None),
    list("gpt-4o-mini", 0.15, 0.60, Some(0.075), None),
    list("text-embedding-3-small", 0.02, 0.0, None, None),
    list("text-embedding-3-large", 0.13, 0.0, None, None),
    // Anthropic
    list("claude-opus-4-5", 5.00, 25.00, Some(0.50), Some(6.25)),
    list("claude-haiku-3-5", 0.80, 4.00, Some(0.08), Some(1.00)),
    list("claude-3-5-haiku", 0.80, 4.00, Some(0.08), Some(1.00)),
];
