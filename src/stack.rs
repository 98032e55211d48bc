//! The one place where the layer order is fixed.
//!
//! Outermost first: [`Ingress`] (HTTP -> typed request, errors -> HTTP), then the concern
//! layers (budget, route group, strategy, cost; each lands as its own crate under `layers/`),
//! then [`Dispatch`] over one service per provider.

use std::collections::HashMap;

use infermux_core::{ModelCatalog, ProviderModels, ProviderName};
use tower::util::BoxCloneSyncService;

use crate::{
    config::{Config, ProviderConfig, ProviderKind},
    ingress::{Ingress, IngressSettings},
    provider::{
        Dispatch, HttpClient, HttpProvider, HttpProviderConfig, MockProvider, MockSettings,
        ProviderService, WireFormat,
    },
};

/// The assembled proxy service, ready to be served on the proxy port.
pub type Proxy = Ingress<Dispatch>;

/// Builds the proxy for `config`, sending upstream on `client`.
pub fn proxy(config: &Config, client: &HttpClient) -> Proxy {
    let catalog = catalog(config);
    let settings = IngressSettings::new(config.max_request_body, catalog.requestable_models());
    let providers: HashMap<ProviderName, ProviderService> = config
        .providers
        .iter()
        .map(|p| {
            (
                ProviderName::new(p.name.as_str()),
                provider_service(p, client),
            )
        })
        .collect();
    Ingress::new(Dispatch::new(catalog, providers), settings)
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

fn provider_service(provider: &ProviderConfig, client: &HttpClient) -> ProviderService {
    let wire = match provider.kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => WireFormat::OpenAi,
        ProviderKind::Anthropic => WireFormat::Anthropic,
        ProviderKind::Ollama => WireFormat::Ollama,
        ProviderKind::Mock => {
            return BoxCloneSyncService::new(MockProvider::new(MockSettings {
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
    };
    BoxCloneSyncService::new(HttpProvider::new(config, client.clone()))
}
