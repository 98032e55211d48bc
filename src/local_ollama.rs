//! Finding a local Ollama for the embedded default configuration.
//!
//! `infermux serve` without a config file serves the built-in mock provider. When an Ollama
//! answers on `localhost:11434`, it is put first: its own models are served by it, and the
//! default config's chat models are aliased to its first chat model, so a fresh machine with
//! Ollama gets real answers from the first curl.

use std::time::Duration;

use http_body_util::BodyExt;
use serde::Deserialize;

use crate::{
    config::{CircuitBreakerConfig, Config, MockConfig, ProviderConfig, ProviderKind},
    provider::HttpClient,
};

/// Ollama's default address.
pub(crate) const OLLAMA_URL: &str = "http://localhost:11434";
/// How long the probe waits: a local server answers in milliseconds.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The upstream timeout of the added provider: local models can be slow to load.
const OLLAMA_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct Tags {
    models: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

/// The models of the Ollama at `base_url`, if one answers.
async fn local_models(client: &HttpClient, base_url: &str) -> Option<Vec<String>> {
    let uri = format!("{base_url}/api/tags").parse().ok()?;
    let request = async {
        let response = client.get(uri).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response
            .into_body()
            .collect()
            .await
            .ok()
            .map(|b| b.to_bytes())
    };
    let body = tokio::time::timeout(PROBE_TIMEOUT, request).await.ok()??;
    let tags: Tags = serde_json::from_slice(&body).ok()?;
    Some(tags.models.into_iter().map(|t| t.name).collect())
}

/// Puts the Ollama at `base_url`, if one answers and has a chat model, first in `config`.
pub(crate) async fn prefer_local_ollama(config: &mut Config, client: &HttpClient, base_url: &str) {
    let Some(models) = local_models(client, base_url).await else {
        return;
    };
    let Some(chat_model) = models.iter().find(|m| !m.contains("embed")).cloned() else {
        return;
    };
    let mut served = models.clone();
    served.extend(
        models
            .iter()
            .filter_map(|m| m.strip_suffix(":latest"))
            .map(str::to_owned),
    );
    let model_aliases: Vec<(String, String)> = config
        .providers
        .iter()
        .flat_map(|p| p.models.iter())
        .filter(|m| !m.contains("embedding") && !served.contains(m))
        .map(|m| (m.clone(), chat_model.clone()))
        .collect();
    tracing::info!(model = %chat_model, url = base_url, "found a local Ollama; it serves chat models first");
    let ollama = ProviderConfig {
        name: "ollama".to_owned(),
        kind: ProviderKind::Ollama,
        api_key: None,
        base_url: base_url.to_owned(),
        models: served,
        model_aliases,
        timeout: OLLAMA_TIMEOUT,
        rate_limit: None,
        health_check: None,
        circuit_breaker: CircuitBreakerConfig::default(),
        mock: MockConfig::default(),
        max_cooldown: crate::config::DEFAULT_MAX_COOLDOWN,
    };
    config.providers.insert(0, ollama);
}

#[cfg(test)]
mod tests {
    use infermux_test_util::MockServer;

    use super::*;
    use crate::{config, provider::http_client};

    fn default_config() -> Config {
        config::parse(config::DEFAULT_CONFIG_YAML, "default", &|_| None).expect("default config")
    }

    #[tokio::test]
    async fn a_local_ollama_goes_first_and_takes_the_chat_models() {
        let ollama = MockServer::ollama().await;
        ollama.set_models(&["llama3.2:latest", "nomic-embed-text"]);
        let mut config = default_config();
        prefer_local_ollama(&mut config, &http_client(PROBE_TIMEOUT), &ollama.base_url()).await;
        let first = &config.providers[0];
        assert_eq!(
            (first.name.as_str(), first.kind),
            ("ollama", ProviderKind::Ollama)
        );
        assert!(first.models.iter().any(|m| m == "llama3.2"));
        assert!(
            first
                .model_aliases
                .contains(&("gpt-4o-mini".to_owned(), "llama3.2:latest".to_owned()))
        );
        assert!(
            !first
                .model_aliases
                .iter()
                .any(|(from, _)| from.contains("embedding"))
        );
        assert_eq!(config.providers[1].name, "mock");
    }

    #[tokio::test]
    async fn without_an_ollama_the_config_is_unchanged() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        let mut config = default_config();
        prefer_local_ollama(&mut config, &http_client(PROBE_TIMEOUT), &url).await;
        assert_eq!(config.providers.len(), 1);
    }
}
