//! The effective price table: built-in list prices, then the config's `pricing` entries.
//!
//! [`price_table`] builds what routing and accounting price requests with;
//! [`effective_prices`] lists, per configured provider, every model it can be sent with the
//! price that applies and where it comes from (`infermux pricing` prints it), and
//! [`unpriced_pairs`] names the hosted (provider, model) pairs without any price, which
//! `validate` and `serve` report.

mod list;
mod render;
mod shapes;
mod specs;

use infermux_core::{Price, PriceTable, PricingBasis, ProviderName};

pub use self::list::{LIST_PRICES, ListPrice, Source};
pub use self::render::render_table;
pub use self::shapes::{configured_price, pricing_warnings};
pub use self::specs::{BUILTIN_SPECS, builtin_specs, max_output_tokens, model_specs};
use crate::config::{Config, ProviderConfig, ProviderKind};

/// The price table for `config`: hosted providers (openai, anthropic, openai_compatible) use
/// the built-in list prices by model; ollama and mock providers cost $0; `pricing:` entries
/// override both per provider and model.
pub fn price_table(config: &Config) -> PriceTable {
    let mut table = PriceTable::new(LIST_PRICES.iter().map(|p| (p.model.into(), p.price())));
    for provider in &config.providers {
        table = table.with_provider(ProviderName::new(provider.name.as_str()), basis(provider));
    }
    for entry in &config.pricing {
        // Validation already refused negative or non-finite prices.
        if let Some(price) = configured_price(entry) {
            table = table.with_price(
                ProviderName::new(entry.provider.as_str()),
                &entry.model,
                price,
            );
        }
    }
    table
}

fn basis(provider: &ProviderConfig) -> PricingBasis {
    match provider.kind {
        ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::OpenAiCompatible => {
            PricingBasis::Hosted
        }
        ProviderKind::Ollama | ProviderKind::Mock => PricingBasis::Free,
    }
}

/// Where an effective price comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceOrigin {
    /// A `pricing:` entry of the config.
    Config,
    /// The built-in list price of the model.
    List,
    /// A local or simulated provider (ollama, mock): $0.
    Free,
    /// No price: a hosted model missing from the list and the config.
    Unpriced,
}

impl PriceOrigin {
    /// How `infermux pricing` shows it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::List => "built-in",
            Self::Free => "free (local)",
            Self::Unpriced => "UNPRICED",
        }
    }
}

/// One row of the effective table: a provider, a model it can be sent, and its price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectivePrice {
    /// The provider's name.
    pub provider: String,
    /// The model sent to it (after aliasing).
    pub model: String,
    /// The price, unless unpriced.
    pub price: Option<Price>,
    /// Where the price comes from.
    pub origin: PriceOrigin,
}

/// Every (provider, model it can be sent) pair of `config` with its effective price, in
/// declared order: each provider's `models`, then its alias targets, without repeats.
pub fn effective_prices(config: &Config) -> Vec<EffectivePrice> {
    let table = price_table(config);
    let mut rows = Vec::new();
    for provider in &config.providers {
        let name = ProviderName::new(provider.name.as_str());
        let mut models: Vec<&str> = provider.models.iter().map(String::as_str).collect();
        for (_, target) in &provider.model_aliases {
            if !models.contains(&target.as_str()) {
                models.push(target);
            }
        }
        for model in models {
            let configured = config
                .pricing
                .iter()
                .any(|p| p.provider == provider.name && p.model == model);
            let price = table.price(&name, model).copied();
            let origin = match (configured, price, basis(provider)) {
                (true, _, _) => PriceOrigin::Config,
                (false, None, _) => PriceOrigin::Unpriced,
                (false, Some(_), PricingBasis::Free) => PriceOrigin::Free,
                (false, Some(_), PricingBasis::Hosted) => PriceOrigin::List,
            };
            rows.push(EffectivePrice {
                provider: provider.name.clone(),
                model: model.to_owned(),
                price,
                origin,
            });
        }
    }
    // Configured prices of models no provider serves yet (or of providers not configured).
    for entry in &config.pricing {
        let listed = rows
            .iter()
            .any(|r| r.provider == entry.provider && r.model == entry.model);
        if !listed {
            rows.push(EffectivePrice {
                provider: entry.provider.clone(),
                model: entry.model.clone(),
                price: configured_price(entry),
                origin: PriceOrigin::Config,
            });
        }
    }
    rows
}

