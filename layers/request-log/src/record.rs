//! [`RequestRecord`]: one row of the request log.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use infermux_core::{
    InferRequest, KeyHold, Money, Protocol, RequestBody, Routed, Served, Settled, VirtualRoute,
};

/// One request that reached the router: served, refused or failed.
///
/// It holds what a person asks about later (who, which model, where it went, what it cost,
/// how long it took) and never the prompt or the answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestRecord {
    /// When the request arrived, in milliseconds since the Unix epoch (UTC).
    pub at_ms: i64,
    /// The request id (`X-Infermux-Request-Id`).
    pub request_id: Arc<str>,
    /// The client protocol: `chat`, `embeddings`, `messages`, `count_tokens`, `responses`.
    pub protocol: Arc<str>,
    /// Who the request is accounted to.
    pub caller: Arc<str>,
    /// The id of the API key that authenticated it, when keys are in use.
    pub key_id: Option<Arc<str>>,
    /// The model the client asked for.
    pub requested_model: Arc<str>,
    /// The virtual model asked for (`economy`, `auto`, ...), when one was.
    pub virtual_model: Option<Arc<str>>,
    /// The virtual model's tier choice, when one was made.
    pub tier: Option<Arc<str>>,
    /// The route group that matched, if any.
    pub route_group: Option<Arc<str>>,
    /// The provider that answered, if one did.
    pub provider: Option<Arc<str>>,
    /// The model sent to the provider (after aliases and overrides).
    pub model: Option<Arc<str>>,
    /// The strategy that ordered the providers.
    pub strategy: Option<Arc<str>>,
    /// The HTTP status returned to the client.
    pub status: u16,
    /// The error code of a refused or failed request (`budget_exceeded`, ...).
    pub error_code: Option<Arc<str>>,
    /// Provider attempts made (0 when refused before any provider).
    pub attempts: u32,
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    pub completion_tokens: u64,
    /// Input tokens read from a prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to a prompt cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// The exact cost charged, the amount the ledger recorded.
    pub cost: Money,
    /// Whether infermux counted the usage (the provider reported none, or the stream broke).
    pub estimated: bool,
    /// Milliseconds from arrival to the end of the response.
    pub latency_ms: u64,
    /// Milliseconds from arrival to the first byte of a streamed answer.
    pub ttft_ms: Option<u64>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The client product from the `User-Agent` (`OpenAI/Python`).
    pub client: Option<Arc<str>>,
}

/// What layers below the log decided about a request, read from its response.
#[derive(Clone, Copy, Debug, Default)]
pub struct Decided<'a> {
    /// The API key that was accepted.
    pub key: Option<&'a KeyHold>,
    /// How a virtual model was resolved.
    pub virtual_route: Option<&'a VirtualRoute>,
}

/// The `protocol` column of a chat-shaped request.
fn protocol_label(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenAiChat => "chat",
        Protocol::AnthropicMessages => "messages",
        Protocol::AnthropicCountTokens => "count_tokens",
        Protocol::OpenAiResponses => "responses",
    }
}

impl RequestRecord {
    /// The fields known when the request enters the log layer: the one place that reads the
    /// typed request. Fields that later layers decide (key id, virtual model and tier) are
    /// filled here too once the request carries them.
    pub fn begin(request: &InferRequest, at: SystemTime) -> Self {
        let (protocol, model, stream) = match &request.body {
            RequestBody::Chat(chat) => (
                protocol_label(request.protocol),
                chat.model.as_str(),
                chat.stream == Some(true),
            ),
            RequestBody::Embeddings(e) => ("embeddings", e.model.as_str(), false),
        };
        Self {
            at_ms: millis(at),
            request_id: request.request_id.as_arc().clone(),
            protocol: interned(protocol),
            caller: request.caller.as_arc().clone(),
            requested_model: model.into(),
            stream,
            client: request.user_agent.clone(),
            strategy: request.strategy_override.map(|s| interned(s.as_str())),
            ..Self::default()
        }
    }

