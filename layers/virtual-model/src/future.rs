//! [`ResponseFuture`]: the inner call, then the virtual-model headers.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderName, HeaderValue, Response};
use infermux_core::{BoxError, VirtualRoute};
use pin_project_lite::pin_project;

use crate::{NoCapableModel, ROUTE_REASON_HEADER};

pin_project! {
    /// The response future of [`VirtualModel`](crate::VirtualModel): the inner call, with
    /// `X-Infermux-Virtual-Model`, `X-Infermux-Tier` and `X-Infermux-Route-Reason` on its
    /// response when a virtual model was resolved; or the refusal of a request no model of
    /// the virtual model can serve.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Called {
            #[pin]
            future: F,
            headers: Vec<(HeaderName, HeaderValue)>,
            route: Option<VirtualRoute>,
        },
        Refused {
            error: Option<NoCapableModel>,
        },
    }
}

impl<F> ResponseFuture<F> {
    /// The inner call; `route` (how a virtual model resolved, if one did) goes on the
    /// response as an extension for the layers above (the request log).
    pub(crate) fn called(
        future: F,
        headers: Vec<(HeaderName, HeaderValue)>,
        route: Option<VirtualRoute>,
    ) -> Self {
        Self {
            kind: Kind::Called {
                future,
                headers,
                route,
            },
        }
    }

    pub(crate) fn refused(error: NoCapableModel) -> Self {
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
            KindProj::Called {
                future,
                headers,
                route,
            } => {
                let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                if let Some(route) = route.take() {
                    response.extensions_mut().insert(route);
                }
                for (name, value) in headers.drain(..) {
                    // The strategy layer below may have explained its provider choice in the
                    // same header: the virtual model's reason goes first, then that one.
                    let value = match response.headers().get(&name) {
                        Some(below) if name == ROUTE_REASON_HEADER => {
                            let mut joined = value.as_bytes().to_vec();
                            joined.extend_from_slice(b"; ");
                            joined.extend_from_slice(below.as_bytes());
                            HeaderValue::from_bytes(&joined).unwrap_or(value)
                        }
                        _ => value,
                    };
                    response.headers_mut().insert(name, value);
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .map_or_else(|| "future polled after completion".into(), Into::into))),
        }
    }
}
