//! The effective price table: built-in list prices, then the config's `pricing` entries.

mod list;

use infermux_core::{Price, PriceTable, PricingBasis, ProviderName};

pub use self::list::{LIST_PRICES, ListPrice};
use crate::config::{Config, ProviderKind};

/// The price table for `config`: hosted providers (openai, anthropic, openai_compatible) use
/// the built-in list prices by model; ollama and mock providers cost $0; `pricing:` entries
/// override both per provider and model.
pub fn price_table(config: &Config) -> PriceTable {
    let mut table = PriceTable::new(LIST_PRICES.iter().map(|p| (p.model.into(), p.price())));
    for provider in &config.providers {
        let basis = match provider.kind {
            ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::OpenAiCompatible => {
                PricingBasis::Hosted
            }
            ProviderKind::Ollama | ProviderKind::Mock => PricingBasis::Free,
        };
        table = table.with_provider(ProviderName::new(provider.name.as_str()), basis);
    }
    for entry in &config.pricing {
        // Validation already refused negative or non-finite prices.
        if let Some(price) = Price::per_million(
            entry.input,
            entry.output,
            entry.cached_input,
            entry.cache_write,
        ) {
            table = table.with_price(
                ProviderName::new(entry.provider.as_str()),
                &entry.model,
                price,
            );
        }
    }
    table
}
