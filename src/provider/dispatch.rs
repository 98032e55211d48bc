//! The leaf of the stack: tries the request's candidates in order until one answers.
//!
//! Routing layers before dispatch decide the candidates and their order ([`RouteContext`]);
//! when none ran, dispatch takes every provider that can serve the requested model in declared
//! order. Each candidate is tried at most once:
//!
//! 1. a provider whose last health check failed is skipped;
//! 2. a provider whose gate is not ready is skipped: its circuit is open, its half-open probe
//!    is in flight, or it is cooling down after a 429 (see `infermux_breaker`);
//! 3. a provider at its local rate limit (requests, or the request's estimated tokens per
//!    minute) is skipped;
//! 4. otherwise the request is sent. A provider fault (connect error, timeout, 429, 5xx, a
//!    broken or malformed response before the first byte reached the client) moves on to the
//!    next candidate; a provider's own 4xx answer is returned as is.
//!
//! When every candidate was skipped, the request fails with [`NoHealthyProvider`] (503);
//! when some were tried and all failed, with [`AllProvidersFailed`] (502), which lists each
//! failure and each skip. Streams are returned as soon as their first chunk is decoded and
//! then pass through chunk by chunk; a stream that breaks later is never retried.
//!
//! Dispatch records each attempt on the [`ProviderBoard`]: time to first byte into the latency
//! average, and the request and error counts.
//!
//! [`RouteContext`]: infermux_core::RouteContext

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::{FutureExt, future::BoxFuture};
use http::{HeaderValue, Response};
use infermux_core::{
    BoxError, Candidate, CircuitState, InferBody, InferRequest, ModelCatalog, ProviderBoard,
    ProviderName, ProviderStatus, Served,
};
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::{DispatchTarget, ProviderCall, ProviderError, ProviderService, TargetService};
use crate::error::ModelNotFound;

/// Header naming the provider that served a response.
pub const PROVIDER_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-provider");
/// Header naming the model sent to that provider.
pub const MODEL_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-model");

/// Why dispatch passed over a candidate without sending it the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Its last health check failed.
    Unhealthy,
    /// Its circuit is open.
    CircuitOpen,
    /// Its circuit is half-open and the one probe is in flight.
    ProbeInFlight,
    /// It asked for a pause with a 429 (`Retry-After`, or a quota error).
    CoolingDown,
    /// It is at its local `rate_limit`.
    RateLimited,
}

impl Skip {
    /// How the reason reads in error messages (`circuit open`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unhealthy => "unhealthy",
            Self::CircuitOpen => "circuit open",
            Self::ProbeInFlight => "circuit half-open, probe in flight",
            Self::CoolingDown => "cooling down after a 429",
            Self::RateLimited => "at its local rate limit",
        }
    }

    /// The `reason` label of `infermux_provider_skipped_total` (`circuit_open`).
    fn label(self) -> &'static str {
        match self {
            Self::Unhealthy => "unhealthy",
            Self::CircuitOpen => "circuit_open",
            Self::ProbeInFlight => "probe_in_flight",
            Self::CoolingDown => "cooldown",
            Self::RateLimited => "rate_limited",
        }
    }
}

fn write_skipped(f: &mut fmt::Formatter<'_>, skipped: &[(ProviderName, Skip)]) -> fmt::Result {
    for (i, (provider, skip)) in skipped.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{provider} ({})", skip.as_str())?;
    }
    Ok(())
}

/// Every candidate was passed over: open circuits, failed health checks, rate limits.
#[derive(Debug)]
pub struct NoHealthyProvider {
    skipped: Vec<(ProviderName, Skip)>,
}

impl NoHealthyProvider {
    /// Each candidate and why it was skipped, in candidate order.
    pub fn skipped(&self) -> &[(ProviderName, Skip)] {
        &self.skipped
    }
}

impl fmt::Display for NoHealthyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no healthy provider can take the request: ")?;
        write_skipped(f, &self.skipped)
    }
}

impl std::error::Error for NoHealthyProvider {}

