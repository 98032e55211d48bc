//! Browser access to the proxy port: CORS, from `cors.allowed_origins`.
//!
//! [`CorsLayer`] puts tower-http's CORS handling in front of the proxy for requests from an
//! allowed origin: preflights are answered with the `Access-Control-Allow-*` headers (any
//! method and header the browser asks for; the `X-Infermux-*` headers exposed), and answers
//! carry `Access-Control-Allow-Origin`. Every `OPTIONS` request is answered `204` with no body;
//! one from an origin that is not allowed gets no `Access-Control-*` header, so the browser
//! refuses the call. Requests without an `Origin` (SDKs, curl) pass untouched.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::{BoxFuture, Either, FutureExt};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use tower::{Layer, Service, ServiceExt, util::Oneshot};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, ExposeHeaders};

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The response headers a browser script may read.
const EXPOSED: [&str; 13] = [
    "x-infermux-request-id",
    "x-infermux-provider",
    "x-infermux-model",
    "x-infermux-cost",
    "x-infermux-error",
    "x-infermux-budget-remaining",
    "x-infermux-max-tokens-clamped",
    "x-infermux-model-override",
    "x-infermux-route-group",
    "x-infermux-route-reason",
    "x-infermux-tier",
    "x-infermux-virtual-model",
    "retry-after",
];

/// Which origins are allowed.
#[derive(Clone, Debug)]
enum Origins {
    Any,
    List(Arc<[HeaderValue]>),
}

/// Adds CORS for `allowed_origins` (`["*"]` for any) to the proxy service.
#[derive(Clone, Debug)]
pub struct CorsLayer {
    origins: Origins,
}

impl CorsLayer {
    /// CORS for these origins; origins that are not valid header values are left out
    /// (config validation rules them out).
    pub fn new(allowed_origins: &[String]) -> Self {
        let origins = if allowed_origins.iter().any(|o| o == "*") {
            Origins::Any
        } else {
            Origins::List(
                allowed_origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect(),
            )
        };
        Self { origins }
    }

    fn cors(&self) -> tower_http::cors::CorsLayer {
        let allow = match &self.origins {
            Origins::Any => AllowOrigin::any(),
            Origins::List(list) => AllowOrigin::list(list.iter().cloned()),
        };
        tower_http::cors::CorsLayer::new()
            .allow_origin(allow)
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(ExposeHeaders::list(
                EXPOSED.iter().map(|h| HeaderName::from_static(h)),
            ))
            .max_age(PREFLIGHT_MAX_AGE)
    }
}

impl<S: Clone> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsService {
            inner,
            cors: Arc::new(self.cors()),
            origins: self.origins.clone(),
        }
    }
}

/// The proxy service with CORS; see [`CorsLayer`].
#[derive(Clone, Debug)]
pub struct CorsService<S> {
    inner: S,
    /// Wraps a copy of `inner` for the (rare) requests from an allowed origin, so that the
    /// server's copy of this service per request copies the stack once.
    cors: Arc<tower_http::cors::CorsLayer>,
    origins: Origins,
}

impl<S> CorsService<S> {
    fn allows(&self, origin: Option<&HeaderValue>) -> bool {
        match (&self.origins, origin) {
            (_, None) => false,
            (Origins::Any, Some(_)) => true,
            (Origins::List(list), Some(origin)) => list.contains(origin),
        }
    }
}

impl<S, B, RB> Service<Request<B>> for CorsService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    /// Requests without an allowed `Origin` (every SDK's) go straight through, unboxed.
    type Future =
        Either<Oneshot<S, Request<B>>, BoxFuture<'static, Result<Response<RB>, S::Error>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        // Both paths are driven to readiness per request (the proxy is always ready).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let preflight = request.method() == Method::OPTIONS;
        let allowed = self.allows(request.headers().get(header::ORIGIN));
        match (preflight, allowed) {
            (true, true) => {
                let cors = self.cors.layer(self.inner.clone());
                Either::Right(
                    async move {
                        let response = cors.oneshot(request).await?;
                        Ok(no_content(response.into_parts().0))
                    }
                    .boxed(),
                )
            }
            (true, false) => {
                let mut response = Response::new(RB::default());
                *response.status_mut() = StatusCode::NO_CONTENT;
                Either::Right(futures_util::future::ready(Ok(response)).boxed())
            }
            (false, true) => {
                let cors = self.cors.layer(self.inner.clone());
                Either::Right(cors.oneshot(request).boxed())
            }
            (false, false) => Either::Left(self.inner.clone().oneshot(request)),
        }
    }
}

/// A preflight's answer: its headers, `204`, no body.
fn no_content<RB: Default>(mut parts: http::response::Parts) -> Response<RB> {
    parts.status = StatusCode::NO_CONTENT;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    Response::from_parts(parts, RB::default())
}
