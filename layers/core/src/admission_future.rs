//! [`AdmissionFuture`]: the response future of a layer that admits some requests at once and
//! others only after asynchronous work (a store lookup, a reservation).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::Response;
use pin_project_lite::pin_project;

use crate::BoxError;

/// The admission work and the inner call after it, boxed: taken only by requests that need
/// a store round trip, so the boxing is never on the path of the ones admitted at once.
pub type Admitting<B> = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

pin_project! {
    /// Either the inner service's response future itself, for a request with no admission
    /// work, or the admission work followed by the inner call.
    ///
    /// Shared by the budget and key layers, whose admission differs but whose futures are
    /// the same shape.
    pub struct AdmissionFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Direct { #[pin] future: F },
        Admitting { future: Admitting<B> },
    }
}

impl<F, B> AdmissionFuture<F, B> {
    /// The inner call, for a request admitted at once.
    pub fn direct(future: F) -> Self {
        Self {
            kind: Kind::Direct { future },
        }
    }

    /// Admission work that ends in the inner call.
    pub fn admitting(future: Admitting<B>) -> Self {
        Self {
            kind: Kind::Admitting { future },
        }
    }
}

impl<F, B> Future for AdmissionFuture<F, B>
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

impl<F, B> std::fmt::Debug for AdmissionFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionFuture").finish_non_exhaustive()
    }
}
