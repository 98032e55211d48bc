//! [`Rank`]: the service that orders a request's candidates.

use std::task::{Context, Poll};

use http::Response;
use infermux_core::{BoxError, InferRequest};
use tower::Service;

use crate::{Ranker, future::ResponseFuture};

/// Reorders `request.route.candidates` with a [`Ranker`] by `request.route.strategy`, then
/// calls the inner service; explains the order in `X-Infermux-Route-Reason` on the response.
///
/// (Named for what it does, so that it does not clash with [`infermux_core::Strategy`].)
#[derive(Clone, Debug)]
pub struct Rank<S> {
    inner: S,
    ranker: Ranker,
}

impl<S> Rank<S> {
    /// Orders candidates with `ranker` before `inner`.
    pub const fn new(inner: S, ranker: Ranker) -> Self {
        Self { inner, ranker }
    }

    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<InferRequest> for Rank<S>
where
    S: Service<InferRequest, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: InferRequest) -> Self::Future {
        if request.route.candidates.is_empty() {
            // No routing layer ran above: nothing to order, dispatch decides.
            return ResponseFuture::called(self.inner.call(request), reason_header(), None);
        }
        let overridden = request.strategy_override.is_some();
        match self.ranker.decide(
            request.body.model(),
            &request.route,
            request.estimate.prompt_tokens,
            overridden,
        ) {
            Ok(decision) => {
                request.route.candidates = decision.candidates;
                let reason = http::HeaderValue::try_from(decision.reason).ok();
                ResponseFuture::called(self.inner.call(request), reason_header(), reason)
            }
            Err(error) => ResponseFuture::refused(error),
        }
    }
}

fn reason_header() -> http::HeaderName {
    crate::ROUTE_REASON_HEADER
}