/// Every candidate that was tried failed; lists each provider's error, and the candidates
/// that were skipped.
#[derive(Debug)]
pub struct AllProvidersFailed {
    failures: Vec<(ProviderName, ProviderError)>,
    skipped: Vec<(ProviderName, Skip)>,
}

impl AllProvidersFailed {
    /// Whether every candidate refused the request as something its API cannot express, in
    /// which case the request itself is at fault.
    pub fn all_rejected_request(&self) -> bool {
        self.skipped.is_empty() && self.failures.iter().all(|(_, e)| !e.is_provider_fault())
    }

    /// Each provider and its error, in the order they were tried.
    pub fn failures(&self) -> &[(ProviderName, ProviderError)] {
        &self.failures
    }

    /// The candidates passed over, and why.
    pub fn skipped(&self) -> &[(ProviderName, Skip)] {
        &self.skipped
    }
}

impl fmt::Display for AllProvidersFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every provider failed: ")?;
        for (i, (provider, error)) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{provider}: {error}")?;
        }
        if !self.skipped.is_empty() {
            f.write_str("; skipped: ")?;
            write_skipped(f, &self.skipped)?;
        }
        Ok(())
    }
}

impl std::error::Error for AllProvidersFailed {}

/// The provider-dispatch service.
#[derive(Clone)]
pub struct Dispatch {
    inner: Arc<DispatchInner>,
}

struct DispatchInner {
    catalog: ModelCatalog,
    /// hashbrown's map: looked up on every attempt, keyed by configured names.
    providers: hashbrown::HashMap<ProviderName, Provider>,
}

/// One provider's target, status and pre-registered counters (no per-request label
/// allocation on the hot path).
struct Provider {
    target: DispatchTarget,
    status: Option<Arc<ProviderStatus>>,
    served: metrics::Counter,
    failovers: metrics::Counter,
    /// `X-Infermux-Provider` for its answers, made once.
    header: Option<HeaderValue>,
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("catalog", &self.inner.catalog)
            .finish_non_exhaustive()
    }
}

impl Dispatch {
    /// Dispatches over `providers`, without health, circuit or rate-limit state; `catalog`
    /// says which of them serves which model.
    ///
    /// Per-provider metrics are registered here, with the global `metrics` recorder of the
    /// moment: install yours first.
    pub fn new(catalog: ModelCatalog, providers: HashMap<ProviderName, ProviderService>) -> Self {
        let providers = providers.into_iter().map(|(n, s)| (n, s.into())).collect();
        Self::with_board(catalog, &ProviderBoard::default(), providers)
    }

    /// Dispatches over `providers`, skipping those the `board` marks unhealthy and recording
    /// each attempt on it.
    pub fn with_board(
        catalog: ModelCatalog,
        board: &ProviderBoard,
        providers: HashMap<ProviderName, DispatchTarget>,
    ) -> Self {
        let providers = providers
            .into_iter()
            .map(|(name, target)| {
                let served = metrics::counter!("infermux_provider_attempts_total",
                    "provider" => name.to_string(), "outcome" => "ok");
                let failovers =
                    metrics::counter!("infermux_failovers_total", "provider" => name.to_string());
                let provider = Provider {
                    target,
                    status: board.get(&name).cloned(),
                    served,
                    failovers,
                    header: HeaderValue::from_str(name.as_str()).ok(),
                };
                (name, provider)
            })
            .collect();
        Self {
            inner: Arc::new(DispatchInner { catalog, providers }),
        }
    }
}

