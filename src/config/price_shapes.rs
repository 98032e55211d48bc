//! The pricing shapes of a `pricing` entry beyond its standard rates: `cache_write_1h`,
//! long-context `tiers`, and `priority` / `flex` service-tier rates.

use super::error::Issue;
use super::file::{FilePrice, FileRates};
use super::locate::{index_path, key_path};
use super::model::{PriceTierConfig, RatesConfig};

/// Long-context tiers a price may have (the price table holds this many).
const MAX_TIERS: usize = infermux_core::MAX_PRICE_TIERS;

/// The shapes of `price` (at `path`), checked: amounts 0 or more, each tier with a distinct
/// `above`, service tiers without one.
pub(super) struct Shapes {
    pub(super) cache_write_1h: Option<f64>,
    pub(super) tiers: Vec<PriceTierConfig>,
    pub(super) priority: Option<RatesConfig>,
    pub(super) flex: Option<RatesConfig>,
}

pub(super) fn shapes(path: &str, price: &mut FilePrice) -> Result<Shapes, Issue> {
    amount(&key_path(path, "cache_write_1h"), price.cache_write_1h)?;
    let file_tiers = price.tiers.take().unwrap_or_default();
    if file_tiers.len() > MAX_TIERS {
        return Err(Issue::new(
            key_path(path, "tiers"),
            format!(
                "{} tiers; a price has at most {MAX_TIERS}",
                file_tiers.len()
            ),
            "keep the long-context tiers the provider publishes, such as one `above: 200000`",
        ));
    }
    let mut tiers: Vec<PriceTierConfig> = Vec::with_capacity(file_tiers.len());
    for (i, tier) in file_tiers.iter().enumerate() {
        let tier_path = index_path(&key_path(path, "tiers"), i);
        let Some(above) = tier.above else {
            return Err(Issue::new(
                tier_path.as_str(),
                "a tier without `above`",
                "a long-context tier starts above a prompt size: `above: 200000`",
            ));
        };
        if tiers.iter().any(|t| t.above == above) {
            return Err(Issue::new(
                key_path(&tier_path, "above"),
                format!("a second tier above {above} tokens"),
                "give each tier its own `above`",
            ));
        }
        tiers.push(PriceTierConfig {
            above,
            rates: rates(&tier_path, tier)?,
        });
    }
    tiers.sort_by_key(|t| t.above);
    let service = |key: &str, file: Option<FileRates>| -> Result<Option<RatesConfig>, Issue> {
        let Some(file) = file else {
            return Ok(None);
        };
        let service_path = key_path(path, key);
        if file.above.is_some() {
            return Err(Issue::new(
                key_path(&service_path, "above"),
                "a service tier's prices apply to every prompt size",
                "remove `above`; long-context prices go in `tiers`",
            ));
        }
        rates(&service_path, &file).map(Some)
    };
    let priority = service("priority", price.priority.take())?;
    let flex = service("flex", price.flex.take())?;
    Ok(Shapes {
        cache_write_1h: price.cache_write_1h,
        tiers,
        priority,
        flex,
    })
}

fn rates(path: &str, file: &FileRates) -> Result<RatesConfig, Issue> {
    amount(&key_path(path, "input"), Some(file.input))?;
    amount(&key_path(path, "output"), Some(file.output))?;
    amount(&key_path(path, "cached_input"), file.cached_input)?;
    amount(&key_path(path, "cache_write"), file.cache_write)?;
    amount(&key_path(path, "cache_write_1h"), file.cache_write_1h)?;
    Ok(RatesConfig {
        input: file.input,
        output: file.output,
        cached_input: file.cached_input,
        cache_write: file.cache_write,
        cache_write_1h: file.cache_write_1h,
    })
}

fn amount(path: &str, amount: Option<f64>) -> Result<(), Issue> {
    match amount {
        Some(amount) if !(amount.is_finite() && amount >= 0.0) => Err(Issue::new(
            path,
            format!("the price {amount} is negative or not a number"),
            "prices are USD per 1M tokens, 0 or more, such as 0.15",
        )),
        _ => Ok(()),
    }
}
