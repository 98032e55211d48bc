//! HTTP request -> typed [`InferRequest`]: the body is parsed exactly once, here.
//!
//! [`Ingress`] is the edge of the proxy port. It routes the OpenAI paths, reads the body
//! under the `max_request_body` limit, parses it into the typed request (unknown fields kept),
//! reads the headers that matter (`X-Infermux-Caller`, `X-Request-Id`, `X-Infermux-Strategy`),
//! counts the prompt tokens once ([`crate::tokens`]), and calls the stack below. Whatever
//! happens, the client gets an HTTP response: errors from any layer are rendered once, by
//! [`crate::error`], and every response carries `X-Infermux-Request-Id`.
//! Management paths are never served here; `/healthz` is, for load balancers.

mod metrics;

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{LengthLimitError, Limited};
use infermux_core::{
    BoxError, Caller, ClientRequest, InferBody, InferRequest, Protocol, RequestBody, RequestId,
    Strategy, chat::ChatRequest, embeddings::EmbeddingsRequest,
};
use tower::{Service, ServiceExt};

use crate::{
    error::{self, InvalidRequest, MethodNotAllowed, PayloadTooLarge, RouteNotFound},
    provider::{MODEL_HEADER, PROVIDER_HEADER},
    tokens::BpeTokenCounter,
};

/// Header carrying the caller a request is accounted to.
pub const CALLER_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-caller");
/// Header overriding the routing strategy for one request.
pub const STRATEGY_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-strategy");
/// Header echoing the request id on every response.
pub const REQUEST_ID_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-request-id");
/// Incoming request id to echo.
const INCOMING_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
/// Longest accepted incoming request id; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// What ingress needs to know, fixed at start-up.
#[derive(Debug)]
pub struct IngressSettings {
    /// Largest accepted request body, in bytes.
    pub max_request_body: u64,
    /// The body of `GET /v1/models`, rendered once.
    models_body: Bytes,
    /// The body of `GET /v1/models/{id}` for each listed model, rendered once.
    model_bodies: hashbrown::HashMap<String, Bytes>,
    /// The listed models, in order.
    model_ids: Vec<String>,
    /// Counts each request's prompt tokens.
    tokens: BpeTokenCounter,
    /// The request log, for the requests refused here, and the clock that dates its rows.
    log: Option<(infermux_request_log::RequestLog, infermux_core::SharedClock)>,
    /// The key ring that `GET /v1/models` checks the client's key against, and whether a key
    /// is required (inference requests are checked by the key layer).
    keys: Option<(Arc<infermux_keys::KeyRing>, bool)>,
    /// The request metrics' handles, registered once.
    metrics: metrics::RequestMetrics,
    /// Set when no layer of the stack decides by a prompt's size: the virtual models, whose
    /// requests are counted all the same.
    counts_on_demand: Option<hashbrown::HashSet<Arc<str>>>,
}

