//! The management API, served on `management_listen`.
//!
//! `GET /healthz` answers 200 while the process serves (and never needs the token, so load
//! balancers can probe it); `GET /metrics` renders Prometheus text. When a
//! `management_token` is configured, every other path wants
//! `Authorization: Bearer <token>`, except the dashboard's page and assets (`/ui`, `/ui/*`,
//! and `/`, which redirects there): they hold no data, and the page asks for the token to
//! read the request-log endpoints (`/_infermux/requests`, `/requests.csv`, `/usage`,
//! `/usage/series`, `/usage/summary`, `/forecast`).

mod costs;
mod forecast;
mod keys;
mod logapi;
mod metrics;
mod params;
mod providers;
mod requests;
mod ui;
mod usage;

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use infermux_core::InferBody;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::Service;

pub use self::metrics::prometheus;
use crate::{
    error::{self, ErrorClass},
    stack::Shared,
};

/// The management API service.
#[derive(Clone)]
pub struct Management {
    inner: Arc<ManagementInner>,
}

struct ManagementInner {
    token: Option<String>,
    metrics: PrometheusHandle,
    shared: Shared,
}

impl std::fmt::Debug for Management {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Management")
            .field("token", &self.inner.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Management {
    /// The management API over the proxy's `shared` state; `token`, when set, guards
    /// everything but `/healthz`.
    pub fn new(token: Option<String>, metrics: PrometheusHandle, shared: Shared) -> Self {
        Self {
            inner: Arc::new(ManagementInner {
                token,
                metrics,
                shared,
            }),
        }
    }

    fn authorized(&self, headers: &http::HeaderMap) -> bool {
        let Some(token) = &self.inner.token else {
            return true;
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes()))
    }

    async fn respond(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: Bytes,
    ) -> Response<InferBody> {
        let path = uri.path();
        if path == "/healthz" && method == Method::GET {
            return json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#));
        }
        // The dashboard's page and assets hold no data: they load without the token.
        if method == Method::GET
            && let Some(response) = ui::respond(path)
        {
            return response;
        }
        if !self.authorized(headers) {
            let class = ErrorClass {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthorized",
            };
            let mut response = error::response(
                class,
                "the management API wants `Authorization: Bearer <management_token>`",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        match (method, path) {
            (&Method::GET, "/metrics") => {
                let mut response = Response::new(InferBody::full(self.inner.metrics.render()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            (&Method::GET, "/_infermux/providers") => {
                json(StatusCode::OK, providers::report(&self.inner.shared.board))
            }
            (&Method::GET, "/_infermux/costs/by-key") => {
                keys::by_key(self.inner.shared.accounting.keys()).await
            }
            (_, path) if path == "/_infermux/keys" || path.starts_with("/_infermux/keys/") => {
                keys::respond(self.inner.shared.accounting.keys(), method, path, body).await
            }
            (&Method::GET, "/_infermux/requests") => {
                requests::list(&self.inner.shared.accounting, uri.query()).await
            }
            (&Method::GET, "/_infermux/requests.csv") => {
                requests::csv(&self.inner.shared.accounting, uri.query()).await
            }
            (&Method::GET, "/_infermux/usage") => {
                usage::usage(&self.inner.shared.accounting, uri.query()).await
            }
            (&Method::GET, "/_infermux/usage/series") => {
                usage::series(&self.inner.shared.accounting, uri.query()).await
            }
            (&Method::GET, "/_infermux/usage/summary") => {
                let shared = &self.inner.shared;
                usage::summary(&shared.accounting, &shared.prices, uri.query()).await
            }
            (&Method::GET, "/_infermux/forecast") => {
                forecast::respond(&self.inner.shared.accounting).await
            }
            (&Method::GET, costs) if costs.starts_with("/_infermux/costs") => {
                costs::respond(&self.inner.shared.accounting, costs, uri.query()).await
            }
            _ => {
                let class = ErrorClass {
                    status: StatusCode::NOT_FOUND,
                    code: "not_found",
                };
                error::response(class, &format!("no management endpoint {method} {path}"))
            }
        }
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<InferBody> {
    let mut response = Response::new(InferBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Compares without an early exit, so response timing says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The largest management request body read (a key's settings).
const MAX_BODY: usize = 64 * 1024;

impl<B> Service<Request<B>> for Management
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<infermux_core::BoxError>,
{
    type Response = Response<InferBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<InferBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        let (parts, body) = request.into_parts();
        Box::pin(async move {
            use http_body_util::BodyExt;
            // Only the keys API reads a body; an unreadable one reads as empty and fails there.
            let body = if parts.method == Method::POST {
                http_body_util::Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map(http_body_util::Collected::to_bytes)
                    .unwrap_or_default()
            } else {
                Bytes::new()
            };
            Ok(this
                .respond(&parts.method, &parts.uri, &parts.headers, body)
                .await)
        })
    }
}
