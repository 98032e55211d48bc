//! What tokens cost: per-token prices and the table that finds them.

use std::sync::Arc;

use hashbrown::HashMap;

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
    /// Each input token written to the cache for 1 hour (Anthropic); `None` bills them as
    /// `cache_write`.
    pub cache_write_1h: Option<Money>,
    /// Long-context tiers: the one with the highest `above` that the request's whole prompt
    /// (cache reads and writes included) exceeds prices every token of that request.
    pub tiers: [Option<PriceTier>; MAX_PRICE_TIERS],
    /// Prices of `service_tier: priority` answers; `None` bills them at the standard prices.
    pub priority: Option<Rates>,
    /// Prices of `service_tier: flex` answers; `None` bills them at the standard prices.
    pub flex: Option<Rates>,
}

/// Long-context tiers one price may have.
pub const MAX_PRICE_TIERS: usize = 4;

/// One set of per-token rates: the standard ones of a [`Price`], a long-context tier's, or
/// a service tier's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rates {
    /// Each uncached input token.
    pub input: Money,
    /// Each output token (reasoning tokens included).
    pub output: Money,
    /// Each input token read from the cache; `None` bills them as `input`.
    pub cached_input: Option<Money>,
    /// Each input token written to the cache (5 minutes); `None` bills them as `input`.
    pub cache_write: Option<Money>,
    /// Each input token written to the cache for 1 hour; `None` bills them as `cache_write`.
    pub cache_write_1h: Option<Money>,
}

impl Rates {
    /// Rates from USD-per-1M-token quotes. `None` if any quote is negative or not finite.
    pub fn per_million(
        input: f64,
        output: f64,
        cached_input: Option<f64>,
        cache_write: Option<f64>,
        cache_write_1h: Option<f64>,
    ) -> Option<Self> {
        let optional = |usd: Option<f64>| match usd {
            Some(usd) => per_token(usd).map(Some),
            None => Some(None),
        };
        Some(Self {
            input: per_token(input)?,
            output: per_token(output)?,
            cached_input: optional(cached_input)?,
            cache_write: optional(cache_write)?,
            cache_write_1h: optional(cache_write_1h)?,
        })
    }

    /// The exact cost of `usage` at these rates. Cached reads and cache writes (5-minute and
    /// 1-hour) are billed at their own rates and the rest of the prompt at the input rate,
    /// so no token is charged twice.
    pub fn cost(&self, usage: &Usage) -> Money {
        let cached = usage.cached_prompt_tokens;
        let written = usage.cache_creation_tokens;
        let written_1h = usage.cache_creation_1h_tokens.min(written);
        let uncached = usage
            .prompt_tokens
            .saturating_sub(cached)
            .saturating_sub(written);
        let write = self.cache_write.unwrap_or(self.input);
        self.input
            .times(uncached)
            .saturating_add(self.cached_input.unwrap_or(self.input).times(cached))
            .saturating_add(write.times(written - written_1h))
            .saturating_add(self.cache_write_1h.unwrap_or(write).times(written_1h))
            .saturating_add(self.output.times(usage.completion_tokens))
    }
}

/// A long-context tier: above `above` prompt tokens, the request is priced at `rates`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PriceTier {
    /// The prompt size (tokens, cache included) this tier starts above.
    pub above: u64,
    /// Its rates, for every token of such a request.
    pub rates: Rates,
}

/// USD per 1M tokens as exact pico-USD per token.
fn per_token(usd_per_million: f64) -> Option<Money> {
    Money::from_usd(usd_per_million / 1_000_000.0)
}

impl Price {
    /// A free model: every token costs $0.
    pub const FREE: Self = Self {
        input: Money::ZERO,
        output: Money::ZERO,
        cached_input: None,
        cache_write: None,
        cache_write_1h: None,
        tiers: [None; MAX_PRICE_TIERS],
        priority: None,
        flex: None,
    };

    /// The standard rates.
    pub const fn rates(&self) -> Rates {
        Rates {
            input: self.input,
            output: self.output,
            cached_input: self.cached_input,
            cache_write: self.cache_write,
            cache_write_1h: self.cache_write_1h,
        }
    }

    /// This price, with its standard rates replaced by `rates`.
    pub const fn with_rates(mut self, rates: Rates) -> Self {
        self.input = rates.input;
        self.output = rates.output;
        self.cached_input = rates.cached_input;
        self.cache_write = rates.cache_write;
        self.cache_write_1h = rates.cache_write_1h;
        self
    }

    /// Adds a long-context tier; `None` when the price already has [`MAX_PRICE_TIERS`].
    pub fn with_tier(mut self, tier: PriceTier) -> Option<Self> {
        let free = self.tiers.iter_mut().find(|t| t.is_none())?;
        *free = Some(tier);
        Some(self)
    }

    /// Prices `service_tier: priority` answers at `rates`.
    #[must_use]
    pub const fn with_priority(mut self, rates: Rates) -> Self {
        self.priority = Some(rates);
        self
    }