impl IngressSettings {
    /// Settings accepting bodies up to `max_request_body` bytes and listing `models`.
    pub fn new<I, M>(max_request_body: u64, models: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: AsRef<str>,
    {
        let data: Vec<serde_json::Value> = models
            .into_iter()
            .map(|m| {
                serde_json::json!({"id": m.as_ref(), "object": "model", "created": 0, "owned_by": "infermux"})
            })
            .collect();
        let model_ids: Vec<String> = data
            .iter()
            .filter_map(|m| Some(m["id"].as_str()?.to_owned()))
            .collect();
        let model_bodies = model_ids
            .iter()
            .zip(&data)
            .map(|(id, m)| (id.clone(), m.to_string().into()))
            .collect();
        let models_body = serde_json::json!({"object": "list", "data": data})
            .to_string()
            .into();
        Self {
            max_request_body,
            models_body,
            model_bodies,
            model_ids,
            tokens: BpeTokenCounter::new(),
            log: None,
            keys: None,
            metrics: metrics::RequestMetrics::default(),
            counts_on_demand: None,
        }
    }

    /// Logs the requests refused here (malformed or oversize bodies) into `log`, dated by
    /// `clock`; the layers below log every other request.
    #[must_use]
    pub fn with_request_log(
        mut self,
        log: Option<infermux_request_log::RequestLog>,
        clock: infermux_core::SharedClock,
    ) -> Self {
        self.log = log.map(|log| (log, clock));
        self
    }

    /// Writes the request log's row for a request refused here with `error`.
    fn log_refusal(
        &self,
        route: &Route,
        headers: &HeaderMap,
        caller: &Caller,
        request_id: &RequestId,
        error: &BoxError,
        started: Instant,
    ) {
        let Some((log, clock)) = &self.log else {
            return;
        };
        let class = error::classify(error.as_ref());
        let latency = started.elapsed();
        log.record(infermux_request_log::RequestRecord::refused_at_edge(
            clock
                .now()
                .checked_sub(latency)
                .unwrap_or_else(|| clock.now()),
            request_id.as_str(),
            route.log_label(),
            caller.as_str(),
            client_product(headers),
            (class.status.as_u16(), class.code),
            latency,
        ));
    }

    /// Leaves the prompt of a long non-streamed chat request uncounted (see
    /// [`InferRequest::deferred_count`]), for a stack in which no layer decides by it: no
    /// budget, no `tpm` limit, no `cost_weighted` routing. A request for one of
    /// `virtual_models`, one that names a strategy (`X-Infermux-Strategy`) and one that
    /// presents an API key (which may hold a spend cap) are counted all the same; the cost
    /// layer counts a deferred prompt if its answer comes without usage.
    #[must_use]
    pub fn with_counts_on_demand<'a>(
        mut self,
        virtual_models: impl IntoIterator<Item = &'a Arc<str>>,
    ) -> Self {
        self.counts_on_demand = Some(virtual_models.into_iter().cloned().collect());
        self
    }

    /// Whether `request` (`route`, a body of `body_len` bytes) is left uncounted; `asks_more`
    /// when it names a strategy or presents a key.
    fn leaves_uncounted(
        &self,
        route: &Route,
        request: &InferRequest,
        body_len: usize,
        asks_more: bool,
    ) -> bool {
        let Some(virtual_models) = &self.counts_on_demand else {
            return false;
        };
        let model = request.body.model();
        matches!(route, Route::Chat)
            && !asks_more
            && !request.body.is_stream()
            && body_len > crate::tokens::INLINE_ESTIMATE_BYTES
            && crate::tokens::counts_exactly(model)
            && !virtual_models.contains(model)
    }

    /// Shows `GET /v1/models` to a client presenting a key of `ring` as that key's
    /// allow-list permits, and, when `required`, only to such clients.
    #[must_use]
    pub fn with_keys(mut self, ring: Arc<infermux_keys::KeyRing>, required: bool) -> Self {
        self.keys = Some((ring, required));
        self
    }

    /// The key `headers` present, when one is in play; a refusal when the listing may not
    /// be shown.
    fn listing_key(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Arc<infermux_keys::KeyEntry>>, BoxError> {
        let Some((ring, required)) = &self.keys else {
            return Ok(None);
        };
        let presented = infermux_keys::presented(headers);
        Ok(ring.identify(presented.as_ref().map(|key| key.expose()), *required)?)
    }

    /// The body of `GET /v1/models` for a client holding `key`: every model, or those its
    /// allow-list names.
    fn models_body(&self, key: Option<&infermux_keys::KeyEntry>) -> Bytes {
        let Some(key) = key.filter(|key| key.record.models.is_some()) else {
            return self.models_body.clone();
        };
        let mut body = br#"{"object":"list","data":["#.to_vec();
        let allowed = self.model_ids.iter().filter(|id| key.allows(id));
        for (i, id) in allowed.enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&self.model_bodies[id]);
        }
        body.extend_from_slice(b"]}");
        body.into()
    }
}

