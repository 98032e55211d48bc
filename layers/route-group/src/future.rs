//! [`ResponseFuture`]: the inner call, then the route-group header.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderValue, Response};
use infermux_core::BoxError;
use pin_project_lite::pin_project;

use crate::{ROUTE_GROUP_HEADER, error::ModelNotServed};

pin_project! {
    /// The response future of [`RouteGroup`](crate::RouteGroup).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Routed {
            #[pin]
            future: F,
            group_header: Option<HeaderValue>,
        },
        Refused {
            error: Option<ModelNotServed>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn routed(future: F, group_header: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Routed {
                future,
                group_header,
            },
        }
    }

    pub(crate) fn refused(error: ModelNotServed) -> Self {
        Self {
            kind: Kind::Refused { error: Some(error) },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Routed {
                future,
                group_header,
            } => {
                let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                if let Some(value) = group_header.take() {
                    response.headers_mut().insert(ROUTE_GROUP_HEADER, value);
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { error } => Poll::Ready(Err(error.take().map_or_else(
                || "route group future polled after completion".into(),
                Into::into,
            ))),
        }
    }
}
