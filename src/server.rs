//! Listeners and graceful shutdown.
//!
//! Each port is served by hyper's HTTP/1.1 + HTTP/2 (h2c) connection builder. On shutdown the
//! listener stops accepting at once, open connections finish their in-flight requests (idle
//! keep-alive connections are closed), and whatever is still running after the drain timeout
//! is cut.
//!
//! Two timeouts protect each connection from clients that hold it without using it:
//! `header_read_timeout` (an HTTP/1 connection may go this long without a request in flight,
//! so a client sending its headers a byte at a time is cut; see `head_timeout.rs`) and
//! `idle_timeout` (no byte read or written for that long: the connection is shut down
//! gracefully, so a request in flight still finishes). The request body deadline is the
//! edge's ([`crate::edge`]).
//!
//! Each connection has a watchdog task (`watchdog.rs`) that waits for the shutdown, both
//! timeouts and the end of the drain, so that serving a request polls none of them.

use std::{convert::Infallible, time::Duration};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use infermux_core::BoxError;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::Service;

/// How long a connection may take to send its headers, and stay quiet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// The headers of an HTTP/1 request must be in this long after the request started.
    pub header_read: Duration,
    /// A connection on which no byte moved for this long is shut down gracefully.
    pub idle: Duration,
}

impl From<crate::config::EdgeTimeouts> for ConnectionTimeouts {
    fn from(timeouts: crate::config::EdgeTimeouts) -> Self {
        Self {
            header_read: timeouts.header_read,
            idle: timeouts.idle,
        }
    }
}

/// Serves `service` on `listener` until `shutdown` is cancelled, then drains for at most
/// `drain_timeout`; each connection is bounded by `timeouts`.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: CancellationToken,
    drain_timeout: Duration,
    timeouts: ConnectionTimeouts,
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
    builder
        .http1()
        .title_case_headers(true)
        // The watchdog keeps `header_read_timeout` (see `head_timeout.rs`): hyper's would arm
        // a timer for every request. Set to none rather than left to hyper's default, which
        // without a timer logs a warning for every connection.
        .header_read_timeout(None);
    // Connections still open when the drain times out are cut here, before `serve` returns,
    // so that their requests' accounting (a stream's body dropped mid-way is charged what it
    // generated) starts while the runtime runs, and graceful shutdown then awaits it.
    let (connections, cut) = (TaskTracker::new(), CancellationToken::new());
    let watch = crate::watchdog::Watch {
        shutdown: shutdown.clone(),
        cut: cut.clone(),
        idle: timeouts.idle,
        header_read: timeouts.header_read,
    };
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
        let activity = crate::idle::Activity::new();
        let io = TokioIo::new(crate::idle::Tracked::new(stream, activity.clone()));
        let requests = crate::head_timeout::Requests::new();
        let service = crate::head_timeout::Counted::new(service.clone(), requests.clone());
        let connection = builder
            .serve_connection(io, TowerToHyperService::new(service))
            .into_owned();
        let (signal, watchdog) = watch.start(activity, requests);
        connections.spawn(async move {
            let _watchdog = watchdog;
            let served = crate::watchdog::serve(connection, &signal, |connection| {
                connection.graceful_shutdown();
            });
            if let Some(Err(error)) = served.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    tokio::select! {
        () = connections.wait() => tracing::debug!("all connections drained"),
        () = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(?drain_timeout, "drain timeout reached; closing remaining connections");
        }
    }
    cut.cancel();
    connections.wait().await;
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
        // The edge (request id, caller bound, body deadline, panic catcher, CORS) comes with it.
        let proxy_service = mux.proxy();
        let listen = proxy
            .local_addr()
            .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
        let management_listen = management
            .local_addr()
            .map_or_else(|_| config.management_listen.to_string(), |a| a.to_string());
        let runtime = tokio::runtime::Handle::current();
        tracing::info!(
            %listen,
            %management_listen,
            providers = config.providers.len(),
            runtime = runtime_name(runtime.runtime_flavor()),
            workers = runtime.metrics().num_workers(),
            "infermux serving"
        );
        let drain = config.drain_timeout;
        let timeouts = ConnectionTimeouts::from(config.timeouts);
        tokio::join!(
            serve(proxy, proxy_service, shutdown.clone(), drain, timeouts),
            serve(
                management,
                mux.management(),
                shutdown.clone(),
                drain,
                timeouts
            ),
        );
        // Every request has drained: leave the spend state compact and durable.
        if let Err(error) = mux.shutdown().await {
            tracing::error!(%error, "spend state could not be flushed at shutdown");
        }
        tracing::info!("infermux stopped");
    }
}

/// Bound on each upstream TCP connect.
/// How the log names a runtime flavor.
fn runtime_name(flavor: tokio::runtime::RuntimeFlavor) -> &'static str {
    match flavor {
        tokio::runtime::RuntimeFlavor::CurrentThread => "current_thread",
        tokio::runtime::RuntimeFlavor::MultiThread => "multi_thread",
        _ => "other",
    }
}

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

async fn bind(addr: std::net::SocketAddr, key: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot listen on {addr} (`{key}`): {e}"))
    })
}

/// How often histogram samples are folded into their buckets: until then each sample is kept,
/// so under load the interval bounds that buffer (a second at 25,000 requests per second is
/// about 200 KiB per histogram).
const METRICS_UPKEEP: Duration = Duration::from_secs(1);

/// Keeps histograms' windows rolling, and their sample buffers drained, even when nobody
/// scrapes.
pub(crate) async fn metrics_upkeep(
    handle: metrics_exporter_prometheus::PrometheusHandle,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            () = shutdown.cancelled() => return,
        }
    }
}
