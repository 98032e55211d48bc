//! The listener, the request log and fault injection, shared by the three mocks.
//!
//! One [`MockServer`] is one hyper server on `127.0.0.1:0`. Each connection runs in a task of a
//! `JoinSet` owned by the accept loop, so aborting the accept loop (dropping the `MockServer`)
//! tears down every connection too, stalled ones included.
//!
//! A request goes through three steps: it is read whole and recorded (waking
//! [`MockServer::wait_for_requests`]); the fault for it, if any, is taken; then the provider
//! module answers it and the fault shapes how that answer reaches the socket.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::fault::Fault;
use crate::reply::{Reply, ReplyBody, Script, Turn};
use crate::{anthropic, ollama, openai};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type MockBody = BoxBody<Bytes, BoxError>;

/// One running mock provider on loopback. Dropping it shuts the server down.
///
/// See the [crate docs](crate) for an example.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The request method.
    pub method: Method,
    /// The request path, without the query.
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The whole request body.
    pub body: Bytes,
}

/// Whether a request counts as traffic, a health check, or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A completion or embedding request: counted, and subject to [`MockServer::set_fault`].
    Traffic,
    /// A cheap GET used for health checks: subject to [`MockServer::set_health_fault`].
    Health,
    /// Anything else (answered 404 by the provider module).
    Other,
}

/// Which provider a mock speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    OpenAi,
    Anthropic,
    Ollama,
}

#[derive(Debug)]
struct Shared {
    flavor: Flavor,
    state: Mutex<State>,
    /// Woken on every recorded request.
    arrived: Notify,
}

#[derive(Debug)]
struct State {
    requests: Vec<RecordedRequest>,
    traffic: usize,
    /// Connections accepted so far.
    connections: usize,
    /// Applies to every traffic request once `queue` is empty.
    sticky: Option<Fault>,
    /// One fault per traffic request, front first.
    queue: VecDeque<Fault>,
    health: Option<Fault>,
    script: Script,
    cache_read: u32,
    cache_write: u32,
    omit_usage: bool,
    cache_write_1h: u32,
    service_tier: Option<String>,
    models: Vec<String>,
}

// === impl MockServer ===

impl MockServer {
    /// Starts a mock OpenAI API: `POST /v1/chat/completions`, `POST /v1/embeddings`,
    /// `GET /v1/models`. Its [`base_url`](Self::base_url) ends in `/v1`.
    pub async fn openai() -> Self {
        Self::start(Flavor::OpenAi).await
    }

    /// Starts a mock Anthropic API: `POST /v1/messages`, `GET /v1/models`. Its
    /// [`base_url`](Self::base_url) is the root.
    pub async fn anthropic() -> Self {
        Self::start(Flavor::Anthropic).await
    }

    /// Starts a mock Ollama: `POST /api/chat`, `POST /api/embed`, `GET /api/tags`. Its
    /// [`base_url`](Self::base_url) is the root.
    pub async fn ollama() -> Self {
        Self::start(Flavor::Ollama).await
    }

