//! A bare hyper reverse proxy: the baseline that `benches/e2e/run.sh` measures infermux
//! against.
//!
//! It forwards every request to one upstream as it came (method, path, headers, body streamed
//! frame by frame) over a pooled hyper client and streams the answer back: no parsing, no
//! routing, no logging, no metrics. It is built on the same pieces as infermux (hyper-util's
//! HTTP/1.1 + h2c `auto` server builder, hyper-util's legacy pooled client, `TCP_NODELAY` on
//! both sides, a multi-thread tokio runtime sized by the CPUs it may run on), so what differs
//! is infermux's own work. Hop-by-hop headers are not handled: it is a yardstick, not a proxy
//! to deploy.
//!
//! Usage: `baseline_proxy LISTEN_ADDR UPSTREAM_HOST:PORT`, for example
//! `cargo run --release --example baseline_proxy -- 127.0.0.1:9000 127.0.0.1:9001`.

use std::{convert::Infallible, net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri, header};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};
use tokio::net::TcpListener;

/// The pooled client to the upstream; request bodies are forwarded as they arrive.
type Upstream = Client<HttpConnector, Incoming>;

/// Either the upstream's body, streamed, or a short error body of our own.
type ProxyBody = Either<Incoming, Full<Bytes>>;

/// How long an idle upstream connection stays pooled (as in infermux).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: baseline_proxy LISTEN_ADDR UPSTREAM_HOST:PORT");
        return ExitCode::from(2);
    };
    let listen: SocketAddr = match listen.parse() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("error: bad LISTEN_ADDR {listen:?}: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {listen}: {error}");
            return ExitCode::from(1);
        }
    };
    serve(listener, upstream.into()).await;
    ExitCode::SUCCESS
}

/// Accepts connections forever, serving each on its own task.
async fn serve(listener: TcpListener, upstream: Arc<str>) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(connector);
    let builder = Builder::new(TokioExecutor::new());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let upstream = upstream.clone();
        let service = hyper::service::service_fn(move |request| {
            forward(client.clone(), upstream.clone(), request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

/// Sends `request` to `upstream` with the same path and query, and returns its answer.
async fn forward(
    client: Upstream,
    upstream: Arc<str>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = match Uri::builder()
        .scheme("http")
        .authority(&*upstream)
        .path_and_query(path)
        .build()
    {
        Ok(uri) => uri,
        Err(error) => return Ok(bad_gateway(&error.to_string())),
    };
    // The client writes the upstream's own Host from the URI.
    parts.headers.remove(header::HOST);
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response.map(Either::Left)),
        Err(error) => Ok(bad_gateway(&error.to_string())),
    }
}

fn bad_gateway(message: &str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(format!(
        "bad gateway: {message}\n"
    )))));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
