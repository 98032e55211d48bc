//! The one place where the layer order is fixed.
//!
//! Outermost first: [`Ingress`] (HTTP -> typed request, errors -> HTTP), then the concern
//! layers (keys, budget, virtual model, route group, strategy, cost; each its own crate under
//! `layers/`), then
//! [`Dispatch`] over one service per provider.

use std::sync::Arc;

use http::Response;
use infermux_core::{
    BoxError, InferBody, InferRequest, ModelCatalog, ModelSpecs, PriceTable, ProviderBoard,
    ProviderModels, ProviderName, ProviderStatus, Strategy,
};
use infermux_route_group::{GroupSpec, RouteGroupLayer, RouteTable};
use infermux_strategy::{Ranker, StrategyLayer, Unpriced};
use infermux_virtual_model::VirtualModelLayer;
use tower::{Service, ServiceBuilder};

use crate::{
    accounting::Accounting,
    config::{Config, ProviderConfig, ProviderKind, UnpricedPolicy},
    ingress::{Ingress, IngressSettings},
    provider::{
        Dispatch, HttpClient, HttpProvider, HttpProviderConfig, MockProvider, MockSettings,
        ProviderClient, WireFormat,
    },
};

/// What the proxy and the management API share: live state that one writes and the other
/// reports.
#[derive(Clone, Debug)]
pub struct Shared {
    /// Every provider's live status.
    pub board: ProviderBoard,
    /// The spend store and budgets that the cost reports read.
    pub accounting: Accounting,
    /// The prices every layer uses (the dashboard prices what routing saved).
    pub prices: PriceTable,
}

/// The assembled proxy and the state it shares with the management API.
#[derive(Debug)]
pub struct Stack<S> {
    /// The proxy service, ready to be served on the proxy port.
    pub proxy: Ingress<S>,
    /// State shared with the management API.
    pub shared: Shared,
}

/// Builds the proxy for `config`, sending upstream on `client` and accounting spend in
/// `accounting`.
pub fn build(
    config: &Config,
    client: &HttpClient,
    accounting: &Accounting,
) -> Stack<
    impl Service<InferRequest, Response = Response<InferBody>, Error = BoxError, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
    + use<>,
> {
    let catalog = catalog(config);
    let routes = route_table(config, &catalog);
    let board = ProviderBoard::new(
        config
            .providers
            .iter()
            .map(|p| ProviderStatus::new(ProviderName::new(p.name.as_str()), p.kind.as_str())),
    );
    // One model catalog for translation's output maxima and virtual models' capabilities.
    let specs = Arc::new(crate::pricing::model_specs(config));
    // Each provider behind its circuit breaker, with its local rate limit.
    let providers = config
        .providers
        .iter()
        .map(|p| crate::resilience::target(p, provider_service(p, client, &specs), &board))
        .collect();
    // One price table for every layer that prices: routing, budgets, cost.
    let prices = crate::pricing::price_table(config);
    let virtuals = crate::virtual_models::table(config, &catalog, &prices, &specs, &board);
    let settings = IngressSettings::new(
        config.max_request_body,
        routes.requestable_models().iter().chain(virtuals.names()),
    )
    .with_keys(accounting.keys().ring().clone(), config.keys.required)
    .with_request_log(
        accounting.request_log().cloned(),
        accounting.clock().clone(),
    );
    // A prompt that no layer decides by is counted only if its answer comes without usage.
    let settings = if decides_by_estimate(config) {
        settings
    } else {
        settings.with_counts_on_demand(virtuals.names())
    };
    // Keys and budgets reserve a virtual model's request at its dearest member.
    let reserving = crate::virtual_models::budget_catalog(&catalog, &virtuals);
    let keys = accounting.keys().layer(&reserving, &prices);
    let budget = accounting.budget_layer(&reserving, &prices);
    let dispatch = Dispatch::with_board(catalog, &board, providers);
    let stack = ServiceBuilder::new()
        .option_layer(crate::request_log::layer(accounting))
        .layer(keys)
        .layer(budget)
        .layer(VirtualModelLayer::new(virtuals.table))
        .layer(RouteGroupLayer::new(routes))
        .layer(StrategyLayer::new(ranker(config, prices.clone(), &board)))
        .layer(accounting.cost_layer(&prices))
        .service(dispatch);
    Stack {
        proxy: Ingress::new(stack, settings),
        shared: Shared {
            board,
            accounting: accounting.clone(),
            prices,
        },
    }
}

