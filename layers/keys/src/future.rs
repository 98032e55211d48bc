//! The response future of [`Keys`](crate::Keys).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::future::BoxFuture;
use http::Response;
use infermux_core::BoxError;

pin_project_lite::pin_project! {
    /// The response future of [`Keys`](crate::Keys): the inner future itself for a request
    /// without a key (none required), or the key check followed by the inner call.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Direct { #[pin] future: F },
        Admitting { future: BoxFuture<'static, Result<Response<B>, BoxError>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn direct(future: F) -> Self {
        Self {
            kind: Kind::Direct { future },
        }
    }

    pub(crate) fn admitting(future: BoxFuture<'static, Result<Response<B>, BoxError>>) -> Self {
        Self {
            kind: Kind::Admitting { future },
        }
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, BoxError>>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Direct { future } => future.poll(cx),
            KindProj::Admitting { future } => future.as_mut().poll(cx),
        }
    }
}