    /// A request the edge refused before it became a typed request (a malformed or oversize
    /// body, a bad header): what is known of it then. `protocol` is the label of the endpoint
    /// it was sent to (`chat`, `messages`, ...); `answer` the status and error code the
    /// client was sent.
    pub fn refused_at_edge(
        at: SystemTime,
        request_id: &str,
        protocol: &'static str,
        caller: &str,
        client: Option<Arc<str>>,
        (status, code): (u16, &'static str),
        latency: Duration,
    ) -> Self {
        Self {
            at_ms: millis(at),
            request_id: request_id.into(),
            protocol: interned(protocol),
            caller: caller.into(),
            client,
            status,
            error_code: Some(interned(code)),
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            ..Self::default()
        }
    }

    /// Fills what the response says: who served it, how it was routed, what it cost, and
    /// what the layers below decided (the client's key, the virtual model's resolution).
    pub fn served(
        &mut self,
        served: Option<&Served>,
        routed: Option<&Routed>,
        settled: Option<Settled>,
        decided: Decided<'_>,
    ) {
        if let Some(key) = decided.key {
            self.key_id = Some(key.id().into());
            // A key binds its caller: the row is charged where the ledger charged it.
            self.caller = key.caller().as_arc().clone();
        }
        if let Some(route) = decided.virtual_route {
            self.virtual_model = Some(Arc::clone(&route.name));
            self.tier = route.tier.clone();
        }
        if let Some(served) = served {
            self.provider = Some(served.provider.as_arc().clone());
            self.model = Some(Arc::clone(&served.upstream_model));
            self.attempts = self.attempts.max(1);
        }
        if let Some(routed) = routed {
            self.route_group = routed.group.clone();
            if let Some(strategy) = routed.strategy {
                self.strategy = Some(interned(strategy.as_str()));
            }
        }
        if let Some(settled) = settled {
            let usage = settled.usage;
            self.prompt_tokens = usage.prompt_tokens;
            self.completion_tokens = usage.completion_tokens;
            self.cached_tokens = usage.cached_prompt_tokens;
            self.cache_write_tokens = usage.cache_creation_tokens;
            self.reasoning_tokens = usage.reasoning_tokens;
            self.cost = settled.cost;
            self.estimated = settled.estimated;
        }
    }

    /// The arrival time.
    pub fn at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(self.at_ms).unwrap_or(0))
    }

    /// The arrival time in RFC 3339 with milliseconds, UTC.
    pub fn time_rfc3339(&self) -> String {
        humantime::format_rfc3339_millis(self.at()).to_string()
    }

    /// The row as the JSON object `/_infermux/requests` lists.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "time": self.time_rfc3339(),
            "request_id": &*self.request_id,
            "protocol": &*self.protocol,
            "caller": &*self.caller,
            "key_id": self.key_id.as_deref(),
            "requested_model": &*self.requested_model,
            "virtual_model": self.virtual_model.as_deref(),
            "tier": self.tier.as_deref(),
            "route_group": self.route_group.as_deref(),
            "provider": self.provider.as_deref(),
            "model": self.model.as_deref(),
            "strategy": self.strategy.as_deref(),
            "status": self.status,
            "error_code": self.error_code.as_deref(),
            "attempts": self.attempts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": self.cost.as_usd_f64(),
            "usage": if self.estimated { "estimated" } else { "reported" },
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "stream": self.stream,
            "client": self.client.as_deref(),
        })
    }

    /// The CSV header row of [`to_csv_row`](Self::to_csv_row).
    pub const CSV_HEADER: &'static str = "time,request_id,protocol,caller,key_id,requested_model,virtual_model,tier,route_group,provider,model,strategy,status,error_code,attempts,prompt_tokens,completion_tokens,cached_tokens,cache_write_tokens,reasoning_tokens,cost_usd,usage,latency_ms,ttft_ms,stream,client";

    /// The row as one CSV line (with its line break), fields quoted where needed.
    pub fn to_csv_row(&self, out: &mut String) {
        let opt = |v: &Option<Arc<str>>| v.as_deref().unwrap_or("").to_owned();
        let fields = [
            self.time_rfc3339(),
            self.request_id.to_string(),
            self.protocol.to_string(),
            self.caller.to_string(),
            opt(&self.key_id),
            self.requested_model.to_string(),
            opt(&self.virtual_model),
            opt(&self.tier),
            opt(&self.route_group),
            opt(&self.provider),
            opt(&self.model),
            opt(&self.strategy),
            self.status.to_string(),
            opt(&self.error_code),
            self.attempts.to_string(),
            self.prompt_tokens.to_string(),
            self.completion_tokens.to_string(),
            self.cached_tokens.to_string(),
            self.cache_write_tokens.to_string(),
            self.reasoning_tokens.to_string(),
            self.cost.to_plain_decimal(),
            if self.estimated {
                "estimated"
            } else {
                "reported"
            }
            .to_owned(),
            self.latency_ms.to_string(),
            self.ttft_ms.map(|t| t.to_string()).unwrap_or_default(),
            self.stream.to_string(),
            opt(&self.client),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(out, field);
        }
        out.push_str("\r\n");
    }
}

/// Writes `field`, quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so spreadsheets do not run it as a formula.
fn csv_field(out: &mut String, field: &str) {
    let formula = field.starts_with(['=', '+', '@'])
        || (field.starts_with('-') && field.parse::<f64>().is_err());
    let quote = formula || field.contains([',', '"', '\r', '\n']);
    if !quote {
        out.push_str(field);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    out.push_str(&field.replace('"', "\"\""));
    out.push('"');
}

/// The shared copy of a fixed name (a protocol, a strategy): a reference count instead of an
/// allocation per request.
fn interned(name: &'static str) -> Arc<str> {
    static NAMES: std::sync::LazyLock<Vec<Arc<str>>> = std::sync::LazyLock::new(|| {
        [
            "chat",
            "embeddings",
            "messages",
            "responses",
            "priority",
            "round_robin",
            "least_latency",
            "cost_weighted",
        ]
        .into_iter()
        .map(Arc::from)
        .collect()
    });
    NAMES
        .iter()
        .find(|n| ***n == *name)
        .cloned()
        .unwrap_or_else(|| Arc::from(name))
}

/// `time` in milliseconds since the Unix epoch.
pub(crate) fn millis(time: SystemTime) -> i64 {
    i64::try_from(
        time.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}
