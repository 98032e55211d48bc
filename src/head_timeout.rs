//! `header_read_timeout`: an HTTP/1 connection with no request in flight for that long
//! (waiting for the next request's headers, or receiving them a byte at a time) is closed.
//!
//! hyper has the same timeout, but arms a boxed timer on every request: one allocation and a
//! timer-wheel entry added and removed per request, on every kept-alive connection. Here the
//! connection's service only counts the requests it starts and the responses it finishes, and
//! the connection's watchdog looks at the counts a few times per timeout (as for
//! `idle_timeout`): a connection is closed between one timeout and a quarter more after its
//! last response ended, never before.
//!
//! HTTP/2 has no such timeout: once a connection's first request shows it is HTTP/2, its idle
//! periods are left to `idle_timeout`.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use http::{Request, Response, Version};
use http_body::{Body, Frame, SizeHint};
use tower::Service;

/// The requests of one connection: how many started, how many finished.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    started: AtomicU64,
    finished: AtomicU64,
    http2: AtomicBool,
}

impl Requests {
    /// Counts for a new connection.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Resolves once the connection has had no request in flight for `timeout` (and at most a
    /// quarter of it more); never, for an HTTP/2 connection.
    pub(crate) async fn waiting_for(&self, timeout: Duration) {
        crate::idle::quiet_for(timeout, || self.waiting()).await;
    }

    /// The requests started, while none is in flight on an HTTP/1 connection; `None` else.
    fn waiting(&self) -> Option<u64> {
        let (started, finished) = self.counts();
        (started == finished && !self.http2.load(Ordering::Relaxed)).then_some(started)
    }

    fn counts(&self) -> (u64, u64) {
        // `finished` first: a response counted there was started before, so the pair never
        // shows more finished than started.
        let finished = self.finished.load(Ordering::Acquire);
        (self.started.load(Ordering::Acquire), finished)
    }

    fn start(self: &Arc<Self>, version: Version) -> Finish {
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        self.started.fetch_add(1, Ordering::Release);
        Finish(self.clone())
    }
}

/// Counts one request finished when dropped: with the response's body once it is sent (or
/// abandoned), or with the response's future if none came.
#[derive(Debug)]
struct Finish(Arc<Requests>);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Release);
    }
}

/// A connection's service, counting its requests in [`Requests`].
#[derive(Clone, Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    requests: Arc<Requests>,
}

impl<S> Counted<S> {
    /// `inner`, its requests counted in `requests`.
    pub(crate) fn new(inner: S, requests: Arc<Requests>) -> Self {
        Self { inner, requests }
    }
}

impl<S, B, R> Service<Request<B>> for Counted<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<CountedBody<R>>;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let finish = self.requests.start(request.version());
        CountedFuture {
            inner: self.inner.call(request),
            finish: Some(finish),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Counted`]: hands its [`Finish`] to the response's body.
    pub(crate) struct CountedFuture<F> {
        #[pin]
        inner: F,
        finish: Option<Finish>,
    }
}

impl<F, R, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<CountedBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let finish = this.finish.take();
        Poll::Ready(Ok(response.map(|body| CountedBody {
            body,
            _finish: finish,
        })))
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its request finished when it is dropped.
    pub(crate) struct CountedBody<B> {
        #[pin]
        body: B,
        _finish: Option<Finish>,
    }
}

impl<B: Body> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().body.poll_frame(cx)
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
    use http_body_util::{BodyExt, Full};
    use tokio::time::Instant;

    use super::*;

    fn request(version: Version) -> Request<()> {
        Request::builder()
            .version(version)
            .body(())
            .expect("request")
    }

    /// Answers every request at once.
    #[derive(Clone)]
    struct Answer;

    impl Service<Request<()>> for Answer {
        type Response = Response<Full<bytes::Bytes>>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::new(Full::from("answer"))))
        }
    }

    fn answering() -> Counted<Answer> {
        Counted::new(Answer, Requests::new())
    }

    #[tokio::test]
    async fn a_request_is_in_flight_until_its_body_is_dropped() {
        let mut service = answering();
        let requests = service.requests.clone();
        let response = service
            .call(request(Version::HTTP_11))
            .await
            .expect("answered");
        assert_eq!(requests.counts(), (1, 0), "the body is not sent yet");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(body, "answer");
        assert_eq!(requests.counts(), (1, 1));
    }

    #[tokio::test]
    async fn a_response_future_dropped_before_it_answers_finishes_its_request() {
        let mut service = answering();
        let requests = service.requests.clone();
        drop(service.call(request(Version::HTTP_11)));
        assert_eq!(requests.counts(), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_waiting_for_a_request_times_out_and_one_serving_does_not() {
        let mut service = answering();
        let requests = service.requests.clone();
        let timeout = Duration::from_millis(400);
        let started = Instant::now();
        // A request in flight for three timeouts: no cut while it lasts.
        let response = service
            .call(request(Version::HTTP_11))
            .await
            .expect("answered");
        let waiting = requests.waiting_for(timeout);
        tokio::pin!(waiting);
        tokio::select! {
            () = &mut waiting => panic!("cut while a request was in flight"),
            () = tokio::time::sleep(timeout * 3) => {}
        }
        drop(response);
        let finished = Instant::now();
        waiting.await;
        let waited = finished.elapsed();
        assert!(waited >= timeout, "cut {waited:?} after the response");
        assert!(
            waited <= timeout * 5 / 4 + timeout / 4,
            "cut {waited:?} after the response"
        );
        assert!(started.elapsed() >= timeout * 4);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_is_left_to_the_idle_timeout() {
        let mut service = answering();
        let requests = service.requests.clone();
        drop(service.call(request(Version::HTTP_2)).await);
        tokio::select! {
            () = requests.waiting_for(Duration::from_millis(100)) => panic!("HTTP/2 cut"),
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}
