//! A raw hyper client and helpers to read JSON, SSE and NDJSON answers.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{Client, Error as ClientError};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub(crate) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A POST of `body` as JSON with these headers.
pub(crate) fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> Request<Full<Bytes>> {
    let mut builder = Request::post(url).header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::from(body.to_string()))
        .expect("valid request")
}

/// A GET with these headers.
pub(crate) fn get(url: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut builder = Request::get(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::default()).expect("valid request")
}

pub(crate) async fn send(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, ClientError> {
    client.request(request).await
}

/// Sends a request and reads the whole answer as JSON.
pub(crate) async fn json(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
) -> (StatusCode, HeaderMap, Value) {
    let response = send(client, request).await.expect("the mock answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("a whole body").to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("body is JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (parts.status, parts.headers, value)
}

/// Sends a request and reads the whole body as text.
pub(crate) async fn text(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
) -> (StatusCode, HeaderMap, String) {
    let response = send(client, request).await.expect("the mock answers");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("a whole body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    )
}

/// Reads a body frame by frame until it ends or fails: the bytes received, and the error if any.
pub(crate) async fn read_until_end(response: Response<Incoming>) -> (String, Option<hyper::Error>) {
    let mut body = response.into_body();
    let mut received = Vec::new();
    loop {
        match body.frame().await {
            None => return (String::from_utf8(received).expect("utf-8 body"), None),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    received.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => return (String::from_utf8_lossy(&received).into_owned(), Some(e)),
        }
    }
}

/// One server-sent event: its `event:` name (if any) and its `data:` payload.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

impl Event {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is JSON ({e}): {}", self.data))
    }
}

/// Splits an SSE body into events; every event must end with a blank line.
pub(crate) fn sse(body: &str) -> Vec<Event> {
    assert!(
        body.is_empty() || body.ends_with("\n\n"),
        "SSE body ends with a blank line: {body:?}"
    );
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|raw| {
            let mut name = None;
            let mut data = None;
            for line in raw.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(d.to_owned());
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            Event {
                name,
                data: data.expect("every event has data"),
            }
        })
        .collect()
}

/// Splits an NDJSON body into JSON values.
pub(crate) fn ndjson(body: &str) -> Vec<Value> {
    assert!(
        body.is_empty() || body.ends_with('\n'),
        "NDJSON body ends with a newline"
    );
    body.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}
