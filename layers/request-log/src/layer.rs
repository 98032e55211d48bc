//! [`RequestLogLayer`] and its service [`LogRequests`].

use std::{
    error::Error as StdError,
    task::{Context, Poll},
    time::Instant,
};

use http::Response;
use infermux_core::{BoxError, InferBody, InferRequest, SharedClock};
use tower::{Layer, Service};

use crate::{RequestLog, RequestRecord, ResponseFuture};

/// Turns a request's error into the status and error code the client is sent (the edge's
/// one error mapping, passed in so the log shows what the client saw).
pub type Classify = fn(&(dyn StdError + 'static)) -> (u16, &'static str);

/// Logs one [`RequestRecord`] per request; see the crate docs.
#[derive(Clone, Debug)]
pub struct RequestLogLayer {
    log: RequestLog,
    classify: Classify,
    clock: SharedClock,
}

impl RequestLogLayer {
    /// Logs into `log`, dating rows by `clock` (the one that dates spend), rendering errors
    /// with `classify`.
    pub fn new(log: RequestLog, classify: Classify, clock: SharedClock) -> Self {
        Self {
            log,
            classify,
            clock,
        }
    }
}

impl<S> Layer<S> for RequestLogLayer {
    type Service = LogRequests<S>;

    fn layer(&self, inner: S) -> LogRequests<S> {
        LogRequests {
            inner,
            log: self.log.clone(),
            classify: self.classify,
            clock: self.clock.clone(),
        }
    }
}

/// Logs the requests of `S`; built by [`RequestLogLayer`].
#[derive(Clone, Debug)]
pub struct LogRequests<S> {
    inner: S,
    log: RequestLog,
    classify: Classify,
    clock: SharedClock,
}

impl<S> LogRequests<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<InferRequest> for LogRequests<S>
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError>,
{
    type Response = Response<InferBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: InferRequest) -> Self::Future {
        let record = RequestRecord::begin(&request, self.clock.now());
        let pending = crate::body::Pending {
            record,
            started: Instant::now(),
            log: self.log.clone(),
        };
        ResponseFuture::new(self.inner.call(request), pending, self.classify)
    }
}