/// The hosted (provider, model) pairs of `config` that have no price: requests for them are
/// served and ranked last (`unpriced: warn`) or refused (`unpriced: reject`).
pub fn unpriced_pairs(config: &Config) -> Vec<(String, String)> {
    effective_prices(config)
        .into_iter()
        .filter(|row| row.origin == PriceOrigin::Unpriced)
        .map(|row| (row.provider, row.model))
        .collect()
}

/// A per-token price as USD per 1M tokens, exact: `0.15`, `2.5`, `0`.
pub fn per_million(price: infermux_core::Money) -> String {
    infermux_core::Money::from_picos(price.picos().saturating_mul(1_000_000)).to_plain_decimal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        crate::config::parse(yaml, "test.yml", &|_| Some("sk-test".to_owned())).expect("valid")
    }

    const TUTORIAL: &str = r#"
providers:
  - name: openai
    type: openai
    api_key: "${OPENAI_API_KEY}"
    models: [gpt-4o, gpt-4o-mini, text-embedding-3-small, gpt-9-preview]
  - name: anthropic
    type: anthropic
    api_key: "${ANTHROPIC_API_KEY}"
    model_aliases: {gpt-4o: claude-opus-4-5, gpt-4o-mini: claude-haiku-3-5}
  - name: ollama
    type: ollama
    models: [llama3.2]
    model_aliases: {gpt-4o-mini: llama3.2}
pricing:
  - {provider: openai, model: gpt-4o, input: 2.0, output: 8.0}