    /// Prices `service_tier: flex` answers at `rates`.
    #[must_use]
    pub const fn with_flex(mut self, rates: Rates) -> Self {
        self.flex = Some(rates);
        self
    }

    /// The rates for a request whose whole prompt is `prompt_tokens`: the highest tier it
    /// is above, else the standard rates.
    pub fn rates_for_prompt(&self, prompt_tokens: u64) -> Rates {
        self.tiers
            .iter()
            .flatten()
            .filter(|tier| prompt_tokens > tier.above)
            .max_by_key(|tier| tier.above)
            .map_or_else(|| self.rates(), |tier| tier.rates)
    }

    /// The rates `usage` is billed at: its service tier's when the price has them, else the
    /// long-context tier its whole prompt falls in (chosen once, for every token).
    pub fn rates_for(&self, usage: &Usage) -> Rates {
        let service = match usage.service_tier {
            crate::ServiceTier::Priority => self.priority,
            crate::ServiceTier::Flex => self.flex,
            crate::ServiceTier::Standard => None,
        };
        service.unwrap_or_else(|| self.rates_for_prompt(usage.prompt_tokens))
    }

    /// A price from USD-per-1M-token quotes. `None` if any quote is negative or not finite.
    pub fn per_million(
        input: f64,
        output: f64,
        cached_input: Option<f64>,
        cache_write: Option<f64>,
    ) -> Option<Self> {
        let rates = Rates::per_million(input, output, cached_input, cache_write, None)?;
        Some(Self::FREE.with_rates(rates))
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
        self.rates_for_prompt(prompt_tokens)
            .input
            .times(prompt_tokens)
    }

