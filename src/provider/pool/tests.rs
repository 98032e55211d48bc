//! The pool against a raw TCP server that counts its connections and sees every request head.

use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::mpsc,
};

use super::*;

/// What the test server does for each request.
#[derive(Clone, Copy)]
enum Answer {
    /// `200` with a five-byte body, the connection kept.
    KeepAlive,
    /// `200` with a five-byte body and `Connection: close`, then the connection closed.
    Close,
    /// `200` with an empty body, the connection kept.
    Empty,
    /// A chunked body that sends one chunk and never ends.
    Unending,
}

struct Server {
    base_url: Uri,
    /// One message per accepted connection.
    accepted: mpsc::UnboundedReceiver<()>,
    /// One message per connection the client closed.
    closed: mpsc::UnboundedReceiver<()>,
    /// Every request's `Host` header.
    hosts: Arc<Mutex<Vec<String>>>,
}

async fn server(answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let (accepted_tx, accepted) = mpsc::unbounded_channel();
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let seen = hosts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = accepted_tx.send(());
            let (closed_tx, seen) = (closed_tx.clone(), seen.clone());
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut head = Vec::new();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            let _ = closed_tx.send(());
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.trim_end().to_owned());
                    }
                    let header = |name: &str| {
                        head.iter().find_map(|h| {
                            let (key, value) = h.split_once(':')?;
                            key.eq_ignore_ascii_case(name)
                                .then(|| value.trim().to_owned())
                        })
                    };
                    let length: usize =
                        header("content-length").map_or(0, |l| l.parse().expect("length"));
                    seen.lock()
                        .expect("hosts")
                        .push(header("host").unwrap_or_default());
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.expect("request body");
                    let reply: &[u8] = match answer {
                        Answer::KeepAlive => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
                        Answer::Close => {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
                        }
                        Answer::Empty => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                        Answer::Unending => {
                            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"
                        }
                    };
                    stream.get_mut().write_all(reply).await.expect("reply");
                    if matches!(answer, Answer::Close) {
                        let _ = closed_tx.send(());
                        return;
                    }
                }
            });
        }
    });
    Server {
        base_url: base_url.parse().expect("URL"),
        accepted,
        closed,
        hosts,
    }
}

fn pool(server: &Server) -> Http1Pool {
    Http1Pool::for_url(&server.base_url, HttpConnector::new()).expect("a plain-HTTP URL")
}

fn post() -> Request<Full<Bytes>> {
    Request::post("/v1/chat/completions")
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("request")
}