"#;

    #[test]
    fn the_tutorial_models_are_priced_as_the_guides_say() {
        let table = price_table(&config(TUTORIAL));
        let mini = table
            .price(&"openai".into(), "gpt-4o-mini")
            .expect("priced");
        assert_eq!(mini.prompt_cost(8).to_plain_decimal(), "0.0000012");
        let haiku = table
            .price(&"anthropic".into(), "claude-haiku-3-5")
            .expect("priced");
        assert_eq!(haiku.prompt_cost(8).to_plain_decimal(), "0.0000064");
        assert_eq!(
            table.price(&"ollama".into(), "llama3.2"),
            Some(&Price::FREE)
        );
    }

    #[test]
    fn config_entries_override_list_prices_for_their_provider_only() {
        let table = price_table(&config(TUTORIAL));
        let gpt4o = table.price(&"openai".into(), "gpt-4o").expect("priced");
        assert_eq!(per_million(gpt4o.input), "2");
        let list = table.list_price("gpt-4o").expect("listed");
        assert_eq!(per_million(list.input), "2.5");
    }

    #[test]
    fn effective_rows_mark_origins_and_unpriced_pairs_are_named() {
        let cfg = config(TUTORIAL);
        let rows = effective_prices(&cfg);
        let origin = |provider: &str, model: &str| {
            rows.iter()
                .find(|r| r.provider == provider && r.model == model)
                .map(|r| r.origin)
        };
        assert_eq!(origin("openai", "gpt-4o"), Some(PriceOrigin::Config));
        assert_eq!(origin("openai", "gpt-4o-mini"), Some(PriceOrigin::List));
        assert_eq!(
            origin("anthropic", "claude-opus-4-5"),
            Some(PriceOrigin::List)
        );
        assert_eq!(origin("ollama", "llama3.2"), Some(PriceOrigin::Free));
        assert_eq!(
            unpriced_pairs(&cfg),
            [("openai".to_owned(), "gpt-9-preview".to_owned())]
        );
    }

    #[test]
    fn list_prices_are_valid_unique_and_resolve_snapshots() {
        let mut models: Vec<&str> = LIST_PRICES.iter().map(|p| p.model).collect();
        models.sort_unstable();
        let count = models.len();
        models.dedup();
        assert_eq!(models.len(), count, "duplicate list price");
        for entry in LIST_PRICES {
            let price = Price::per_million(
                entry.input,
                entry.output,
                entry.cached_input,
                entry.cache_write,
            );
            assert!(price.is_some_and(|p| !p.is_free()), "{}", entry.model);
        }
        let table = PriceTable::new(LIST_PRICES.iter().map(|p| (p.model.into(), p.price())));
        for (snapshot, model) in [
            ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
            ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("mistral-large-latest", "mistral-large"),
        ] {
            assert_eq!(
                table.list_price(snapshot),
                table.list_price(model),
                "{snapshot}"
            );
            assert!(table.list_price(model).is_some(), "{model}");
        }
    }

    /// The worked examples of docs/cost-and-budgets.md, "Pricing shapes", at the built-in
    /// prices, each computed with the provider's own billing formula.
    #[test]
    fn the_worked_examples_of_the_pricing_shapes_cost_what_the_guide_says() {
        use infermux_core::{ServiceTier, Usage};
        let table = PriceTable::new(LIST_PRICES.iter().map(|p| (p.model.into(), p.price())));
        let cost = |model: &str, usage: Usage| {
            table
                .list_price(model)
                .expect("listed")
                .cost(&usage)
                .to_plain_decimal()
        };
        // Anthropic: input_tokens 1000, cache_read_input_tokens 20000,
        // cache_creation_input_tokens 3000 (ephemeral_1h_input_tokens 2000), output 500:
        // 1000 × $4 + 20000 × $0.20 + 1000 × $5 + 2000 × $8 + 500 × $20 = $0.039.
        let anthropic = Usage {
            prompt_tokens: 1_000 + 20_000 + 3_000,
            cached_prompt_tokens: 20_000,
            cache_creation_tokens: 3_000,
            cache_creation_1h_tokens: 2_000,
            completion_tokens: 500,
            ..Usage::default()
        };
        assert_eq!(cost("claude-opus-5-5", anthropic), "0.039");
        // OpenAI, long context: prompt_tokens 300000 (cached_tokens 250000), completion 2000:
        // above 272K, 50000 × $4 + 250000 × $0.20 + 2000 × $15 = $0.28.
        let long = Usage {
            prompt_tokens: 300_000,
            cached_prompt_tokens: 250_000,
            completion_tokens: 2_000,
            ..Usage::default()
        };
        assert_eq!(cost("gpt-6.2-sol", long), "0.28");
        let short = Usage {
            prompt_tokens: 272_000,
            ..long
        };
        // At 272000 (not above): 22000 × $2 + 250000 × $0.10 + 2000 × $10 = $0.089.
        assert_eq!(cost("gpt-6.2-sol", short), "0.089");
        // OpenAI, service_tier priority: 600 × $2.50 + 400 × $0.25 + 300 × $20 = $0.0076;
        // flex: half the standard $0.0038.
        let mut tiered = Usage {
            prompt_tokens: 1_000,
            cached_prompt_tokens: 400,
            completion_tokens: 300,
            reasoning_tokens: 200,
            service_tier: ServiceTier::Priority,
            ..Usage::default()
        };
        assert_eq!(cost("gpt-5", tiered), "0.0076");
        tiered.service_tier = ServiceTier::Flex;
        assert_eq!(cost("gpt-5", tiered), "0.0019");
        tiered.service_tier = ServiceTier::Standard;
        assert_eq!(cost("gpt-5", tiered), "0.0038");
    }

    #[test]
    fn docs_pricing_lists_every_entry_with_its_price_source_and_date() {
        let docs = include_str!("../../docs/pricing.md");
        for entry in LIST_PRICES {
            let row = docs
                .lines()
                .find(|l| l.starts_with(&format!("| `{}` |", entry.model)))
                .unwrap_or_else(|| panic!("docs/pricing.md has no row for {}", entry.model));
            let figures = |usd: Option<f64>| {
                usd.map_or("-".to_owned(), |u| {
                    format!("{u:.3}")
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_owned()
                })
            };
            for figure in [
                figures(Some(entry.input)),
                figures(Some(entry.output)),
                figures(entry.cached_input),
                figures(entry.cache_write),
            ] {
                assert!(
                    row.split('|').any(|cell| cell.trim() == figure),
                    "{row}: missing {figure}"
                );
            }
            assert!(row.contains(entry.as_of), "{row}: as-of date");
            assert!(row.contains(entry.source.vendor()), "{row}: source");
        }
    }
}
