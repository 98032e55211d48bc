//! [`HeaderFuture`]: the response future of a layer that adds one header to the response of
//! its inner service, or refuses the request before calling it.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderName, HeaderValue, Response};
use pin_project_lite::pin_project;

use crate::BoxError;

pin_project! {
    /// Either the inner service's response future, whose response gets one header, or a
    /// refusal decided before the inner service was called.
    ///
    /// Shared by the routing layers (`X-Infermux-Route-Group`, `X-Infermux-Route-Reason`),
    /// so that neither boxes a future per request.
    pub struct HeaderFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        Called {
            #[pin]
            future: F,
            header: Option<(HeaderName, HeaderValue)>,
        },
        Refused {
            error: Option<E>,
        },
    }
}

impl<F, E> HeaderFuture<F, E> {
    /// Awaits `future` and sets `name: value` on its response, when there is a value.
    pub fn called(future: F, name: HeaderName, value: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Called {
                future,
                header: value.map(|value| (name, value)),
            },
        }
    }

    /// Fails with `error` without calling anything.
    pub fn refused(error: E) -> Self {
        Self {
            kind: Kind::Refused { error: Some(error) },
        }
    }
}

impl<F, B, FE, E> Future for HeaderFuture<F, E>
where
    F: Future<Output = Result<Response<B>, FE>>,
    FE: Into<BoxError>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { future, header } => {
                let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                if let Some((name, value)) = header.take() {
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

/// The accessor trio of a middleware service whose inner service is the field `inner`:
/// `get_ref`, `get_mut` and `into_inner`. Use inside `impl<S> Service<S> { ... }`.
#[macro_export]
macro_rules! inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Takes the inner service out.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

#[cfg(test)]
mod tests {
    use std::future::ready;

    use super::*;

    #[tokio::test]
    async fn sets_the_header_on_the_inner_response_or_refuses() {
        let name = HeaderName::from_static("x-test");
        let called: HeaderFuture<_, BoxError> = HeaderFuture::called(
            ready(Ok::<_, BoxError>(Response::new(()))),
            name.clone(),
            Some(HeaderValue::from_static("yes")),
        );
        let response = called.await.expect("called");
        assert_eq!(response.headers()["x-test"], "yes");

        let refused: HeaderFuture<std::future::Ready<Result<Response<()>, BoxError>>, BoxError> =
            HeaderFuture::refused("no".into());
        assert_eq!(refused.await.expect_err("refused").to_string(), "no");
    }
}
