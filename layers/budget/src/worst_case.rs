//! The most a request can cost, before routing has chosen who serves it.

use std::sync::Arc;

use hashbrown::HashMap;
use infermux_core::{InferRequest, ModelCatalog, Money, Price, PriceTable, RequestBody};

/// Output tokens assumed for a chat request that sets neither `max_tokens` nor
/// `max_completion_tokens`.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Prices a request's worst case for its reservation.
///
/// The budget layer runs before routing, so it does not know which provider will serve a
/// request: it takes the highest input and the highest output price among every provider
/// that can serve the requested model (their aliased models included); the input price is the
/// dearest of input and cache write (the 1-hour cache write when the request asks for
/// `cache_control.ttl: "1h"`), since every prompt token may be written to the cache. The
/// worst case is then the prompt estimate at that input price plus the allowed output tokens
/// (`max_completion_tokens`, else `max_tokens`, else [`DEFAULT_MAX_TOKENS`]) at that output
/// price. An unpriced model is reserved at $0, as it is recorded.
///
/// The prices of each model's candidates are looked up once, when it is built: a request
/// then costs one lookup by the model it names.
#[derive(Clone, Debug)]
pub struct WorstCase {
    /// For each model a client may request, the prices of the providers that serve it.
    candidates: Arc<HashMap<Arc<str>, Box<[Price]>>>,
    default_max_tokens: u64,
}

/// A request's worst-case price, per token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WorstPrice {
    /// The prompt at the highest input price.
    pub(crate) prompt: Money,
    /// The highest output price per token.
    pub(crate) output: Money,
    /// The output tokens the request may produce.
    pub(crate) output_tokens: u64,
}

impl WorstPrice {
    /// The reservation for `output_tokens` output tokens.
    pub(crate) fn with_output(&self, output_tokens: u64) -> Money {
        self.prompt.saturating_add(self.output.times(output_tokens))
    }

    /// The reservation for the whole worst case.
    pub(crate) fn total(&self) -> Money {
        self.with_output(self.output_tokens)
    }
}

impl WorstCase {
    /// Prices requests with `prices`, over the providers of `catalog`.
    pub fn new(catalog: ModelCatalog, prices: PriceTable) -> Self {
        let candidates = catalog
            .requestable_models()
            .into_iter()
            .map(|model| {
                let priced = catalog
                    .serving(&model)
                    .filter_map(|(provider, upstream_model)| prices.price(provider, upstream_model))
                    .cloned()
                    .collect();
                (model, priced)
            })
            .collect();
        Self {
            candidates: Arc::new(candidates),
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }

    /// Assumes `tokens` output tokens when a chat request does not bound them.
    #[must_use]
    pub fn with_default_max_tokens(mut self, tokens: u64) -> Self {
        self.default_max_tokens = tokens;
        self
    }

    /// The most `request` can cost: what a reservation for it holds (the key layer's
    /// per-key caps reserve this too).
    pub fn total(&self, request: &InferRequest) -> Money {
        self.price(request).total()
    }

    /// The worst case of `request`.
    pub(crate) fn price(&self, request: &InferRequest) -> WorstPrice {
        let (mut input, mut output) = (Money::ZERO, Money::ZERO);
        let long_cache = crate::cache_ttl::asks_for_1h_cache(request);
        let priced = self.candidates.get(request.body.model());
        for price in priced.into_iter().flatten() {
            // A long prompt is priced at its long-context tier, every token of it.
            let rates = price.rates_for_prompt(request.estimate.prompt_tokens);
            let write = rates.cache_write.unwrap_or_default();
            // A 1-hour cache write is billed at its own (dearer) rate.
            let write_1h = if long_cache {
                rates.cache_write_1h.unwrap_or(write)
            } else {
                Money::ZERO
            };
            input = input.max(rates.input).max(write).max(write_1h);
            output = output.max(rates.output);
        }
        let output_tokens = match &request.body {
            RequestBody::Chat(chat) => chat
                .max_completion_tokens
                .or(chat.max_tokens)
                .unwrap_or(self.default_max_tokens),
            RequestBody::Embeddings(_) => 0,
        };
        WorstPrice {
            prompt: input.times(request.estimate.prompt_tokens),
            output,
            output_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use infermux_core::{Price, ProviderModels, RequestBody, chat::ChatRequest};

    use super::*;

    #[test]
    fn the_dearest_candidate_prices_the_worst_case() {
        let catalog = ModelCatalog::new(vec![
            ProviderModels {
                provider: "openai".into(),
                models: vec!["gpt-4o-mini".into()],
                aliases: vec![],
            },
            ProviderModels {
                provider: "anthropic".into(),
                models: vec![],
                aliases: vec![("gpt-4o-mini".into(), "claude-haiku-3-5".into())],
            },
        ]);
        let prices = PriceTable::default()
            .with_price(
                "openai".into(),
                "gpt-4o-mini",
                Price::per_million(0.15, 0.60, None, None).expect("valid"),
            )
            .with_price(
                "anthropic".into(),
                "claude-haiku-3-5",
                Price::per_million(0.80, 4.0, None, None).expect("valid"),
            );
        let chat: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10
        }))
        .expect("chat");
        let mut request = InferRequest::new(RequestBody::Chat(chat), "a".into(), "r".into());
        request.estimate.prompt_tokens = 8;
        let worst = WorstCase::new(catalog, prices).price(&request);
        // 8 × $0.80/M + 10 × $4/M
        assert_eq!(
            worst.total(),
            Money::from_picos(8 * 800_000 + 10 * 4_000_000)
        );
    }

