//! Active health checks: one background task per provider with a `health_check`, feeding the
//! board's `healthy` flag, which routing and dispatch respect.
//!
//! A check is one cheap GET with the provider's own authentication, never a completion:
//! `GET {base_url}/models` for OpenAI and OpenAI-compatible servers, `GET {base_url}/v1/models`
//! for Anthropic, `GET {base_url}/api/tags` for Ollama. A 2xx answer within `timeout` is
//! healthy; anything else (an error status, a refused connection, no answer in time) is not.
//! One check decides: the flag follows the latest result. Checks are not traffic: they touch
//! neither the request counts, the latency average, the circuit breaker nor any cost.
//!
//! The first check runs at start-up, so a provider that is down is marked before a request is
//! sent to it. The built-in `mock` provider is never checked.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use infermux_core::{ProviderBoard, ProviderName, ProviderStatus};
use tokio::time::MissedTickBehavior;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    config::{Config, HealthCheckConfig, ProviderConfig, ProviderKind},
    provider::{HttpClient, WireFormat},
};

/// How much of a health answer is read (and then discarded, so the connection is reused).
const BODY_LIMIT: usize = 1024 * 1024;

/// Spawns a health-check task for every provider with a `health_check` (its own or the
/// top-level default) onto `tasks`; each stops when `shutdown` is cancelled.
pub fn spawn(
    config: &Config,
    client: &HttpClient,
    board: &ProviderBoard,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    for provider in &config.providers {
        let Some(check) = HealthCheck::new(provider, client, board) else {
            continue;
        };
        tasks.spawn(check.run(shutdown.clone()));
    }
}

/// One provider's health check.
struct HealthCheck {
    name: ProviderName,
    uri: Uri,
    headers: http::HeaderMap,
    settings: HealthCheckConfig,
    client: HttpClient,
    status: Arc<ProviderStatus>,
    healthy_gauge: metrics::Gauge,
}

impl HealthCheck {
    fn new(provider: &ProviderConfig, client: &HttpClient, board: &ProviderBoard) -> Option<Self> {
        let settings = provider.health_check?;
        let (wire, path) = match provider.kind {
            ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => {
                (WireFormat::OpenAi, "/models")
            }
            ProviderKind::Anthropic => (WireFormat::Anthropic, "/v1/models"),
            ProviderKind::Ollama => (WireFormat::Ollama, "/api/tags"),
            ProviderKind::Mock => return None,
        };
        let name = ProviderName::new(provider.name.as_str());
        let status = board.get(&name)?.clone();
        let uri: Uri = match format!("{}{path}", provider.base_url).parse() {
            Ok(uri) => uri,
            Err(error) => {
                tracing::warn!(provider = %name, %error, "health check URL does not parse; not checking");
                return None;
            }
        };
        let mut headers = wire.request_headers(provider.api_key.as_ref().map(|k| k.expose()));
        headers.remove(header::CONTENT_TYPE);
        let healthy_gauge =
            metrics::gauge!("infermux_provider_healthy", "provider" => name.to_string());
        healthy_gauge.set(1.0);
        Some(Self {
            name,
            uri,
            headers,
            settings,
            client: client.clone(),
            status,
            healthy_gauge,
        })
    }

    async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let result = tokio::select! {
                result = self.check() => result,
                () = shutdown.cancelled() => return,
            };
            self.publish(result);
        }
    }

    /// One check: `Ok` when healthy, else why not.
    async fn check(&self) -> Result<(), String> {
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.method_mut() = Method::GET;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("connection failed: {e}"))?;
            let status = response.status();
            // Read the answer so the pooled connection can be reused.
            let _ = Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("HTTP {}", status.as_u16()))
            }
        };
        let timeout = self.settings.timeout;
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {}",
                    humantime::format_duration(timeout)
                ))
            })
    }

    fn publish(&self, result: Result<(), String>) {
        let healthy = result.is_ok();
        let outcome = if healthy { "healthy" } else { "unhealthy" };
        metrics::counter!("infermux_health_checks_total",
            "provider" => self.name.to_string(), "result" => outcome)
        .increment(1);
        self.healthy_gauge.set(if healthy { 1.0 } else { 0.0 });
        let was = self.status.healthy();
        self.status.set_healthy(healthy);
        match result {
            Err(reason) if was => tracing::warn!(
                provider = %self.name, %reason, "health check failed; provider out of rotation"
            ),
            Ok(()) if !was => {
                tracing::info!(provider = %self.name, "health check passed; provider back in rotation");
            }
            _ => {}
        }
    }
}