    /// The exact cost of `usage`, at the rates [`rates_for`](Self::rates_for) chooses.
    pub fn cost(&self, usage: &Usage) -> Money {
        self.rates_for(usage).cost(usage)
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
///
/// Shared, not copied, on clone: every service of a stack holds one and is cloned per request.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    // Nested so that a lookup by `(&ProviderName, &str)` allocates nothing.
    configured: Arc<HashMap<ProviderName, HashMap<Arc<str>, Price>>>,
    basis: Arc<HashMap<ProviderName, PricingBasis>>,
    list_prices: Arc<HashMap<Arc<str>, Price>>,
}

impl PriceTable {
    /// A table over `list_prices` (model -> price, for hosted providers).
    pub fn new(list_prices: impl IntoIterator<Item = (Arc<str>, Price)>) -> Self {
        Self {
            list_prices: Arc::new(list_prices.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Declares how `provider` is priced when the config does not price a model of it.
    pub fn with_provider(mut self, provider: ProviderName, basis: PricingBasis) -> Self {
        Arc::make_mut(&mut self.basis).insert(provider, basis);
        self
    }

    /// Prices `model` at `provider`, overriding anything else.
    pub fn with_price(mut self, provider: ProviderName, model: &str, price: Price) -> Self {
        Arc::make_mut(&mut self.configured)
            .entry(provider)
            .or_default()
            .insert(model.into(), price);
        self
    }

    /// The price of `model` (the name sent upstream) at `provider`, or `None` when it is
    /// unpriced. An unknown provider is treated as hosted.
    pub fn price(&self, provider: &ProviderName, model: &str) -> Option<&Price> {
        if let Some(price) = self.configured.get(provider).and_then(|m| m.get(model)) {
            return Some(price);
        }
        match self.basis.get(provider) {
            Some(PricingBasis::Free) => Some(&Price::FREE),
            Some(PricingBasis::Hosted) | None => self.list_price(model),
        }
    }

    /// The built-in list price of `model`, also for dated snapshots of a listed model
    /// (`gpt-4o-2024-08-06` is priced as `gpt-4o`).
    pub fn list_price(&self, model: &str) -> Option<&Price> {
        if let Some(price) = self.list_prices.get(model) {
            return Some(price);
        }
        let base = strip_snapshot_suffix(model)?;
        self.list_prices.get(base)
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

    fn picos(money: Money) -> u64 {
        money.picos()
    }

    /// Claude Sonnet 4.5's list prices: $3 in, $15 out, $0.30 cache read, $3.75 5-minute and
    /// $6 1-hour cache writes; above 200k prompt tokens $6, $22.50, $0.60, $7.50, $12.
    fn sonnet() -> Price {
        let long = Rates::per_million(6.0, 22.5, Some(0.60), Some(7.5), Some(12.0)).expect("long");
        Price::per_million(3.0, 15.0, Some(0.30), Some(3.75))
            .expect("price")
            .with_rates(
                Rates::per_million(3.0, 15.0, Some(0.30), Some(3.75), Some(6.0)).expect("r"),
            )
            .with_tier(PriceTier {
                above: 200_000,
                rates: long,
            })
            .expect("tier")
    }

    #[test]
    fn anthropic_cache_writes_are_priced_by_their_lifetime() {
        // Anthropic reports input_tokens 100 (outside the cache), cache_read_input_tokens
        // 1000, cache_creation_input_tokens 500 of which ephemeral_1h_input_tokens 200, and
        // output_tokens 50; infermux's usage adds the cache to the prompt.
        let usage = Usage {
            prompt_tokens: 100 + 1_000 + 500,
            cached_prompt_tokens: 1_000,
            cache_creation_tokens: 500,
            cache_creation_1h_tokens: 200,
            completion_tokens: 50,
            ..Usage::default()
        };
        // Anthropic's bill, per token in pico-USD: 100 × 3 + 1000 × 0.30 + 300 × 3.75 +
        // 200 × 6 + 50 × 15 (µ$ per token × 10⁶).
        let expected =
            100 * 3_000_000 + 1_000 * 300_000 + 300 * 3_750_000 + 200 * 6_000_000 + 50 * 15_000_000;
        assert_eq!(picos(sonnet().cost(&usage)), expected);
    }

    #[test]
    fn the_long_context_tier_is_chosen_by_the_whole_prompt_and_prices_every_token() {
        // 50k uncached + 160k read from the cache: 210k in all, above 200k, so every token
        // (cache reads and output included) is at the long-context rates.
        let usage = Usage {
            prompt_tokens: 210_000,
            cached_prompt_tokens: 160_000,
            completion_tokens: 1_000,
            ..Usage::default()
        };
        let expected = 50_000 * 6_000_000 + 160_000 * 600_000 + 1_000 * 22_500_000;
        assert_eq!(picos(sonnet().cost(&usage)), expected);
        // Exactly 200k is not above 200k: standard rates.
        let at_limit = Usage {
            prompt_tokens: 200_000,
            completion_tokens: 1_000,
            ..Usage::default()
        };
        let expected = 200_000 * 3_000_000 + 1_000 * 15_000_000;
        assert_eq!(picos(sonnet().cost(&at_limit)), expected);
        assert_eq!(picos(sonnet().prompt_cost(250_000)), 250_000 * 6_000_000);
    }

    #[test]
    fn openai_cached_and_reasoning_tokens_are_subsets_and_service_tiers_have_their_prices() {
        // GPT-5: $1.25 in, $0.125 cached, $10 out; priority $2.50, $0.25, $20; flex half.
        let gpt5 = Price::per_million(1.25, 10.0, Some(0.125), None)
            .expect("price")
            .with_priority(Rates::per_million(2.5, 20.0, Some(0.25), None, None).expect("p"))
            .with_flex(Rates::per_million(0.625, 5.0, Some(0.0625), None, None).expect("f"));
        // OpenAI: prompt_tokens 1000 of which cached_tokens 400; completion_tokens 300 of
        // which reasoning_tokens 200.
        let mut usage = Usage {
            prompt_tokens: 1_000,
            cached_prompt_tokens: 400,
            completion_tokens: 300,
            reasoning_tokens: 200,
            ..Usage::default()
        };
        let standard = 600 * 1_250_000 + 400 * 125_000 + 300 * 10_000_000;
        assert_eq!(picos(gpt5.cost(&usage)), standard);
        usage.service_tier = crate::ServiceTier::Priority;
        assert_eq!(picos(gpt5.cost(&usage)), standard * 2);
        usage.service_tier = crate::ServiceTier::Flex;
        assert_eq!(picos(gpt5.cost(&usage)), standard / 2);
        // A price without tier rates bills every tier at the standard rates.
        assert_eq!(
            picos(mini().cost(&usage)),
            600 * 150_000 + 400 * 75_000 + 300 * 600_000
        );
    }

    #[test]
    fn configured_prices_win_then_the_basis_decides() {
        let table = PriceTable::new([("gpt-4o-mini".into(), mini())])
            .with_provider("openai".into(), PricingBasis::Hosted)
            .with_provider("ollama".into(), PricingBasis::Free)
            .with_price("ollama".into(), "big", mini());
        assert_eq!(table.price(&"openai".into(), "gpt-4o-mini"), Some(&mini()));
        assert_eq!(table.price(&"openai".into(), "gpt-9"), None);
        assert_eq!(
            table.price(&"ollama".into(), "llama3.2"),
            Some(&Price::FREE)
        );
        assert_eq!(table.price(&"ollama".into(), "big"), Some(&mini()));
    }

    #[test]
    fn dated_snapshots_take_the_list_price_of_their_model() {
        let table = PriceTable::new([("gpt-4o-mini".into(), mini())]);
        assert_eq!(table.list_price("gpt-4o-mini-2024-07-18"), Some(&mini()));
        assert_eq!(table.list_price("gpt-4o-mini-latest"), Some(&mini()));
        assert_eq!(table.list_price("gpt-4o-mini-20240718"), Some(&mini()));
        assert_eq!(table.list_price("gpt-4o-maxi"), None);
    }
}
