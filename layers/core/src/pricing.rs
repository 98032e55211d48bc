//! What tokens cost: per-token prices and the table that finds them.

use std::{collections::HashMap, sync::Arc};

use crate::{Money, ProviderName, Usage};

/// What one model costs at one provider, per token, exact.
///
/// Prices are quoted in USD per 1M tokens; stored per token in pico-USD, where every such
/// quote with up to six decimals is a whole number, so pricing never rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Price {
    /// Each uncached input token.
    pub input: Money,
    /// Each output token (reasoning tokens included).
    pub output: Money,
    /// Each input token read from the prompt cache; `None` bills them as `input`.
    pub cached_input: Option<Money>,
    /// Each input token written to the prompt cache; `None` bills them as `input`.
    pub cache_write: Option<Money>,
}

impl Price {
    /// A free model: every token costs $0.
    pub const FREE: Self = Self {
        input: Money::ZERO,
        output: Money::ZERO,
        cached_input: None,
        cache_write: None,
    };

    /// A price from USD-per-1M-token quotes. `None` if any quote is negative or not finite.
    pub fn per_million(
        input: f64,
        output: f64,
        cached_input: Option<f64>,
        cache_write: Option<f64>,
    ) -> Option<Self> {
        let per_token = |usd_per_million: f64| Money::from_usd(usd_per_million / 1_000_000.0);
        Some(Self {
            input: per_token(input)?,
            output: per_token(output)?,
            cached_input: match cached_input {
                Some(usd) => Some(per_token(usd)?),
                None => None,
            },
            cache_write: match cache_write {
                Some(usd) => Some(per_token(usd)?),
                None => None,
            },
        })
    }

    /// Whether every token of this model is free.
    pub fn is_free(&self) -> bool {
        [
            Some(self.input),
            Some(self.output),
            self.cached_input,
            self.cache_write,
        ]
        .into_iter()
        .flatten()
        .all(|price| price == Money::ZERO)
    }

    /// The cost of `prompt_tokens` uncached input tokens: the pre-send estimate.
    pub fn prompt_cost(&self, prompt_tokens: u64) -> Money {
        self.input.times(prompt_tokens)
    }

    /// The exact cost of `usage`. Cached reads and cache writes are billed at their own
    /// prices and the rest of the prompt at the input price, so no token is charged twice.
    pub fn cost(&self, usage: &Usage) -> Money {
        let cached = usage.cached_prompt_tokens;
        let written = usage.cache_creation_tokens;
        let uncached = usage
            .prompt_tokens
            .saturating_sub(cached)
            .saturating_sub(written);
        self.input
            .times(uncached)
            .saturating_add(self.cached_input.unwrap_or(self.input).times(cached))
            .saturating_add(self.cache_write.unwrap_or(self.input).times(written))
            .saturating_add(self.output.times(usage.completion_tokens))
    }
}

/// How a provider's models are priced when the config does not price them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricingBasis {
    /// A hosted API: the built-in list prices apply by model; a model without one is unpriced.
    Hosted,
    /// Local or simulated inference (Ollama, the mock): $0 unless priced in config.
    Free,
}

/// The effective prices: config entries per (provider, model) first, then the provider's
/// [`PricingBasis`] (built-in list prices by model for hosted providers, $0 otherwise).
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    // Nested so that a lookup by `(&ProviderName, &str)` allocates nothing.
    configured: HashMap<ProviderName, HashMap<Arc<str>, Price>>,
    basis: HashMap<ProviderName, PricingBasis>,
    list_prices: HashMap<Arc<str>, Price>,
}

