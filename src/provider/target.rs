//! [`DispatchTarget`]: one provider as dispatch tries it.

use http::Response;
use infermux_breaker::{AtStreamEnd, CircuitBreaker, Outcome, RateLimiter};
use infermux_core::InferBody;
use tower::util::{BoxCloneSyncService, Either};

use super::{ProviderCall, ProviderClient, ProviderError};
use crate::telemetry::AttemptSpans;

/// One provider's client, type-erased (in the full stack, behind its circuit breaker).
pub type ProviderService = BoxCloneSyncService<ProviderCall, Response<InferBody>, ProviderError>;

/// A configured provider's client as the stack builds it: attempt spans around it, its
/// circuit breaker around those (a stream is judged when it ends).
pub type GatedProvider =
    CircuitBreaker<AttemptSpans<ProviderClient>, fn(&ProviderError) -> Outcome, AtStreamEnd>;

/// A provider's service as dispatch holds it, cloned for each attempt and called once: a
/// configured provider's [`GatedProvider`], unboxed (an attempt clones it in place, a few
/// reference counts, and its future is boxed once, by the client, not again around that), or
/// any other [`ProviderService`], such as those handed to [`Dispatch::new`](super::Dispatch::new).
pub type TargetService = Either<GatedProvider, ProviderService>;

/// One provider as dispatch sees it: its (gated) service and its local rate limit.
pub struct DispatchTarget {
    /// The provider's service; in the full stack, behind its circuit breaker.
    pub service: TargetService,
    /// The provider's local rate limit, if any.
    pub limiter: Option<RateLimiter>,
}

impl std::fmt::Debug for DispatchTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchTarget")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl From<ProviderService> for DispatchTarget {
    fn from(service: ProviderService) -> Self {
        Self {
            service: Either::Right(service),
            limiter: None,
        }
    }
}