async fn read(response: Response<UpstreamBody>) -> Bytes {
    assert_eq!(response.status(), 200);
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

#[tokio::test]
async fn one_connection_serves_requests_one_after_another() {
    let mut server = server(Answer::KeepAlive).await;
    let pool = pool(&server);
    for _ in 0..3 {
        let response = pool.send(post()).await.expect("answer");
        assert_eq!(read(response).await, "hello");
    }
    assert!(server.accepted.recv().await.is_some());
    assert!(server.accepted.try_recv().is_err(), "one connection");
    let port = server.base_url.port_u16().expect("port");
    assert_eq!(
        *server.hosts.lock().expect("hosts"),
        vec![format!("127.0.0.1:{port}"); 3]
    );
}

#[tokio::test]
async fn requests_at_once_each_get_a_connection_and_all_come_back() {
    let mut server = server(Answer::KeepAlive).await;
    let pool = pool(&server);
    let (a, b) = tokio::join!(pool.send(post()), pool.send(post()));
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(read(a).await, "hello");
    assert_eq!(read(b).await, "hello");
    assert_eq!(pool.shared.idle.lock().expect("idle").len(), 2);
    for _ in 0..2 {
        assert!(server.accepted.recv().await.is_some());
    }
    let response = pool.send(post()).await.expect("answer");
    assert_eq!(read(response).await, "hello");
    assert!(server.accepted.try_recv().is_err(), "no third connection");
}

#[tokio::test]
async fn a_reader_that_stops_at_the_end_of_the_stream_brings_the_connection_back() {
    let mut server = server(Answer::KeepAlive).await;
    let pool = pool(&server);
    let mut body = pool.send(post()).await.expect("answer").into_body();
    let frame = body.frame().await.expect("a frame").expect("data");
    assert_eq!(frame.into_data().expect("data"), "hello");
    assert!(body.is_end_stream(), "hyper's server stops reading here");
    assert_eq!(pool.shared.idle.lock().expect("idle").len(), 1);
    drop(body);
    let response = pool.send(post()).await.expect("answer");
    assert_eq!(read(response).await, "hello");
    assert!(server.accepted.recv().await.is_some());
    assert!(server.accepted.try_recv().is_err(), "one connection");
}

#[tokio::test]
async fn a_connection_the_server_closes_is_not_reused() {
    let mut server = server(Answer::Close).await;
    let pool = pool(&server);
    for _ in 0..2 {
        let response = pool.send(post()).await.expect("answer");
        assert_eq!(read(response).await, "hello");
        assert!(server.accepted.recv().await.is_some());
        assert!(server.closed.recv().await.is_some());
    }
}

#[tokio::test]
async fn a_body_dropped_before_its_end_takes_its_connection_with_it() {
    let mut server = server(Answer::Unending).await;
    let pool = pool(&server);
    let mut body = pool.send(post()).await.expect("answer").into_body();
    let first = body.frame().await.expect("a frame").expect("data");
    assert_eq!(first.into_data().expect("data"), "hello");
    drop(body);
    assert!(
        server.closed.recv().await.is_some(),
        "the connection closes"
    );
    assert!(pool.shared.idle.lock().expect("idle").is_empty());
    let _second = pool.send(post()).await.expect("answer");
    assert!(server.accepted.recv().await.is_some());
    assert!(
        server.accepted.recv().await.is_some(),
        "a second connection"
    );
}

#[tokio::test]
async fn an_empty_body_brings_its_connection_back_unread() {
    let mut server = server(Answer::Empty).await;
    let pool = pool(&server);
    for _ in 0..2 {
        let response = pool.send(post()).await.expect("answer");
        assert_eq!(response.status(), 200);
        drop(response);
    }
    assert!(server.accepted.recv().await.is_some());
    assert!(server.accepted.try_recv().is_err(), "one connection");
}

#[tokio::test]
async fn a_connection_idle_past_the_timeout_is_closed_not_reused() {
    let mut server = server(Answer::KeepAlive).await;
    let pool = pool(&server);
    let response = pool.send(post()).await.expect("answer");
    assert_eq!(read(response).await, "hello");
    {
        let mut idle = pool.shared.idle.lock().expect("idle");
        let since = Instant::now()
            .checked_sub(IDLE_TIMEOUT)
            .expect("an earlier instant");
        idle.iter_mut().for_each(|conn| conn.since = since);
    }
    let response = pool.send(post()).await.expect("answer");
    assert_eq!(read(response).await, "hello");
    assert!(
        server.closed.recv().await.is_some(),
        "the idle one is closed"
    );
    for _ in 0..2 {
        assert!(server.accepted.recv().await.is_some());
    }
}

#[tokio::test]
async fn a_connection_that_can_take_a_request_now_goes_before_a_newer_one_that_cannot() {
    let server = server(Answer::KeepAlive).await;
    let pool = pool(&server);
    let response = pool.send(post()).await.expect("answer");
    assert_eq!(read(response).await, "hello");
    // A newer idle connection whose connection task never runs: it never takes a request.
    let authority = server.base_url.authority().expect("authority").as_str();
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let (stalled, _never_polled) = http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("handshake");
    pool.shared.idle.lock().expect("idle").push(Idle {
        sender: stalled,
        since: Instant::now(),
    });
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), pool.send(post()))
        .await
        .expect("sent on the connection that was ready")
        .expect("answer");
    assert_eq!(read(response).await, "hello");
    assert_eq!(pool.shared.idle.lock().expect("idle").len(), 2);
}

#[test]
fn only_plain_http_urls_get_a_pool_and_their_host_names_the_port_unless_80() {
    let host = |url: &str| {
        let pool = Http1Pool::for_url(&url.parse().expect("URL"), HttpConnector::new())?;
        Some(pool.shared.host.to_str().expect("ASCII").to_owned())
    };
    assert_eq!(
        host("http://ollama:11434/v1").as_deref(),
        Some("ollama:11434")
    );
    assert_eq!(
        host("http://vllm.internal/v1").as_deref(),
        Some("vllm.internal")
    );
    assert_eq!(
        host("http://vllm.internal:80/v1").as_deref(),
        Some("vllm.internal")
    );
    assert_eq!(host("https://api.openai.com/v1"), None);
    assert_eq!(host("/v1"), None);
}
