//! The leaf of the stack: tries the request's candidates in order until one answers.
//!
//! Dispatch is deliberately thin. Routing layers before it decide the candidates and their
//! order ([`RouteContext`]); when none ran, dispatch takes every provider that can serve the
//! requested model in declared order. Each candidate is tried at most once. A provider fault
//! (connect error, timeout, 429, 5xx, a broken or malformed response before the first byte
//! reached the client) moves on to the next candidate; a provider's own 4xx answer is
//! returned as is. Streams are returned as soon as their first chunk is decoded and then pass
//! through chunk by chunk.
//!
//! [`RouteContext`]: infermux_core::RouteContext

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::future::BoxFuture;
use http::{HeaderValue, Response};
use infermux_core::{BoxError, InferBody, InferRequest, ModelCatalog, ProviderName, Served};
use tower::{Service, ServiceExt, util::BoxCloneSyncService};

use super::{ProviderCall, ProviderError};
use crate::error::ModelNotFound;

/// Header naming the provider that served a response.
pub const PROVIDER_HEADER: &str = "x-infermux-provider";
/// Header naming the model sent to that provider.
pub const MODEL_HEADER: &str = "x-infermux-model";

/// One provider's client, type-erased.
pub type ProviderService = BoxCloneSyncService<ProviderCall, Response<InferBody>, ProviderError>;

/// Every candidate failed; lists each provider's error.
#[derive(Debug)]
pub struct AllProvidersFailed {
    failures: Vec<(ProviderName, ProviderError)>,
}

impl AllProvidersFailed {
    /// Whether every candidate refused the request as something its API cannot express, in
    /// which case the request itself is at fault.
    pub fn all_rejected_request(&self) -> bool {
        self.failures.iter().all(|(_, e)| !e.is_provider_fault())
    }

    /// Each provider and its error, in the order they were tried.
    pub fn failures(&self) -> &[(ProviderName, ProviderError)] {
        &self.failures
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
    providers: HashMap<ProviderName, Provider>,
}

/// One provider's service and its pre-registered success counter (no per-request label
/// allocation on the hot path).
struct Provider {
    service: ProviderService,
    served: metrics::Counter,
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("catalog", &self.inner.catalog)
            .finish_non_exhaustive()
    }
}

impl Dispatch {
    /// Dispatches over `providers`; `catalog` says which of them serves which model.
    ///
    /// Per-provider metrics are registered here, with the global `metrics` recorder of the
    /// moment: install yours first.
    pub fn new(catalog: ModelCatalog, providers: HashMap<ProviderName, ProviderService>) -> Self {
        let providers = providers
            .into_iter()
            .map(|(name, service)| {
                let served = metrics::counter!("infermux_provider_attempts_total",
                    "provider" => name.to_string(), "outcome" => "ok");
                (name, Provider { service, served })
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
        Box::pin(async move {
            let mut candidates = std::mem::take(&mut request.route.candidates);
            if candidates.is_empty() {
                candidates = inner.catalog.candidates(request.body.model());
            }
            if candidates.is_empty() {
                return Err(ModelNotFound::new(request.body.model()).into());
            }
            let request = Arc::new(request);
            let mut failures = Vec::new();
            let last = candidates.len() - 1;
            for (attempt, candidate) in candidates.into_iter().enumerate() {
                let Some(provider) = inner.providers.get(&candidate.provider) else {
                    continue;
                };
                let call = ProviderCall {
                    request: request.clone(),
                    upstream_model: candidate.upstream_model.clone(),
                };
                match provider.service.clone().oneshot(call).await {
                    Ok(mut response) => {
                        provider.served.increment(1);
                        mark_served(
                            &mut response,
                            &candidate.provider,
                            &candidate.upstream_model,
                        );
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
                        failures.push((candidate.provider, error));
                    }
                }
            }
            Err(AllProvidersFailed { failures }.into())
        })
    }
}

fn mark_served(response: &mut Response<InferBody>, provider: &ProviderName, model: &Arc<str>) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(provider.as_str()) {
        headers.insert(PROVIDER_HEADER, value);
    }
    if let Ok(value) = HeaderValue::from_str(model) {
        headers.insert(MODEL_HEADER, value);
    }
    response.extensions_mut().insert(Served {
        provider: provider.clone(),
        upstream_model: model.clone(),
    });
}
