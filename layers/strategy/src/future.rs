//! [`ResponseFuture`]: the inner call, then the route-reason header.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderValue, Response};
use infermux_core::BoxError;
use pin_project_lite::pin_project;

use crate::{ROUTE_REASON_HEADER, UnpricedModel};

pin_project! {
    /// The response future of [`Rank`](crate::Rank).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Ranked {
            #[pin]
            future: F,
            reason: Option<HeaderValue>,
        },
        Refused {
            error: Option<UnpricedModel>,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn ranked(future: F, reason: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Ranked { future, reason },
        }
    }

    pub(crate) fn refused(error: UnpricedModel) -> Self {
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
            KindProj::Ranked { future, reason } => {
                let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                if let Some(value) = reason.take() {
                    response.headers_mut().insert(ROUTE_REASON_HEADER, value);
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { error } => Poll::Ready(Err(error.take().map_or_else(
                || "strategy future polled after completion".into(),
                Into::into,
            ))),
        }
    }
}