/// The proxy's HTTP edge, in front of a stack of `Service<InferRequest>`.
#[derive(Clone, Debug)]
pub struct Ingress<S> {
    /// Shared by the clones the server makes per request: each request clones the stack once,
    /// in [`call`](Service::call), for the future that outlives the borrow.
    inner: Arc<S>,
    settings: Arc<IngressSettings>,
}

impl<S> Ingress<S> {
    /// Puts ingress in front of `inner`.
    pub fn new(inner: S, settings: IngressSettings) -> Self {
        Self {
            inner: Arc::new(inner),
            settings: Arc::new(settings),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone> Ingress<S> {
    /// The inner service, mutably (this ingress's own copy once its clones share it).
    pub fn get_mut(&mut self) -> &mut S {
        Arc::make_mut(&mut self.inner)
    }

    /// Takes the inner service out.
    pub fn into_inner(self) -> S {
        Arc::unwrap_or_clone(self.inner)
    }

    /// The same ingress in front of `f(inner)`: how the library face puts request-wide layers
    /// (the request span) between ingress and the stack.
    pub fn map_inner<T>(self, f: impl FnOnce(S) -> T) -> Ingress<T> {
        let Self { inner, settings } = self;
        Ingress {
            inner: Arc::new(f(Arc::unwrap_or_clone(inner))),
            settings,
        }
    }
}

/// The OpenAI endpoints ingress serves.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Chat,
    Embeddings,
    /// Anthropic Messages (`/v1/messages`, `?beta=true` too).
    Messages,
    /// Anthropic token counting (`/v1/messages/count_tokens`).
    CountTokens,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
    Models,
    /// One model (`GET /v1/models/{id}`).
    Model(String),
    Health,
    NotFound,
    WrongMethod(Method),
}

impl Route {
    fn of(method: &Method, path: &str) -> Self {
        let path = path.strip_prefix("/v1").unwrap_or(path);
        let (route, allowed) = match path {
            "/chat/completions" => (Self::Chat, Method::POST),
            "/embeddings" => (Self::Embeddings, Method::POST),
            "/messages" => (Self::Messages, Method::POST),
            "/messages/count_tokens" => (Self::CountTokens, Method::POST),
            "/responses" => (Self::Responses, Method::POST),
            "/models" => (Self::Models, Method::GET),
            "/healthz" => (Self::Health, Method::GET),
            _ => match path.strip_prefix("/models/").filter(|id| !id.is_empty()) {
                Some(id) => (Self::Model(id.to_owned()), Method::GET),
                None => return Self::NotFound,
            },
        };
        if *method == allowed {
            route
        } else {
            Self::WrongMethod(allowed)
        }
    }

    const fn label(&self) -> &'static str {
        match self {
            Self::Chat => "chat_completions",
            Self::Embeddings => "embeddings",
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::Responses => "responses",
            Self::Models | Self::Model(_) => "models",
            Self::Health => "healthz",
            Self::NotFound => "not_found",
            Self::WrongMethod(_) => "method_not_allowed",
        }
    }

    /// The request log's name for the protocol of an inference route.
    const fn log_label(&self) -> &'static str {
        match self {
            Self::Embeddings => "embeddings",
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::Responses => "responses",
            _ => "chat",
        }
    }

    /// The wire protocol of the route: errors are rendered in its shape.
    const fn protocol(&self) -> Protocol {
        match self {
            Self::Messages => Protocol::AnthropicMessages,
            Self::CountTokens => Protocol::AnthropicCountTokens,
            Self::Responses => Protocol::OpenAiResponses,
            _ => Protocol::OpenAiChat,
        }
    }
}