impl Service<InferRequest> for Dispatch {
    type Response = Response<InferBody>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<InferBody>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: InferRequest) -> Self::Future {
        let inner = self.inner.clone();
        let mut candidates = std::mem::take(&mut request.route.candidates);
        if candidates.is_empty() {
            candidates = inner.catalog.candidates(request.body.model());
        }
        if candidates.is_empty() {
            let error = ModelNotFound::new(request.body.model()).into();
            return Box::pin(std::future::ready(Err(error)));
        }
        let tokens =
            request.estimate.prompt_tokens + request.estimate.max_completion_tokens.unwrap_or(0);
        // Shared by the attempts, and out of the future, which then stays small.
        let request = Arc::new(request);
        Box::pin(async move {
            let mut failures = Vec::new();
            let mut skipped = Vec::new();
            let last = candidates.len() - 1;
            for (attempt, candidate) in candidates.into_iter().enumerate() {
                let Some(provider) = inner.providers.get(&candidate.provider) else {
                    continue;
                };
                let mut service = match provider.admit(tokens) {
                    Ok(service) => service,
                    Err(skip) => {
                        tracing::debug!(
                            request_id = %request.request_id,
                            provider = %candidate.provider,
                            reason = skip.as_str(),
                            "provider skipped",
                        );
                        metrics::counter!("infermux_provider_skipped_total",
                            "provider" => candidate.provider.to_string(), "reason" => skip.label())
                        .increment(1);
                        skipped.push((candidate.provider, skip));
                        continue;
                    }
                };
                let call = ProviderCall {
                    request: request.clone(),
                    upstream_model: candidate.upstream_model.clone(),
                };
                let start = Instant::now();
                match service.call(call).await {
                    Ok(response) => {
                        provider.served.increment(1);
                        if let Some(status) = &provider.status {
                            status.record_latency(start.elapsed());
                            status.record_outcome(false);
                        }
                        let mut response = super::egress::to_client(&request, response).await;
                        mark_served(&mut response, provider, candidate);
                        return Ok(response);
                    }
                    Err(error) => {
                        tracing::warn!(
                            request_id = %request.request_id,
                            provider = %candidate.provider,
                            error = %error,
                            "provider attempt failed{}",
                            if attempt < last { "; trying the next candidate" } else { "" },
                        );
                        metrics::counter!("infermux_provider_attempts_total",
                            "provider" => candidate.provider.to_string(), "outcome" => error.label())
                        .increment(1);
                        if error.is_provider_fault()
                            && let Some(status) = &provider.status
                        {
                            status.record_outcome(true);
                        }
                        if attempt < last {
                            provider.failovers.increment(1);
                        }
                        super::billed::charge(&request, &candidate, attempt, &error);
                        failures.push((candidate.provider, error));
                    }
                }
            }
            if !skipped.is_empty() && failures.iter().all(|(_, e)| !e.is_provider_fault()) {
                return Err(NoHealthyProvider { skipped }.into());
            }
            Err(AllProvidersFailed { failures, skipped }.into())
        })
    }
}

impl Provider {
    /// A service ready to take the request, or why this provider is passed over. Dropping
    /// the returned service unused gives back whatever its gate reserved.
    fn admit(&self, tokens: u64) -> Result<TargetService, Skip> {
        if self.status.as_ref().is_some_and(|s| !s.healthy()) {
            return Err(Skip::Unhealthy);
        }
        let mut service = self.target.service.clone();
        // Ready now or passed over: dispatch never waits for a provider to recover.
        if !matches!(service.ready().now_or_never(), Some(Ok(_))) {
            return Err(match self.status.as_ref().map(|s| s.circuit()) {
                Some(CircuitState::Open) => Skip::CircuitOpen,
                Some(CircuitState::HalfOpen) => Skip::ProbeInFlight,
                _ => Skip::CoolingDown,
            });
        }
        if let Some(limiter) = &self.target.limiter {
            limiter.try_admit(tokens).map_err(|_| Skip::RateLimited)?;
        }
        Ok(service)
    }
}

fn mark_served(response: &mut Response<InferBody>, provider: &Provider, candidate: Candidate) {
    let headers = response.headers_mut();
    if let Some(value) = &provider.header {
        headers.insert(PROVIDER_HEADER, value.clone());
    }
    if let Ok(value) = HeaderValue::from_str(&candidate.upstream_model) {
        headers.insert(MODEL_HEADER, value);
    }
    response.extensions_mut().insert(Served {
        provider: candidate.provider,
        upstream_model: candidate.upstream_model,
    });
}