    #[test]
    fn a_one_hour_cache_write_is_reserved_at_its_own_rate() {
        let catalog = ModelCatalog::new(vec![ProviderModels {
            provider: "anthropic".into(),
            models: vec!["claude-sonnet-4-5".into()],
            aliases: vec![],
        }]);
        // Anthropic's list: input $3, output $15, 5-minute write $3.75, 1-hour write $6.
        let rates = infermux_core::Rates::per_million(3.0, 15.0, Some(0.3), Some(3.75), Some(6.0))
            .expect("rates");
        let price = Price::FREE.with_rates(rates);
        let prices =
            PriceTable::default().with_price("anthropic".into(), "claude-sonnet-4-5", price);
        let worst = WorstCase::new(catalog, prices);
        let request = |ttl: serde_json::Value| {
            let chat: ChatRequest = serde_json::from_value(serde_json::json!({
                "model": "claude-sonnet-4-5", "max_tokens": 10,
                "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "hi", "cache_control": ttl}
                ]}]
            }))
            .expect("chat");
            let mut request = InferRequest::new(RequestBody::Chat(chat), "a".into(), "r".into());
            request.estimate.prompt_tokens = 1000;
            request
        };
        let five_minutes = request(serde_json::json!({"type": "ephemeral"}));
        assert_eq!(
            worst.total(&five_minutes),
            Money::from_picos(1000 * 3_750_000 + 10 * 15_000_000)
        );
        let one_hour = request(serde_json::json!({"type": "ephemeral", "ttl": "1h"}));
        assert_eq!(
            worst.total(&one_hour),
            Money::from_picos(1000 * 6_000_000 + 10 * 15_000_000)
        );
    }

    #[test]
    fn a_long_prompt_is_reserved_at_its_long_context_rates() {
        let catalog = ModelCatalog::new(vec![ProviderModels {
            provider: "openai".into(),
            models: vec!["long".into()],
            aliases: vec![],
        }]);
        let long = infermux_core::Rates::per_million(4.0, 15.0, None, None, None).expect("r");
        let price = Price::per_million(2.0, 10.0, None, None)
            .expect("valid")
            .with_tier(infermux_core::PriceTier {
                above: 100,
                rates: long,
            })
            .expect("tier");
        let prices = PriceTable::default().with_price("openai".into(), "long", price);
        let chat: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "long", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10
        }))
        .expect("chat");
        let mut request = InferRequest::new(RequestBody::Chat(chat), "a".into(), "r".into());
        let worst = WorstCase::new(catalog, prices);
        request.estimate.prompt_tokens = 100;
        assert_eq!(
            worst.price(&request).total(),
            Money::from_picos(100 * 2_000_000 + 10 * 10_000_000)
        );
        request.estimate.prompt_tokens = 101;
        assert_eq!(
            worst.price(&request).total(),
            Money::from_picos(101 * 4_000_000 + 10 * 15_000_000)
        );
    }
}
