//! Holds many streaming requests open through a proxy, for `benches/e2e/run.sh` to measure the
//! proxy's memory per idle stream.
//!
//! Two roles, run as two processes so that only the proxy's own memory is measured:
//!
//! * `idle_streams upstream LISTEN_ADDR` serves `POST /v1/chat/completions` as an OpenAI-style
//!   event stream that sends its first chunk at once and then nothing, ever: an idle stream.
//! * `idle_streams clients URL COUNT` opens `COUNT` connections to `URL`, each with one
//!   `stream: true` chat request, waits until every stream's first chunk has arrived, prints
//!   `ready COUNT`, and then holds all of them open until its standard input closes.

use std::{
    convert::Infallible,
    io::{Read, Write},
    net::SocketAddr,
    pin::Pin,
    process::ExitCode,
    task::Poll,
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};
use tokio::{net::TcpListener, net::TcpStream, task::JoinSet};

/// The first (and only) chunk the idle upstream sends.
const FIRST_CHUNK: &str = "data: {\"id\":\"chatcmpl-idle\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n";

/// The streaming request each client sends.
const STREAM_REQUEST: &str =
    r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["upstream", listen] => match listen.parse::<SocketAddr>() {
            Ok(addr) => upstream(addr).await,
            Err(error) => usage(&format!("bad LISTEN_ADDR {listen:?}: {error}")),
        },
        ["clients", url, count] => match (url.parse::<http::Uri>(), count.parse::<usize>()) {
            (Ok(uri), Ok(count)) => clients(uri, count).await,
            _ => usage("bad URL or COUNT"),
        },
        _ => usage("expected `upstream LISTEN_ADDR` or `clients URL COUNT`"),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}\nusage: idle_streams upstream LISTEN_ADDR | clients URL COUNT");
    ExitCode::from(2)
}

// === upstream ===

/// A body that yields one chunk and then stays pending forever.
struct IdleStream {
    first: Option<Bytes>,
}

impl Body for IdleStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.first.take() {
            Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            // Never woken again: the connection stays open and idle until the peer leaves.
            None => Poll::Pending,
        }
    }
}

async fn upstream(addr: SocketAddr) -> ExitCode {
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {addr}: {error}");
            return ExitCode::from(1);
        }
    };
    let builder = Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
            // Read the request body fully before answering, as a real provider does.
            let _ = request.into_body().collect().await;
            let mut response = Response::new(IdleStream {
                first: Some(Bytes::from_static(FIRST_CHUNK.as_bytes())),
            });
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            Ok::<_, Infallible>(response)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

// === clients ===

async fn clients(uri: http::Uri, count: usize) -> ExitCode {
    let Some(authority) = uri.authority().map(|a| a.as_str().to_owned()) else {
        return usage("URL needs a host:port");
    };
    let mut opening = JoinSet::new();
    for _ in 0..count {
        let uri = uri.clone();
        let authority = authority.clone();
        opening.spawn(async move { open_stream(&authority, uri).await });
        // Pace the connects a little so the listen backlog never overflows.
        tokio::task::yield_now().await;
    }
    let mut held = Vec::with_capacity(count);
    while let Some(result) = opening.join_next().await {
        match result {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(error)) => {
                eprintln!("error: a stream did not open: {error}");
                return ExitCode::from(1);
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(1);
            }
        }
    }
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "ready {}", held.len()).and_then(|()| stdout.flush());
    // Hold every stream open until the script closes our stdin.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink)
    })
    .await;
    drop(held);
    ExitCode::SUCCESS
}

/// An open stream: the connection task and the body, kept alive together.
struct HeldStream {
    _body: Incoming,
    _connection: tokio::task::JoinHandle<()>,
}

async fn open_stream(authority: &str, uri: http::Uri) -> Result<HeldStream, String> {
    let tcp = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("connect {authority}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::post(uri)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(STREAM_REQUEST.as_bytes())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let mut body = response.into_body();
    match body.frame().await {
        Some(Ok(_first_chunk)) => Ok(HeldStream {
            _body: body,
            _connection: connection,
        }),
        Some(Err(error)) => Err(format!("body: {error}")),
        None => Err("the stream ended before its first chunk".to_owned()),
    }
}