    async fn start(flavor: Flavor) -> Self {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding a mock server to 127.0.0.1:0 should succeed");
        let addr = listener
            .local_addr()
            .expect("a bound listener has a local address");
        let models = match flavor {
            Flavor::OpenAi => openai::DEFAULT_MODELS.as_slice(),
            Flavor::Anthropic => anthropic::DEFAULT_MODELS.as_slice(),
            Flavor::Ollama => ollama::DEFAULT_MODELS.as_slice(),
        };
        let shared = Arc::new(Shared {
            flavor,
            state: Mutex::new(State {
                requests: Vec::new(),
                traffic: 0,
                connections: 0,
                sticky: None,
                queue: VecDeque::new(),
                health: None,
                script: Script::default(),
                cache_read: 0,
                cache_write: 0,
                omit_usage: false,
                cache_write_1h: 0,
                service_tier: None,
                models: models.iter().map(|m| (*m).to_owned()).collect(),
            }),
            arrived: Notify::new(),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Self { addr, shared, task }
    }

    /// The base URL to configure a provider with: `http://127.0.0.1:PORT/v1` for OpenAI,
    /// `http://127.0.0.1:PORT` for Anthropic and Ollama (matching each provider's default).
    pub fn base_url(&self) -> String {
        match self.shared.flavor {
            Flavor::OpenAi => format!("http://{}/v1", self.addr),
            Flavor::Anthropic | Flavor::Ollama => format!("http://{}", self.addr),
        }
    }

    /// The loopback address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` to every following completion/embedding request, until
    /// [`clear_fault`](Self::clear_fault). Replaces any queue set by
    /// [`set_faults`](Self::set_faults).
    pub fn set_fault(&self, fault: Fault) {
        let mut state = self.shared.lock();
        state.queue.clear();
        state.sticky = Some(fault);
    }

    /// Queues faults: the next completion/embedding request gets `faults[0]`, the one after
    /// `faults[1]`, and so on; once the queue is empty, requests are answered normally. Replaces
    /// any fault set by [`set_fault`](Self::set_fault).
    pub fn set_faults(&self, faults: Vec<Fault>) {
        let mut state = self.shared.lock();
        state.sticky = None;
        state.queue = faults.into();
    }

    /// Removes the fault and the fault queue: requests are answered normally again.
    pub fn clear_fault(&self) {
        let mut state = self.shared.lock();
        state.sticky = None;
        state.queue.clear();
    }

    /// Applies `fault` to every following health GET (`/v1/models`, `/api/tags`), until
    /// [`clear_health_fault`](Self::clear_health_fault). Health GETs are otherwise never faulted.
    pub fn set_health_fault(&self, fault: Fault) {
        self.shared.lock().health = Some(fault);
    }

    /// Removes the health fault.
    pub fn clear_health_fault(&self) {
        self.shared.lock().health = None;
    }

    /// A [`Fault::Status`] whose body is in this provider's error shape:
    /// OpenAI `{"error":{"message","type":kind,"param":null,"code":kind}}`,
    /// Anthropic `{"type":"error","error":{"type":kind,"message"}}`,
    /// Ollama `{"error":message}` (`kind` unused). Add a `Retry-After` with
    /// [`Fault::with_retry_after`].
    pub fn provider_error(&self, status: u16, kind: &str, message: &str) -> Fault {
        let body = match self.shared.flavor {
            Flavor::OpenAi => openai::error_body(kind, message),
            Flavor::Anthropic => anthropic::error_body(kind, message),
            Flavor::Ollama => ollama::error_body(kind, message),
        };
        Fault::Status {
            status,
            body: body.to_string(),
            retry_after: None,
        }
    }

    /// Every request received so far (health checks and unknown routes included), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The number of completion/embedding requests received so far (health checks and unknown
    /// routes excluded).
    pub fn request_count(&self) -> usize {
        self.shared.lock().traffic
    }

    /// The number of TCP connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.lock().connections
    }

    /// Waits until at least `n` completion/embedding requests have arrived (see
    /// [`request_count`](Self::request_count)). Arrival means read and recorded, not answered.
    pub async fn wait_for_requests(&self, n: usize) {
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            // Register before checking, so an arrival between the check and the await is seen.
            notified.as_mut().enable();
            if self.request_count() >= n {
                return;
            }
            notified.await;
        }
    }

    /// Makes following answers say `text` (default `"Hello!"`), replacing any tool call.
    pub fn set_reply(&self, text: &str) {
        self.shared.lock().script = Script::Text(text.to_owned());
    }

    /// Makes following answers call tool `name` with `arguments_json` instead of saying text.
    ///
    /// # Panics
    ///
    /// If `arguments_json` is not a JSON object: providers only ever send objects.
    pub fn set_tool_call(&self, name: &str, arguments_json: &str) {
        let parsed: Value = serde_json::from_str(arguments_json)
            .expect("set_tool_call: arguments_json must be valid JSON");
        assert!(
            parsed.is_object(),
            "set_tool_call: arguments_json must be a JSON object"
        );
        self.shared.lock().script = Script::ToolCall {
            name: name.to_owned(),
            arguments: arguments_json.to_owned(),
        };
    }