impl PriceTable {
    /// A table over `list_prices` (model -> price, for hosted providers).
    pub fn new(list_prices: impl IntoIterator<Item = (Arc<str>, Price)>) -> Self {
        Self {
            list_prices: list_prices.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Declares how `provider` is priced when the config does not price a model of it.
    pub fn with_provider(mut self, provider: ProviderName, basis: PricingBasis) -> Self {
        self.basis.insert(provider, basis);
        self
    }

    /// Prices `model` at `provider`, overriding anything else.
    pub fn with_price(mut self, provider: ProviderName, model: &str, price: Price) -> Self {
        self.configured
            .entry(provider)
            .or_default()
            .insert(model.into(), price);
        self
    }

    /// The price of `model` (the name sent upstream) at `provider`, or `None` when it is
    /// unpriced. An unknown provider is treated as hosted.
    pub fn price(&self, provider: &ProviderName, model: &str) -> Option<Price> {
        if let Some(price) = self.configured.get(provider).and_then(|m| m.get(model)) {
            return Some(*price);
        }
        match self.basis.get(provider) {
            Some(PricingBasis::Free) => Some(Price::FREE),
            Some(PricingBasis::Hosted) | None => self.list_price(model),
        }
    }

    /// The built-in list price of `model`, also for dated snapshots of a listed model
    /// (`gpt-4o-2024-08-06` is priced as `gpt-4o`).
    pub fn list_price(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.list_prices.get(model) {
            return Some(*price);
        }
        let base = strip_snapshot_suffix(model)?;
        self.list_prices.get(base).copied()
    }

    /// Every configured (provider, model) price, for listing.
    pub fn configured(&self) -> impl Iterator<Item = (&ProviderName, &str, &Price)> {
        self.configured.iter().flat_map(|(provider, models)| {
            models
                .iter()
                .map(move |(model, price)| (provider, &**model, price))
        })
    }

    /// Every built-in list price, for listing.
    pub fn list_prices(&self) -> impl Iterator<Item = (&str, &Price)> {
        self.list_prices
            .iter()
            .map(|(model, price)| (&**model, price))
    }
}

/// `gpt-4o-2024-08-06` -> `gpt-4o`; `claude-3-5-haiku-20241022` -> `claude-3-5-haiku`;
/// `claude-sonnet-4-5-latest` -> `claude-sonnet-4-5`.
pub(crate) fn strip_snapshot_suffix(model: &str) -> Option<&str> {
    if let Some(base) = model.strip_suffix("-latest") {
        return Some(base);
    }
    let (base, tail) = model.rsplit_once('-')?;
    if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) {
        return Some(base);
    }
    // ISO date: base-YYYY-MM-DD
    let (rest, day) = model.rsplit_once('-')?;
    let (rest, month) = rest.rsplit_once('-')?;
    let (base, year) = rest.rsplit_once('-')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    (digits(year, 4) && digits(month, 2) && digits(day, 2)).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mini() -> Price {
        Price::per_million(0.15, 0.60, Some(0.075), None).expect("valid price")
    }

    #[test]
    fn per_million_quotes_become_exact_per_token_picos() {
        let price = mini();
        assert_eq!(price.input, Money::from_picos(150_000));
        assert_eq!(price.output, Money::from_picos(600_000));
        assert_eq!(price.cached_input, Some(Money::from_picos(75_000)));
        assert!(Price::per_million(-1.0, 0.0, None, None).is_none());
        assert!(Price::per_million(1.0, 0.0, Some(f64::NAN), None).is_none());
    }

    #[test]
    fn the_tutorial_request_costs_exactly_0_0000018() {
        let usage = Usage {
            prompt_tokens: 8,
            completion_tokens: 1,
            ..Usage::default()
        };
        assert_eq!(mini().cost(&usage).to_plain_decimal(), "0.0000018");
    }

    #[test]
    fn cached_and_written_tokens_are_not_charged_twice() {
        let price = Price::per_million(3.0, 15.0, Some(0.30), Some(3.75)).expect("valid");
        let usage = Usage {
            prompt_tokens: 1_000,
            cached_prompt_tokens: 600,
            cache_creation_tokens: 300,
            completion_tokens: 10,
            ..Usage::default()
        };
        // 100 × 3 + 600 × 0.30 + 300 × 3.75 + 10 × 15 = 300 + 180 + 1125 + 150 = 1755 µ$
        assert_eq!(price.cost(&usage).to_plain_decimal(), "0.001755");
    }

    #[test]
    fn configured_prices_win_then_the_basis_decides() {
        let table = PriceTable::new([("gpt-4o-mini".into(), mini())])
            .with_provider("openai".into(), PricingBasis::Hosted)
            .with_provider("ollama".into(), PricingBasis::Free)
            .with_price("ollama".into(), "big", mini());
        assert_eq!(table.price(&"openai".into(), "gpt-4o-mini"), Some(mini()));
        assert_eq!(table.price(&"openai".into(), "gpt-9"), None);
        assert_eq!(table.price(&"ollama".into(), "llama3.2"), Some(Price::FREE));
        assert_eq!(table.price(&"ollama".into(), "big"), Some(mini()));
    }

    #[test]
    fn dated_snapshots_take_the_list_price_of_their_model() {
        let table = PriceTable::new([("gpt-4o-mini".into(), mini())]);
        assert_eq!(table.list_price("gpt-4o-mini-2024-07-18"), Some(mini()));
        assert_eq!(table.list_price("gpt-4o-mini-latest"), Some(mini()));
        assert_eq!(table.list_price("gpt-4o-mini-20240718"), Some(mini()));
        assert_eq!(table.list_price("gpt-4o-maxi"), None);
    }
}
