//! A `pricing` entry as a [`Price`]: its standard rates and its shapes (1-hour cache
//! writes, long-context tiers, service tiers), and the warnings its provider may need.

use infermux_core::{Price, PriceTier, Rates};

use crate::config::{Config, PriceConfig, RatesConfig};

/// The price `entry` configures; `None` only for amounts validation refuses.
pub fn configured_price(entry: &PriceConfig) -> Option<Price> {
    let standard = Rates::per_million(
        entry.input,
        entry.output,
        entry.cached_input,
        entry.cache_write,
        entry.cache_write_1h,
    )?;
    let mut price = Price::FREE.with_rates(standard);
    for tier in &entry.tiers {
        price = price.with_tier(PriceTier {
            above: tier.above,
            rates: rates(&tier.rates)?,
        })?;
    }
    if let Some(priority) = &entry.priority {
        price = price.with_priority(rates(priority)?);
    }
    if let Some(flex) = &entry.flex {
        price = price.with_flex(rates(flex)?);
    }
    Some(price)
}

fn rates(config: &RatesConfig) -> Option<Rates> {
    Rates::per_million(
        config.input,
        config.output,
        config.cached_input,
        config.cache_write,
        config.cache_write_1h,
    )
}

/// One line per `pricing` entry naming a provider the config does not have: the price is
/// kept (it applies once such a provider is added), but it may be a typo.
pub fn pricing_warnings(config: &Config) -> Vec<String> {
    let known: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
    config
        .pricing
        .iter()
        .enumerate()
        .filter(|(_, entry)| !known.contains(&entry.provider.as_str()))
        .map(|(i, entry)| {
            format!(
                "pricing[{i}] ({} {}) names provider `{}`, which is not configured (providers: {}); the price applies once a provider of that name exists",
                entry.provider,
                entry.model,
                entry.provider,
                known.join(", ")
            )
        })
        .collect()
}
