//! [`DispatchTarget`]: one provider as dispatch tries it.

use std::{
    fmt,
    task::{Context, Poll},
};

use futures_util::future::{BoxFuture, Either};
use http::Response;
use infermux_breaker::{AtStreamEnd, CircuitBreaker, Outcome, RateLimiter};
use infermux_core::InferBody;
use tower::{Service, util::BoxCloneSyncService};

use super::{ProviderCall, ProviderClient, ProviderError};
use crate::telemetry::AttemptSpans;

/// One provider's client, type-erased (in the full stack, behind its circuit breaker).
pub type ProviderService = BoxCloneSyncService<ProviderCall, Response<InferBody>, ProviderError>;

/// A configured provider's client as the stack builds it: attempt spans around it, its
/// circuit breaker around those (a stream is judged when it ends).
pub type GatedProvider =
    CircuitBreaker<AttemptSpans<ProviderClient>, fn(&ProviderError) -> Outcome, AtStreamEnd>;

/// A provider's service as dispatch holds it: cloned for each attempt, and called once.
#[derive(Clone)]
pub enum TargetService {
    /// A configured provider, unboxed: an attempt clones it in place (a few reference counts)
    /// and its future is boxed once, by the client, rather than boxed again around that.
    Gated(GatedProvider),
    /// Any other service, such as those handed to [`Dispatch::new`](super::Dispatch::new).
    Boxed(ProviderService),
}

impl fmt::Debug for TargetService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gated(_) => "TargetService::Gated",
            Self::Boxed(_) => "TargetService::Boxed",
        })
    }
}

impl Service<ProviderCall> for TargetService {
    type Response = Response<InferBody>;
    type Error = ProviderError;
    type Future = Either<
        <GatedProvider as Service<ProviderCall>>::Future,
        BoxFuture<'static, Result<Response<InferBody>, ProviderError>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        match self {
            Self::Gated(service) => service.poll_ready(cx),
            Self::Boxed(service) => service.poll_ready(cx),
        }
    }

    fn call(&mut self, call: ProviderCall) -> Self::Future {
        match self {
            Self::Gated(service) => Either::Left(service.call(call)),
            Self::Boxed(service) => Either::Right(service.call(call)),
        }
    }
}

/// One provider as dispatch sees it: its (gated) service and its local rate limit.
#[derive(Debug)]
pub struct DispatchTarget {
    /// The provider's service; in the full stack, behind its circuit breaker.
    pub service: TargetService,
    /// The provider's local rate limit, if any.
    pub limiter: Option<RateLimiter>,
}

impl From<ProviderService> for DispatchTarget {
    fn from(service: ProviderService) -> Self {
        Self {
            service: TargetService::Boxed(service),
            limiter: None,
        }
    }
}
