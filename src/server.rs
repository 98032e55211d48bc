//! Listeners and graceful shutdown.
//!
//! Each port is served by hyper's HTTP/1.1 + HTTP/2 (h2c) connection builder. On shutdown the
//! listener stops accepting at once, open connections finish their in-flight requests (idle
//! keep-alive connections are closed), and whatever is still running after the drain timeout
//! is cut.

use std::{convert::Infallible, time::Duration};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use infermux_core::BoxError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Service;

/// Serves `service` on `listener` until `shutdown` is cancelled, then drains for at most
/// `drain_timeout`.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: CancellationToken,
    drain_timeout: Duration,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut builder = Builder::new(TokioExecutor::new());
    // Header names go out as `X-Infermux-Provider`, not `x-infermux-provider`: HTTP does not
    // care, but people grepping `curl -D -` output, as the guides do, do.
    builder.http1().title_case_headers(true);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = builder
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(service.clone()),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("all connections drained"),
        () = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(?drain_timeout, "drain timeout reached; closing remaining connections");
        }
    }
}

/// A bound infermux: the proxy port and the management port, ready to serve.
#[derive(Debug)]
pub struct Server {
    proxy: TcpListener,
    management: TcpListener,
    config: crate::config::Config,
    accounting: crate::accounting::Accounting,
}

impl Server {
    /// Opens the spend store (replaying its journal) and binds `config.listen` and
    /// `config.management_listen`.
    pub async fn bind(config: crate::config::Config) -> std::io::Result<Self> {
        Self::bind_with_clock(config, std::sync::Arc::new(infermux_core::SystemClock)).await
    }

    /// Like [`bind`](Self::bind), dating spend by `clock` (tests move it across months).
    pub async fn bind_with_clock(
        config: crate::config::Config,
        clock: infermux_core::SharedClock,
    ) -> std::io::Result<Self> {
        let client = crate::provider::http_client(CONNECT_TIMEOUT);
        let accounting = crate::accounting::Accounting::open(&config, clock, &client)
            .map_err(std::io::Error::other)?;
        let proxy = bind(config.listen, "listen").await?;
        let management = bind(config.management_listen, "management_listen").await?;
        Ok(Self {
            proxy,
            management,
            config,
            accounting,
        })
    }

    /// The proxy port's address (useful when the config asked for port 0).
    pub fn proxy_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.proxy.local_addr()
    }

    /// The management port's address.
    pub fn management_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.management.local_addr()
    }

    /// Serves both ports until `shutdown` is cancelled, then drains in-flight requests.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self {
            proxy,
            management,
            config,
            accounting,
        } = self;
        if !config.management_listen.ip().is_loopback() && config.management_token.is_none() {
            tracing::warn!(
                address = %config.management_listen,
                "the management API listens beyond loopback without a management_token; set one"
            );
        }
        let client = crate::provider::http_client(CONNECT_TIMEOUT);
        let mux = crate::Infermux::assemble(&config, &client, accounting).await;
        let proxy_service = tower::ServiceBuilder::new()
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ))
            .layer(crate::cors::CorsLayer::new(&config.cors.allowed_origins))
            .service(mux.proxy());
        let listen = proxy
            .local_addr()
            .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
        let management_listen = management
            .local_addr()
            .map_or_else(|_| config.management_listen.to_string(), |a| a.to_string());
        tracing::info!(
            %listen,
            %management_listen,
            providers = config.providers.len(),
            "infermux serving"
        );
        let drain = config.drain_timeout;
        tokio::join!(
            serve(proxy, proxy_service, shutdown.clone(), drain),
            serve(management, mux.management(), shutdown.clone(), drain),
        );
        // Every request has drained: leave the spend state compact and durable.
        if let Err(error) = mux.shutdown().await {
            tracing::error!(%error, "spend state could not be flushed at shutdown");
        }
        tracing::info!("infermux stopped");
    }
}

/// A panic while serving a request becomes a 500 for that request, not a dropped connection.
fn panic_response(
    _panic: Box<dyn std::any::Any + Send + 'static>,
) -> Response<infermux_core::InferBody> {
    tracing::error!("a request handler panicked");
    let class = crate::error::ErrorClass {
        status: http::StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal_error",
    };
    crate::error::response(class, "internal error; see the infermux logs")
}

/// Bound on each upstream TCP connect.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

async fn bind(addr: std::net::SocketAddr, key: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen on {addr} (`{key}`): {e}"))
    })
}

/// Keeps histograms' windows rolling even when nobody scrapes.
pub(crate) async fn metrics_upkeep(
    handle: metrics_exporter_prometheus::PrometheusHandle,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            () = shutdown.cancelled() => return,
        }
    }
}