    /// Makes following answers behave like a model in an agent loop: call tool `name` with
    /// `arguments_json` while the conversation holds no tool result, then say `text` once it
    /// does.
    ///
    /// # Panics
    ///
    /// If `arguments_json` is not a JSON object.
    pub fn set_tool_call_then_reply(&self, name: &str, arguments_json: &str, text: &str) {
        let parsed: Value = serde_json::from_str(arguments_json)
            .expect("set_tool_call_then_reply: arguments_json must be valid JSON");
        assert!(parsed.is_object(), "arguments_json must be a JSON object");
        self.shared.lock().script = Script::ToolThenText {
            name: name.to_owned(),
            arguments: arguments_json.to_owned(),
            text: text.to_owned(),
        };
    }

    /// Sets the prompt-cache usage reported from now on: Anthropic's
    /// `cache_read_input_tokens` / `cache_creation_input_tokens` (on top of `input_tokens`), and
    /// OpenAI's `prompt_tokens_details.cached_tokens` (= `read`, capped at `prompt_tokens`, of
    /// which it is a part). Ollama has no cache usage.
    pub fn set_cache_usage(&self, read: u32, write: u32) {
        let mut state = self.shared.lock();
        state.cache_read = read;
        state.cache_write = write;
        state.cache_write_1h = 0;
    }

    /// Sets Anthropic cache usage with both write lifetimes: `read` tokens read, `write_5m`
    /// and `write_1h` written (`cache_creation_input_tokens` is their sum, and
    /// `cache_creation` splits it by lifetime, as Anthropic reports it).
    pub fn set_cache_usage_by_lifetime(&self, read: u32, write_5m: u32, write_1h: u32) {
        let mut state = self.shared.lock();
        state.cache_read = read;
        state.cache_write = write_5m + write_1h;
        state.cache_write_1h = write_1h;
    }

    /// Sets the `service_tier` the mock answers with (`priority`, `flex`); OpenAI's default
    /// is `default`, Anthropic's `standard`.
    pub fn set_service_tier(&self, tier: &str) {
        self.shared.lock().service_tier = Some(tier.to_owned());
    }

    /// Makes the OpenAI mock answer as some OpenAI-compatible servers do: without `usage` in
    /// complete answers, and without a usage chunk in streams even when asked for one.
    pub fn set_omit_usage(&self, omit: bool) {
        self.shared.lock().omit_usage = omit;
    }

    /// Sets the models the mock lists on its health GET and, for Ollama, the only models it
    /// serves (others get 404 "not found, try pulling it first"). OpenAI and Anthropic mocks
    /// answer any model name.
    pub fn set_models(&self, models: &[&str]) {
        self.shared.lock().models = models.iter().map(|m| (*m).to_owned()).collect();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts every connection task.
        self.task.abort();
    }
}

// === impl RecordedRequest ===

impl RecordedRequest {
    /// The body parsed as JSON, or `Value::Null` when it is empty or not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

// === impl Shared ===

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide every later assertion behind a poison error.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request and takes its fault and a snapshot of the settings to answer it with.
    fn arrive(&self, request: RecordedRequest, kind: Kind) -> (Option<Fault>, Turn) {
        let now = SystemTime::now();
        let mut state = self.lock();
        state.requests.push(request);
        let fault = match kind {
            Kind::Traffic => {
                state.traffic += 1;
                state.queue.pop_front().or_else(|| state.sticky.clone())
            }
            Kind::Health => state.health.clone(),
            Kind::Other => None,
        };
        let turn = Turn {
            script: state.script.clone(),
            cache_read: state.cache_read,
            cache_write: state.cache_write,
            omit_usage: state.omit_usage,
            cache_write_1h: state.cache_write_1h,
            service_tier: state.service_tier.clone(),
            models: state.models.clone(),
            seq: state.requests.len() as u64,
            created: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            created_at: now,
        };
        drop(state);
        self.arrived.notify_waiters();
        (fault, turn)
    }
}

// === impl Flavor ===

impl Flavor {
    fn classify(self, method: &Method, path: &str) -> Kind {
        match self {
            Self::OpenAi => openai::classify(method, path),
            Self::Anthropic => anthropic::classify(method, path),
            Self::Ollama => ollama::classify(method, path),
        }
    }