impl<S, B> Service<Request<B>> for Ingress<S>
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<InferBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<InferBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner stack is driven to readiness per request, after the body is read.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let settings = self.settings.clone();
        let inner = S::clone(&self.inner);
        let (parts, body) = request.into_parts();
        let route = Route::of(&parts.method, parts.uri.path());
        let request_id = request_id(&parts.headers);
        Box::pin(async move {
            let caller = caller(&parts.headers);
            let result = match &route {
                Route::Chat
                | Route::Embeddings
                | Route::Messages
                | Route::CountTokens
                | Route::Responses => {
                    // The typed request goes into the stack's call before its wait, so that
                    // the future keeps it once, not also in a binding of its own.
                    'served: {
                        let call = {
                            let read = read_request(
                                &route,
                                &parts.headers,
                                body,
                                &settings,
                                &caller,
                                &request_id,
                            );
                            let infer = match read.await {
                                Ok(infer) => infer,
                                Err(error) => {
                                    settings.log_refusal(
                                        &route,
                                        &parts.headers,
                                        &caller,
                                        &request_id,
                                        &error,
                                        started,
                                    );
                                    break 'served Err(error);
                                }
                            };
                            inner.oneshot(infer)
                        };
                        call.await
                    }
                }
                Route::Models => settings
                    .listing_key(&parts.headers)
                    .map(|key| json_response(settings.models_body(key.as_deref()))),
                Route::Model(id) => settings.listing_key(&parts.headers).and_then(|key| {
                    settings
                        .model_bodies
                        .get(id.as_str())
                        .filter(|_| key.is_none_or(|key| key.allows(id)))
                        .map(|body| json_response(body.clone()))
                        .ok_or_else(|| error::ModelNotFound::new(id.clone()).into())
                }),
                Route::Health => Ok(json_response(Bytes::from_static(br#"{"status":"ok"}"#))),
                Route::WrongMethod(allowed) => Err(MethodNotAllowed::new(
                    parts.method.clone(),
                    parts.uri.path(),
                    allowed.clone(),
                )
                .into()),
                Route::NotFound => {
                    Err(RouteNotFound::new(parts.method.clone(), parts.uri.path()).into())
                }
            };
            let mut response =
                result.unwrap_or_else(|error| error::into_response_for(route.protocol(), &error));
            if let Route::WrongMethod(allowed) = &route
                && let Ok(value) = HeaderValue::from_str(allowed.as_str())
            {
                response.headers_mut().insert(header::ALLOW, value);
            }
            echo_request_id(&mut response, &request_id);
            // A request made with a key is charged to the key's caller, whatever it claimed.
            let caller = response
                .extensions()
                .get::<infermux_core::KeyHold>()
                .map_or(caller, |key| key.caller().clone());
            record(
                &settings.metrics,
                &route,
                &response,
                &caller,
                &request_id,
                started,
            );
            Ok(response)
        })
    }
}

