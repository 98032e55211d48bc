//! The HTTP client that every provider shares, and [`Upstream`], how one provider is reached.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{Client, ResponseFuture, connect::HttpConnector},
    rt::TokioExecutor,
};
use infermux_core::BoxError;

use super::pool::{Http1Pool, UpstreamBody};

/// How long an idle upstream connection stays in the shared pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The pooled HTTP/1.1 + HTTP/2 client for `http://` and `https://` (rustls with the embedded
/// webpki roots) that health checks and TLS providers share, and the connector from which each
/// plain-HTTP provider dials connections of its own. It follows no redirects.
#[derive(Clone)]
pub struct HttpClient {
    shared: SharedClient,
    plain: HttpConnector,
}

/// hyper-util's client, pooling connections by origin.
type SharedClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

/// Builds the shared client; `connect_timeout` bounds each TCP connect.
pub fn http_client(connect_timeout: Duration) -> HttpClient {
    let mut plain = HttpConnector::new();
    plain.set_nodelay(true);
    plain.set_connect_timeout(Some(connect_timeout));
    let mut http = plain.clone();
    http.enforce_http(false);
    let https = HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let shared = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https);
    HttpClient { shared, plain }
}

impl HttpClient {
    /// Sends `request` (its URI absolute) on the shared pool.
    pub fn request(&self, request: Request<Full<Bytes>>) -> ResponseFuture {
        self.shared.request(request)
    }

    /// `GET uri` on the shared pool.
    pub fn get(&self, uri: Uri) -> ResponseFuture {
        self.shared.get(uri)
    }

    /// How a provider at `base_url` is reached: over connections of its own when the URL is
    /// plain HTTP, on the shared pool otherwise.
    pub(crate) fn upstream(&self, base_url: &str) -> Upstream {
        let pool = base_url
            .parse()
            .ok()
            .and_then(|url| Http1Pool::for_url(&url, self.plain.clone()));
        match pool {
            Some(pool) => Upstream::Own(pool),
            None => Upstream::Shared(Box::new(self.shared.clone())),
        }
    }
}

/// How one provider's requests reach it.
#[derive(Clone)]
pub(crate) enum Upstream {
    /// A plain-HTTP origin: HTTP/1.1 keep-alive connections of the provider's own.
    Own(Http1Pool),
    /// TLS, and HTTP/2 where the server offers it: the shared pool.
    Shared(Box<SharedClient>),
}

impl Upstream {
    /// The request target for `uri`: its path alone on connections of the provider's own,
    /// where the `Host` header names the origin.
    pub(crate) fn target(&self, uri: Uri) -> Uri {
        match (self, uri.path_and_query()) {
            (Self::Own(_), Some(path)) => Uri::from(path.clone()),
            _ => uri,
        }
    }

    /// Sends `request`, whose URI is [`Upstream::target`]'s.
    pub(crate) async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<UpstreamBody>, BoxError> {
        match self {
            Self::Own(pool) => pool.send(request).await,
            Self::Shared(client) => {
                let response = client.request(request).await?;
                Ok(response.map(UpstreamBody::unpooled))
            }
        }
    }
}
