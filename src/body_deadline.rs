//! [`BodyDeadlineLayer`]: a request's whole body must arrive within `body_read_timeout`.
//!
//! The same rule as tower-http's `RequestBodyDeadline`, with the timer armed only once the
//! body makes its reader wait. tower-http's registers a timer for every request, and most
//! bodies (a chat request is a few KiB) arrive with the request's head: reading them never
//! waits, so they never need one.

use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use infermux_core::BoxError;
use tokio::time::{Instant, Sleep, sleep_until};
use tower::{Layer, Service};

/// The error a body reports once its deadline has passed: ingress answers it with 408
/// `request_timeout`.
#[derive(Debug, Default)]
pub struct BodyTimedOut;

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body did not arrive within body_read_timeout")
    }
}

impl std::error::Error for BodyTimedOut {}

/// Bounds each request's body to `timeout` from the moment the request is called.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadlineLayer {
    timeout: Duration,
}

impl BodyDeadlineLayer {
    /// Bodies must arrive within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for BodyDeadlineLayer {
    type Service = BodyDeadline<S>;

    fn layer(&self, inner: S) -> BodyDeadline<S> {
        BodyDeadline {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`BodyDeadlineLayer`].
#[derive(Clone, Debug)]
pub struct BodyDeadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S> BodyDeadline<S> {
    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for BodyDeadline<S>
where
    S: Service<Request<DeadlineBody<B>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> S::Future {
        let deadline = Instant::now() + self.timeout;
        self.inner
            .call(request.map(|body| DeadlineBody::new(body, deadline)))
    }
}

pin_project_lite::pin_project! {
    /// A body that fails with [`BodyTimedOut`] when a frame it waits for comes after its
    /// deadline.
    pub struct DeadlineBody<B> {
        #[pin]
        body: B,
        deadline: Instant,
        // Armed the first time the body is not ready; boxed, as few bodies ever wait.
        timer: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> DeadlineBody<B> {
    /// `body`, due by `deadline`.
    pub fn new(body: B, deadline: Instant) -> Self {
        Self {
            body,
            deadline,
            timer: None,
        }
    }
}

impl<B> fmt::Debug for DeadlineBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.body.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = *this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::{StreamExt, stream};
    use http_body_util::{BodyExt, Full, StreamBody};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_is_ready_is_read_without_a_timer() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut body = std::pin::pin!(DeadlineBody::new(
            Full::new(Bytes::from_static(b"{}")),
            deadline
        ));
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().expect("data"), Bytes::from_static(b"{}"));
        assert!(body.timer.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_still_arriving_at_its_deadline_fails_with_body_timed_out() {
        let chunks = stream::iter([Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"{")))])
            .chain(stream::pending());
        let started = Instant::now();
        let body = DeadlineBody::new(StreamBody::new(chunks), started + Duration::from_secs(2));
        let error = body.collect().await.expect_err("timed out");
        assert!(error.is::<BodyTimedOut>(), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_that_ends_in_time_is_whole() {
        const PARTS: [&[u8]; 2] = [b"{\"a\":", b"1}"];
        let parts = stream::unfold(0, |i| async move {
            let part = PARTS.get(i)?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(part))),
                i + 1,
            ))
        });
        let body = DeadlineBody::new(
            StreamBody::new(parts),
            Instant::now() + Duration::from_secs(5),
        );
        let whole = body.collect().await.expect("whole").to_bytes();
        assert_eq!(whole, Bytes::from_static(b"{\"a\":1}"));
    }
}