/// Reads, bounds and parses the body into the typed request.
async fn read_request<B>(
    route: &Route,
    headers: &HeaderMap,
    body: B,
    settings: &IngressSettings,
    caller: &Caller,
    request_id: &RequestId,
) -> Result<InferRequest, BoxError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let strategy_override = strategy_override(headers)?;
    let limit = settings.max_request_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(PayloadTooLarge::new(limit).into());
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let bytes = match crate::whole_body::whole_body(Limited::new(body, limit_usize)).await {
        Ok(bytes) => bytes,
        Err(error) if error.is::<LengthLimitError>() => {
            return Err(PayloadTooLarge::new(limit).into());
        }
        // The edge's body deadline (`body_read_timeout`): 408, rendered in error.rs.
        Err(error) if error.is::<crate::body_deadline::BodyTimedOut>() => return Err(error),
        Err(error) => {
            return Err(
                InvalidRequest::new(format!("could not read the request body: {error}")).into(),
            );
        }
    };
    let protocol = route.protocol();
    let mut session = session(headers);
    let mut native_only = None;
    let mut tool_namespaces = Vec::new();
    let body = match route {
        Route::Chat => RequestBody::Chat(parse_chat(&bytes)?),
        Route::Messages | Route::CountTokens => {
            let need_max_tokens = *route == Route::Messages;
            let decoded = infermux_wire::messages::decode(&bytes, need_max_tokens)
                .map_err(|e| InvalidRequest::new(e.to_string()))?;
            // `X-Infermux-Session` wins over the body's `metadata.user_id`.
            session = session.or_else(|| decoded.session.map(Arc::from));
            RequestBody::Chat(decoded.chat)
        }
        Route::Responses => {
            let decoded = infermux_wire::responses::decode(&bytes)
                .map_err(|e| InvalidRequest::new(e.to_string()))?;
            native_only = decoded.native_only;
            tool_namespaces = decoded.tool_namespaces;
            RequestBody::Chat(decoded.chat)
        }
        _ => RequestBody::Embeddings(parse_embeddings(&bytes)?),
    };
    let client = if protocol.is_anthropic() {
        Some(Arc::new(anthropic_client_request(headers, bytes.clone())))
    } else if protocol == Protocol::OpenAiResponses {
        let mut client = responses_client_request(headers, bytes.clone());
        client.native_only = native_only;
        client.tool_namespaces = tool_namespaces;
        Some(Arc::new(client))
    } else if matches!(route, Route::Chat) {
        // An OpenAI provider is sent these bytes with the model spliced in.
        Some(Arc::new(ClientRequest {
            body: bytes.clone(),
            ..ClientRequest::default()
        }))
    } else {
        None
    };
    let mut request = InferRequest::new(body, caller.clone(), request_id.clone());
    request.protocol = protocol;
    request.client = client;
    // Before counting: a prompt's long texts are remembered per key (or caller).
    request.client_key = infermux_keys::presented(headers);
    let asks_more = strategy_override.is_some() || request.client_key.is_some();
    if settings.leaves_uncounted(route, &request, bytes.len(), asks_more) {
        crate::tokens::defer_count(settings.tokens, &mut request, bytes);
    } else if !crate::tokens::estimate_inline(settings.tokens, &mut request, bytes.len()) {
        // Large prompts are counted off the runtime's workers, and a first table is built on
        // the blocking pool (see `tokens::with_estimate`): boxed, as both are rare and their
        // futures large.
        let counting = crate::tokens::with_estimate(settings.tokens, request, bytes.len());
        request = Box::pin(counting).await?;
    }
    request.strategy_override = strategy_override;
    request.session = session;
    request.user_agent = client_product(headers);
    Ok(request)
}

/// The headers of an Anthropic request that its provider is forwarded (never credentials).
const ANTHROPIC_FORWARDED: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// The client's Messages body and protocol headers, kept for passthrough.
fn anthropic_client_request(headers: &HeaderMap, body: Bytes) -> ClientRequest {
    let headers = ANTHROPIC_FORWARDED
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .map(|value| (http::HeaderName::from_static(name), value.clone()))
        })
        .collect();
    ClientRequest {
        body,
        headers,
        native_only: None,
        tool_namespaces: Vec::new(),
    }
}

/// The headers of a Responses request that an `openai` provider is forwarded: the client's
/// non-credential protocol headers (`OpenAI-Beta`, Codex's session and turn headers).
fn forwarded_to_openai(name: &http::HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "openai-beta"
            | "originator"
            | "session_id"
            | "session-id"
            | "thread-id"
            | "conversation_id"
    ) || name.starts_with("x-codex-")
        || name == "x-client-request-id"
}