    fn handle(self, parts: &Parts, body: &Bytes, turn: &Turn) -> Reply {
        match self {
            Self::OpenAi => openai::handle(parts, body, turn),
            Self::Anthropic => anthropic::handle(parts, body, turn),
            Self::Ollama => ollama::handle(parts, body, turn),
        }
    }
}

// === serving ===

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.lock().connections += 1;
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // Transient (EMFILE, ECONNABORTED): back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // Notified by a request under `Fault::DropConnection`: the connection is then dropped
    // (closing the socket) with that request unanswered.
    let kill = Arc::new(Notify::new());
    let service = {
        let kill = Arc::clone(&kill);
        service_fn(move |request| respond(Arc::clone(&shared), Arc::clone(&kill), request))
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = kill.notified() => {}
    }
}

async fn respond(
    shared: Arc<Shared>,
    kill: Arc<Notify>,
    request: Request<Incoming>,
) -> Result<Response<MockBody>, Infallible> {
    let (parts, body) = request.into_parts();
    // A body that fails to arrive is recorded as what did arrive: nobody will read the answer.
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let kind = shared.flavor.classify(&parts.method, parts.uri.path());
    let recorded = RecordedRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    let (fault, turn) = shared.arrive(recorded, kind);

    let mut shaping = None;
    match fault {
        None => {}
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            return Ok(status_response(status, body, retry_after));
        }
        Some(Fault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::DropConnection) => {
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(Fault::Stall) => return std::future::pending().await,
        Some(shape) => {
            debug_assert!(shape.shapes_stream());
            shaping = Some(shape);
        }
    }
    let reply = shared.flavor.handle(&parts, &body, &turn);
    Ok(into_response(reply, shaping.as_ref()))
}

fn status_response(status: u16, body: String, retry_after: Option<u32>) -> Response<MockBody> {
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(secs) = retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn into_response(reply: Reply, shaping: Option<&Fault>) -> Response<MockBody> {
    let (interval, cut_after) = match shaping {
        Some(Fault::ChunkInterval(d)) => (Some(*d), None),
        Some(Fault::CutStreamAfter(n)) => (None, Some(*n)),
        _ => (None, None),
    };
    let body = match (reply.body, shaping) {
        (ReplyBody::Whole(bytes), None) => full(bytes),
        (ReplyBody::Whole(bytes), Some(_)) => {
            let mid = bytes.len() / 2;
            paced(
                vec![bytes.slice(..mid), bytes.slice(mid..)],
                interval,
                cut_after,
            )
        }
        (ReplyBody::Chunks(chunks), _) => paced(chunks, interval, cut_after),
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header(http::header::CONTENT_TYPE, reply.content_type);
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .expect("mock replies only carry valid header names and values")
}

fn full(bytes: Bytes) -> MockBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A body that yields `chunks` one frame each, sleeping `interval` between them, and fails
/// (making hyper abort the connection) after `cut_after` chunks if any are left.
fn paced(chunks: Vec<Bytes>, interval: Option<Duration>, cut_after: Option<usize>) -> MockBody {
    struct Pacer {
        chunks: std::vec::IntoIter<Bytes>,
        sent: usize,
        cut: bool,
    }
    let pacer = Pacer {
        chunks: chunks.into_iter(),
        sent: 0,
        cut: false,
    };
    let frames = stream::unfold(pacer, move |mut p| async move {
        if p.cut {
            return None;
        }
        if cut_after == Some(p.sent) && !p.chunks.as_slice().is_empty() {
            // hyper only flushes when the body is pending; without this yield the chunks
            // already written could be dropped from its buffer along with the connection.
            tokio::task::yield_now().await;
            p.cut = true;
            let cut: BoxError = Box::new(std::io::Error::other(
                "mock: stream cut by Fault::CutStreamAfter",
            ));
            return Some((Err(cut), p));
        }
        let chunk = p.chunks.next()?;
        if let (true, Some(interval)) = (p.sent > 0, interval) {
            tokio::time::sleep(interval).await;
        }
        p.sent += 1;
        Some((Ok(Frame::data(chunk)), p))
    });
    StreamBody::new(frames).boxed()
}
