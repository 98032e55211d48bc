//! What the examples share: serving an axum app on a loopback port, and a small client for
//! their tests.

#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tokio::net::TcpListener;

/// Serves `app` on `addr` until the process ends.
pub(crate) async fn serve(app: axum::Router, addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    axum::serve(listener, app).await
}

/// Serves `app` on a loopback port of its own, in the background; returns its address.
pub(crate) async fn spawn(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A response, read whole.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) json: serde_json::Value,
}

/// Sends `body` (JSON, when not empty) to `path` at `addr` as `caller`.
pub(crate) async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    caller: &str,
    body: &str,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .header("x-infermux-caller", caller)
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let response = client.request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

/// The lines of `source` between `// docs/library.md: begin` and `// docs/library.md: end`,
/// as shown in the guide.
pub(crate) fn guide_excerpt(source: &str) -> String {
    let begin = "// docs/library.md: begin\n";
    let start = source.find(begin).expect("begin marker") + begin.len();
    let end = source[start..]
        .find("// docs/library.md: end")
        .expect("end marker");
    source[start..start + end].to_owned()
}

/// Asserts that `docs/library.md` shows `excerpt` verbatim.
pub(crate) fn assert_in_guide(excerpt: &str) {
    let guide = include_str!("../../docs/library.md");
    assert!(
        guide.contains(excerpt),
        "docs/library.md must show this excerpt verbatim:\n{excerpt}"
    );
}
