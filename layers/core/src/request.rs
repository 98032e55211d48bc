//! The typed request that travels down the stack, and the record of who served it.

use std::sync::Arc;

use crate::{
    Caller, ClientKey, ClientRequest, KeyHold, Protocol, ProviderName, RequestId, Reservation,
    Strategy, chat::ChatRequest, embeddings::EmbeddingsRequest,
};

/// A parsed request body.
// One body exists per request and moves into an `Arc` at dispatch: boxing the larger variant
// would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum RequestBody {
    /// A chat completion.
    Chat(ChatRequest),
    /// An embeddings request.
    Embeddings(EmbeddingsRequest),
}

impl RequestBody {
    /// The requested model.
    pub fn model(&self) -> &str {
        match self {
            Self::Chat(chat) => &chat.model,
            Self::Embeddings(embeddings) => &embeddings.model,
        }
    }

    /// Whether the client asked for a server-sent event stream.
    pub fn is_stream(&self) -> bool {
        matches!(self, Self::Chat(chat) if chat.is_stream())
    }
}

/// One provider that may serve a request, and the model name it is to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The provider.
    pub provider: ProviderName,
    /// The model sent to that provider (the requested model, or its alias there).
    pub upstream_model: Arc<str>,
}

/// Where a request may go, decided by the routing layers before dispatch.
///
/// The candidates are in order: the first is the choice, the rest the failover order. When
/// no routing layer ran (the list is empty), dispatch falls back to every provider that can
/// serve the requested model, in declared order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteContext {
    /// The route group that matched the requested model, if any.
    pub group: Option<Arc<str>>,
    /// The providers to try, in order.
    pub candidates: Vec<Candidate>,
    /// The strategy that ordered the candidates, once a routing layer ran.
    pub strategy: Option<Strategy>,
}

/// What the request is expected to consume, counted once at ingress before anything is sent.
///
/// Routing (`cost_weighted`) and budgets (reservations) both price this estimate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenEstimate {
    /// Prompt tokens: exact for OpenAI-family models (their BPE tokenizer), approximated for
    /// others.
    pub prompt_tokens: u64,
    /// The most output tokens the client allowed (`max_tokens` or `max_completion_tokens`),
    /// if it said.
    pub max_completion_tokens: Option<u64>,
}

/// A prompt's token count left to be made if something needs it: ingress leaves one in
/// [`InferRequest::deferred_count`] instead of counting a long prompt that no layer of the
/// stack decides by. Making it costs as much as counting the prompt, so it belongs off the
/// async runtime's workers (the blocking pool).
#[derive(Clone)]
pub struct DeferredCount(Arc<dyn Fn() -> u64 + Send + Sync>);

impl DeferredCount {
    /// A count that `count` makes.
    pub fn new(count: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(count))
    }

    /// The prompt's tokens, counted now.
    pub fn count(&self) -> u64 {
        (self.0)()
    }
}

impl std::fmt::Debug for DeferredCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredCount")
    }
}

/// A request on its way through the infermux stack.
#[derive(Clone, Debug)]
pub struct InferRequest {
    /// The parsed body.
    pub body: RequestBody,
    /// Who the request is accounted to.
    pub caller: Caller,
    /// The request id, echoed in `X-Infermux-Request-Id`.
    pub request_id: RequestId,
    /// Where the request may go.
    pub route: RouteContext,
    /// The token estimate counted at ingress.
    pub estimate: TokenEstimate,
    /// Set instead of `estimate.prompt_tokens` (then 0) when ingress left a long prompt
    /// uncounted because no layer decides by it: the cost layer makes the count only for an
    /// answer that comes without usage.
    pub deferred_count: Option<DeferredCount>,
    /// The strategy the client asked for with `X-Infermux-Strategy`, overriding the
    /// configured one.
    pub strategy_override: Option<Strategy>,
    /// The budget reserved for this request at admission, if its caller has a hard cap;
    /// settled with the real cost, or released, by the cost layer.
    pub budget: Option<Reservation>,
    /// The client's session (`X-Infermux-Session`, or an ingress's own field such as the
    /// Messages API's `metadata.user_id`): virtual models keep a session on its model.
    pub session: Option<Arc<str>>,
    /// How a virtual model was resolved, when the client asked for one; the body's `model`
    /// then names the real model.
    pub virtual_model: Option<VirtualRoute>,
    /// The API key the client presented (`Authorization: Bearer` or `x-api-key`), if any;
    /// read by the key layer.
    pub client_key: Option<ClientKey>,
    /// The accepted API key (its id names it in reports and the request log) and the
    /// per-key spend it holds; set by the key layer, settled by the cost layer.
    pub key: Option<KeyHold>,
    /// The wire protocol the client spoke (the request log reads it; answers and errors are
    /// shaped by it).
    pub protocol: Protocol,
    /// The client's bytes, kept when a provider speaking `protocol` may be sent them as they
    /// are (same-protocol passthrough).
    pub client: Option<Arc<ClientRequest>>,
    /// The client's product, the first word of its `User-Agent` (`OpenAI/Python`,
    /// `claude-cli`), for the request log.
    pub user_agent: Option<Arc<str>>,
    /// Charges the failed attempts that their provider billed (set by the cost layer, called
    /// by dispatch for each attempt it moved on from that reported usage).
    pub billed_attempts: Option<crate::AttemptBilling>,
}

/// How the virtual-model layer resolved a request, for the layers below, the request log
/// and telemetry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualRoute {
    /// The virtual model the client asked for (`auto`, `economy`, ...).
    pub name: Arc<str>,
    /// The tier it resolved in (`0`, `1`, or `light`/`strong` for the defaults); `None` for a
    /// `cheapest` pick.
    pub tier: Option<Arc<str>>,
    /// The real model it resolved to.
    pub model: Arc<str>,
}

impl InferRequest {
    /// A request from `caller` with no routing decided yet.
    pub fn new(body: RequestBody, caller: Caller, request_id: RequestId) -> Self {
        Self {
            body,
            caller,
            request_id,
            route: RouteContext::default(),
            estimate: TokenEstimate::default(),
            deferred_count: None,
            strategy_override: None,
            budget: None,
            session: None,
            virtual_model: None,
            client_key: None,
            key: None,
            protocol: Protocol::default(),
            client: None,
            user_agent: None,
            billed_attempts: None,
        }
    }
}

/// Who served a response: set by dispatch as a response extension on every response that a
/// provider produced (pass-through provider errors included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The provider that answered.
    pub provider: ProviderName,
    /// The model it was sent.
    pub upstream_model: Arc<str>,
}

impl Served {
    /// `provider` served the request, sent as `upstream_model`.
    pub fn new(provider: impl Into<ProviderName>, upstream_model: impl Into<Arc<str>>) -> Self {
        Self {
            provider: provider.into(),
            upstream_model: upstream_model.into(),
        }
    }
}