/// The client's Responses body and protocol headers, kept for passthrough.
fn responses_client_request(headers: &HeaderMap, body: Bytes) -> ClientRequest {
    let headers = headers
        .iter()
        .filter(|(name, _)| forwarded_to_openai(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    ClientRequest {
        body,
        headers,
        ..ClientRequest::default()
    }
}

fn parse_error(error: serde_json::Error) -> InvalidRequest {
    if error.is_syntax() || error.is_eof() {
        InvalidRequest::new(format!("the request body is not valid JSON: {error}"))
    } else {
        InvalidRequest::new(format!("invalid request body: {error}"))
    }
}

fn parse_chat(bytes: &[u8]) -> Result<ChatRequest, InvalidRequest> {
    let chat: ChatRequest = serde_json::from_slice(bytes).map_err(parse_error)?;
    if chat.model.trim().is_empty() {
        return Err(InvalidRequest::new(
            "`model` must name a model; GET /v1/models lists them",
        ));
    }
    if chat.messages.is_empty() {
        return Err(InvalidRequest::new(
            "`messages` must contain at least one message",
        ));
    }
    if let Some(i) = chat.messages.iter().position(|m| m.role.trim().is_empty()) {
        return Err(InvalidRequest::new(format!(
            "`messages[{i}].role` must not be empty"
        )));
    }
    Ok(chat)
}

fn parse_embeddings(bytes: &[u8]) -> Result<EmbeddingsRequest, InvalidRequest> {
    let request: EmbeddingsRequest = serde_json::from_slice(bytes).map_err(parse_error)?;
    if request.model.trim().is_empty() {
        return Err(InvalidRequest::new(
            "`model` must name a model; GET /v1/models lists them",
        ));
    }
    if request.input.is_null() {
        return Err(InvalidRequest::new("`input` must be a string or a list"));
    }
    Ok(request)
}

/// The client's session (`X-Infermux-Session`), which virtual models keep on one model.
fn session(headers: &HeaderMap) -> Option<Arc<str>> {
    headers
        .get(infermux_virtual_model::SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Arc::from)
}

/// The product of the `User-Agent` (its first word, `OpenAI/Python 1.2` -> `OpenAI/Python`),
/// bounded, for the request log.
fn client_product(headers: &HeaderMap) -> Option<Arc<str>> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let product = agent.split_whitespace().next()?;
    Some(product.chars().take(64).collect::<String>().into())
}

fn caller(headers: &HeaderMap) -> Caller {
    headers
        .get(CALLER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map_or_else(Caller::anonymous, Caller::new)
}

/// The strategy the client asked for with `X-Infermux-Strategy`, if any.
fn strategy_override(headers: &HeaderMap) -> Result<Option<Strategy>, InvalidRequest> {
    let Some(value) = headers.get(STRATEGY_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(Strategy::from_header)
        .map(Some)
        .ok_or_else(|| {
            InvalidRequest::new(format!(
                "X-Infermux-Strategy must be one of cost, latency, priority, round_robin (got `{}`)",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })
}

/// Puts `id` on `response` as `X-Infermux-Request-Id`.
pub(crate) fn echo_request_id<B>(response: &mut Response<B>, id: &RequestId) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
}

/// The request's id: the client's `X-Request-Id` when it is usable (not empty, at most
/// [`MAX_REQUEST_ID_LEN`] bytes of text), else a fresh UUID.
pub(crate) fn request_id(headers: &HeaderMap) -> RequestId {
    headers
        .get(INCOMING_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN)
        .map_or_else(crate::request_ids::fresh, RequestId::new)
}

fn json_response(body: Bytes) -> Response<InferBody> {
    let mut response = Response::new(InferBody::full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// One access-log line and the request metrics.
fn record(
    series: &metrics::RequestMetrics,
    route: &Route,
    response: &Response<InferBody>,
    caller: &Caller,
    id: &RequestId,
    started: Instant,
) {
    let status = response.status();
    let elapsed = started.elapsed();
    series.record(route.label(), status_label(status), elapsed.as_secs_f64());
    if matches!(route, Route::Health) {
        return;
    }
    let header = |name: http::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let (provider, model, error) = (
        header(PROVIDER_HEADER),
        header(MODEL_HEADER),
        header(error::ERROR_HEADER),
    );
    // Served requests are counted in the metrics; logging each one costs more than the rest of
    // the hop, so it is a `debug` line. Refused and failed requests are `info`.
    macro_rules! access_log {
        ($level:expr) => {
            tracing::event!(
                $level,
                request_id = %id,
                caller = %caller,
                endpoint = route.label(),
                status = status.as_u16(),
                provider,
                model,
                error,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request",
            )
        };
    }
    if status.is_success() {
        access_log!(tracing::Level::DEBUG);
    } else {
        access_log!(tracing::Level::INFO);
    }
}

/// The status as a metric label without allocating, for the statuses infermux answers with.
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        code => match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

#[cfg(test)]
mod tests;
