//! [`RouteGroup`]: the service that fills a request's route.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use http::Response;
use infermux_core::{BoxError, InferRequest};
use tower::Service;

use crate::{ROUTE_GROUP_HEADER, RouteTable, future::ResponseFuture};

/// Fills `request.route` (group, candidates in declared order, strategy) from a
/// [`RouteTable`], then calls the inner service; names the group in
/// `X-Infermux-Route-Group` on the response.
#[derive(Clone, Debug)]
pub struct RouteGroup<S> {
    inner: S,
    table: Arc<RouteTable>,
}

impl<S> RouteGroup<S> {
    /// Routes requests by `table` before `inner`.
    pub fn new(inner: S, table: RouteTable) -> Self {
        Self::from_shared(inner, Arc::new(table))
    }

    pub(crate) fn from_shared(inner: S, table: Arc<RouteTable>) -> Self {
        Self { inner, table }
    }

    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<InferRequest> for RouteGroup<S>
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
        // An upper layer (a virtual model limited to a group) may have chosen the group.
        let routed = match &request.route.group {
            Some(group) => {
                self.table
                    .route_in_group(group, request.body.model(), request.strategy_override)
            }
            None => self
                .table
                .route(request.body.model(), request.strategy_override),
        };
        match routed {
            Ok(routed) => {
                request.route = routed.context;
                ResponseFuture::called(
                    self.inner.call(request),
                    ROUTE_GROUP_HEADER,
                    routed.group_header,
                )
            }
            Err(error) => ResponseFuture::refused(error),
        }
    }
}
