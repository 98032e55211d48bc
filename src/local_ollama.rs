//! Finding a local Ollama for the embedded default configuration.
//!
//! `infermux serve` without a config file serves the built-in mock provider. When an Ollama
//! answers on `localhost:11434`, it is put first: its own models are served by it, and the
//! default config's chat models are aliased to its first chat model, so a fresh machine with
//! Ollama gets real answers from the first curl.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;

use crate::{
    config::{Config, ProviderConfig, ProviderKind},
    provider::HttpClient,
};

/// Ollama's default address.
const OLLAMA_URL: &str = "http://localhost:11434";
/// How long the probe waits: a local server answers in milliseconds.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
struct Tags {
    models: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

/// The models of the Ollama on localhost, if one answers.
async fn local_models(client: &HttpClient) -> Option<Vec<String>> {
    let uri = format!("{OLLAMA_URL}/api/tags").parse().ok()?;
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
    let body: Bytes = tokio::time::timeout(PROBE_TIMEOUT, request).await.ok()??;
    let tags: Tags = serde_json::from_slice(&body).ok()?;
    Some(tags.models.into_iter().map(|t| t.name).collect())
}

/// Puts a local Ollama, if one answers, first in the default `config`.
pub(crate) async fn prefer_local_ollama(config: &mut Config, client: &HttpClient) {
    let Some(models) = local_models(client).await else {
        return;
    };
    let Some(chat_model) = models.iter().find(|m| !m.contains("embed")).cloned() else {
        return;
    };
    let mut served: Vec<String> = models.clone();
    served.extend(
        models
            .iter()
            .filter_map(|m| m.strip_suffix(":latest"))
            .map(str::to_owned),
    );
    let aliases: Vec<(String, String)> = config
        .providers
        .iter()
        .flat_map(|p| p.models.iter())
        .filter(|m| !m.contains("embedding") && !served.contains(m))
        .map(|m| (m.clone(), chat_model.clone()))
        .collect();
    tracing::info!(model = %chat_model, "found Ollama on localhost:11434; it serves chat models first");
    let ollama = ProviderConfig {
        name: "ollama".to_owned(),
        kind: ProviderKind::Ollama,
        api_key: None,
        base_url: OLLAMA_URL.to_owned(),
        models: served,
        model_aliases: aliases,
        ..config.providers[0].clone()
    };
    config.providers.insert(0, ollama);
}