/// Whether a layer of the stack `config` builds decides by a request's prompt tokens: a
/// budget's reservation, a `tpm` limit's admission, `cost_weighted` routing. (Virtual models
/// and API keys decide by them too; ingress counts their requests whatever this says.)
fn decides_by_estimate(config: &Config) -> bool {
    let cost_weighted = |strategy: Option<Strategy>| strategy == Some(Strategy::CostWeighted);
    !config.budgets.callers.is_empty()
        || config.providers.iter().any(|p| {
            p.rate_limit
                .as_ref()
                .is_some_and(|limit| limit.tpm.is_some())
        })
        || cost_weighted(Some(config.routing.strategy))
        || config
            .routing
            .groups
            .iter()
            .any(|g| cost_weighted(g.strategy))
}

/// Requested model -> route group, candidates and strategy, from `routing`.
fn route_table(config: &Config, catalog: &ModelCatalog) -> RouteTable {
    let groups: Vec<GroupSpec> = config
        .routing
        .groups
        .iter()
        .map(|g| GroupSpec {
            name: g.name.as_str().into(),
            models: g.models.iter().map(|m| m.as_str().into()).collect(),
            strategy: g.strategy,
            providers: g.providers.iter().map(|p| p.as_str().into()).collect(),
        })
        .collect();
    RouteTable::new(catalog, config.routing.strategy, &groups)
}

/// The strategies' scoring: the effective prices, live provider status, `unpriced` policy.
fn ranker(config: &Config, prices: PriceTable, board: &ProviderBoard) -> Ranker {
    let unpriced = match config.unpriced {
        UnpricedPolicy::Warn => Unpriced::Warn,
        UnpricedPolicy::Reject => Unpriced::Reject,
    };
    Ranker::new(prices, board.clone(), unpriced)
}

/// Which configured provider serves which model.
pub fn catalog(config: &Config) -> ModelCatalog {
    ModelCatalog::new(
        config
            .providers
            .iter()
            .map(|p| ProviderModels {
                provider: ProviderName::new(p.name.as_str()),
                models: p.models.iter().map(|m| m.as_str().into()).collect(),
                aliases: p
                    .model_aliases
                    .iter()
                    .map(|(from, to)| (from.as_str().into(), to.as_str().into()))
                    .collect(),
            })
            .collect(),
    )
}

fn provider_service(
    provider: &ProviderConfig,
    client: &HttpClient,
    specs: &Arc<ModelSpecs>,
) -> ProviderClient {
    let wire = match provider.kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => WireFormat::OpenAi,
        ProviderKind::Anthropic => WireFormat::Anthropic,
        ProviderKind::Ollama => WireFormat::Ollama,
        ProviderKind::Mock => {
            return ProviderClient::Mock(MockProvider::new(MockSettings {
                name: provider.name.clone(),
                latency: provider.mock.latency,
                chunk_interval: provider.mock.chunk_interval,
                timeout: provider.timeout,
                reply: provider.mock.reply.clone(),
                prompt_tokens: provider.mock.prompt_tokens,
                completion_tokens: provider.mock.completion_tokens,
            }));
        }
    };
    let config = HttpProviderConfig {
        name: ProviderName::new(provider.name.as_str()),
        wire,
        base_url: provider.base_url.clone(),
        api_key: provider.api_key.as_ref().map(|k| k.expose().to_owned()),
        timeout: provider.timeout,
        specs: specs.clone(),
        responses_api: provider.kind == ProviderKind::OpenAi,
    };
    ProviderClient::Http(HttpProvider::new(config, client.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the config of one provider (with `options` in its entry) and `rest` decides
    /// by the estimate.
    fn decides(options: &str, rest: &str) -> bool {
        let yaml = format!(
            "providers:\n  - {{name: a, type: openai, api_key: sk-test, models: [gpt-4o-mini]{options}}}\n{rest}"
        );
        let config = crate::config::parse(&yaml, "infermux.yml", &|_| None).expect("config");
        decides_by_estimate(&config)
    }

    #[test]
    fn budgets_tpm_limits_and_cost_weighted_routing_decide_by_the_estimate() {
        assert!(!decides("", ""), "one provider, priority");
        assert!(!decides("", "routing: {strategy: least_latency}"));
        assert!(decides("", "routing: {strategy: cost_weighted}"));
        assert!(decides(
            "",
            "routing:\n  groups:\n    - {name: g, models: [gpt-4o-mini], strategy: cost_weighted, providers: [a]}"
        ));
        assert!(decides(
            "",
            "budgets:\n  callers:\n    - {caller: c, monthly_usd: 10, action: alert}"
        ));
        assert!(decides(", rate_limit: {tpm: 1000}", ""));
    }
}
