//! The validated configuration: what the rest of infermux reads.
//!
//! Every value here has been checked and every default filled in, so users of these types
//! need no `Option` juggling beyond what is really optional (a provider without a rate limit,
//! a budget store without Redis).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use infermux_core::Strategy;
use serde::Deserialize;

/// The whole configuration, as loaded by [`super::load`] or [`super::parse`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the proxy API listens (`listen`; `":8080"` means `0.0.0.0:8080`).
    pub listen: SocketAddr,
    /// Where the management API listens (`management_listen`, default `":8081"`).
    pub management_listen: SocketAddr,
    /// The bearer token the management API wants, if any (an empty value means none).
    pub management_token: Option<Secret>,
    /// The upstream providers, in declared order (at least one, names unique).
    pub providers: Vec<ProviderConfig>,
    /// The default strategy and the route groups.
    pub routing: RoutingConfig,
    /// Price overrides and additions to the built-in table.
    pub pricing: Vec<PriceConfig>,
    /// Per-caller monthly budgets and where spend is kept.
    pub budgets: BudgetsConfig,
    /// Log level and format.
    pub log: LogConfig,
    /// What to do with a request for a hosted model that has no price.
    pub unpriced: UnpricedPolicy,
    /// The largest request body accepted, in bytes (`max_request_body`, default 32 MiB).
    pub max_request_body: u64,
    /// How long a shutdown waits for in-flight requests (`drain_timeout`, default 30s).
    pub drain_timeout: Duration,
    /// The `virtual_models` section; `None` when absent (the built-in `economy`, `auto` and
    /// `smart-select` then apply).
    pub virtual_models: Option<Vec<super::virtual_models::VirtualModelConfig>>,
    /// Client API keys (`keys`).
    pub keys: super::keys::KeysConfig,
    /// The proxy port's timeouts on slow or idle clients.
    pub timeouts: super::EdgeTimeouts,
    /// Bounds on metric label sets (`metrics`).
    pub metrics: super::MetricsConfig,
    /// Trace export (`telemetry`).
    pub telemetry: super::TelemetryConfig,
    /// The request log (`request_log`).
    pub request_log: super::RequestLogConfig,
    /// Browser origins allowed to call the proxy API (`cors`).
    pub cors: super::cors::CorsConfig,
}

/// A credential from the config, such as an API key.
///
/// It has no `Display`, and its `Debug` prints `Secret(***)`, so it cannot end up in a log
/// line or an error message by accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// One upstream provider (an entry of `providers`).
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The unique name, shown in headers and reports.
    pub name: String,
    /// The API the provider speaks (YAML key `type`).
    pub kind: ProviderKind,
    /// The key sent to the provider, if any (an empty value means none).
    pub api_key: Option<Secret>,
    /// The provider's base URL, without a trailing `/`; defaults per kind.
    pub base_url: String,
    /// The models this provider serves under their own names.
    pub models: Vec<String>,
    /// Requested model -> model sent to this provider, in file order.
    pub model_aliases: Vec<(String, String)>,
    /// How long one upstream request may take (default 60s).
    pub timeout: Duration,
    /// The local rate limit, if any.
    pub rate_limit: Option<RateLimitConfig>,
    /// Active health checks: the provider's own, else the top-level default, else none.
    pub health_check: Option<HealthCheckConfig>,
    /// When the provider's circuit opens and recovers.
    pub circuit_breaker: CircuitBreakerConfig,
    /// How the built-in mock behaves (only settable for `type: mock`).
    pub mock: MockConfig,
    /// The longest a `Retry-After` or quota 429 keeps this provider out (`max_cooldown`,
    /// default 5m).
    pub max_cooldown: Duration,
}

/// The API a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum ProviderKind {
    /// OpenAI (`openai`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic's Messages API (`anthropic`).
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Ollama's native API (`ollama`).
    #[serde(rename = "ollama")]
    Ollama,
    /// Any server speaking the OpenAI API (`openai_compatible`; needs `base_url`).
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
    /// The built-in mock provider, for trying infermux without keys (`mock`).
    #[serde(rename = "mock")]
    Mock,
}

/// How the built-in mock provider answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockConfig {
    /// Delay before the reply starts (default 0).
    pub latency: Duration,
    /// Delay between streamed chunks (default 0).
    pub chunk_interval: Duration,
    /// The reply text.
    pub reply: String,
    /// Prompt tokens reported for every answer, instead of the counting rule.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens reported for every answer, instead of the reply's word count.
    pub completion_tokens: Option<u64>,
}

/// A provider's local rate limit; at least one of the two is set, and each is above 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
}

/// Active health checks of a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Time between checks (default 10s).
    pub interval: Duration,
    /// How long one check may take (default 3s).
    pub timeout: Duration,
}

/// When a provider's circuit opens, and when it is tried again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitBreakerConfig {
    /// The sliding window the rates are measured over (default 30s).
    pub window: Duration,
    /// Requests needed in the window before the circuit may open (default 10).
    pub min_requests: u32,
    /// Open when errors / requests in the window reach this; in (0, 1] (default 0.5).
    pub error_rate: f64,
    /// Open when the window's p95 latency reaches this (default 10s).
    pub p95_latency: Duration,
    /// Open -> half-open after this; then one probe request (default 30s).
    pub recovery: Duration,
    /// Each failed probe doubles the next open period, up to this (default 5m).
    pub max_recovery: Duration,
}

/// The default strategy and the route groups (`routing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingConfig {
    /// The strategy for models that no group matches (default `priority`).
    pub strategy: Strategy,
    /// The route groups, in file order; a model belongs to at most one.
    pub groups: Vec<RouteGroupConfig>,
}

/// A route group: requests for its models go to its providers with its strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteGroupConfig {
    /// The unique group name, shown in `X-Infermux-Route-Group`.
    pub name: String,
    /// The requested models this group matches.
    pub models: Vec<String>,
    /// The group's strategy; `None` means `routing.strategy`.
    pub strategy: Option<Strategy>,
    /// The providers the group may use, by name; empty means all of them.
    pub providers: Vec<String>,
}

/// A price override or addition (an entry of `pricing`), in USD per 1M tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceConfig {
    /// The provider's `name`.
    pub provider: String,
    /// The model as sent to that provider.
    pub model: String,
    /// Price of prompt tokens.
    pub input: f64,
    /// Price of completion tokens.
    pub output: f64,
    /// Price of cached prompt tokens, if the provider bills them apart.
    pub cached_input: Option<f64>,
    /// Price of writing prompt tokens to the cache, if the provider bills it.
    pub cache_write: Option<f64>,
    /// Price of writing prompt tokens to the cache for 1 hour (Anthropic).
    pub cache_write_1h: Option<f64>,
    /// Long-context tiers (`tiers`), ascending by `above`.
    pub tiers: Vec<PriceTierConfig>,
    /// Prices of `service_tier: priority` answers.
    pub priority: Option<RatesConfig>,
    /// Prices of `service_tier: flex` answers.
    pub flex: Option<RatesConfig>,
    /// What the model can do at this provider, where the entry says (model catalog
    /// overrides: `context`, `max_output`, `vision`, `tools`, `structured_output`,
    /// `reasoning`, `class`).
    pub capabilities: infermux_core::SpecOverride,
}

/// Per-token rates of a long-context tier or a service tier, USD per 1M tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatesConfig {
    /// Price of prompt tokens.
    pub input: f64,
    /// Price of completion tokens.
    pub output: f64,
    /// Price of cached prompt tokens.
    pub cached_input: Option<f64>,
    /// Price of 5-minute cache writes.
    pub cache_write: Option<f64>,
    /// Price of 1-hour cache writes.
    pub cache_write_1h: Option<f64>,
}

/// A long-context tier of a price: requests whose whole prompt is above `above` tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceTierConfig {
    /// The prompt size the tier starts above.
    pub above: u64,
    /// Its rates, for every token of such a request.
    pub rates: RatesConfig,
}

/// Budgets and where spend is kept (`budgets`).
#[derive(Clone, Debug, Default)]
pub struct BudgetsConfig {
    /// Where spend is kept (default `file`).
    pub store: BudgetStoreKind,
    /// The spend state file of the `file` store.
    pub state_file: Option<PathBuf>,
    /// The Redis URL of the `redis` store (it may hold a password).
    pub redis_url: Option<Secret>,
    /// What to do while Redis is unreachable (default `fail_closed`).
    pub redis_unavailable: RedisUnavailable,
    /// Where budget alerts are POSTed, if anywhere.
    pub alert_webhook: Option<String>,
    /// Per-caller budgets; caller names are unique.
    pub callers: Vec<CallerBudgetConfig>,
}

/// Where spend is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStoreKind {
    /// A local state file (`file`).
    #[default]
    File,
    /// A Redis shared by a fleet of replicas (`redis`).
    Redis,
}

/// What to do while the Redis budget store is unreachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisUnavailable {
    /// Refuse `hard_stop` callers with 503 (`fail_closed`).
    #[default]
    FailClosed,
    /// Serve everyone and reconcile later (`fail_open`).
    FailOpen,
}

/// One caller's monthly budget (an entry of `budgets.callers`).
#[derive(Clone, Debug, PartialEq)]
pub struct CallerBudgetConfig {
    /// The caller, as sent in `X-Infermux-Caller`.
    pub caller: String,
    /// The monthly budget in USD (>= 0).
    pub monthly_usd: f64,
    /// What happens when the budget is reached.
    pub action: BudgetAction,
    /// The model to switch to; set exactly when `action` is `model_override`.
    pub model_override: Option<String>,
    /// Fractions of the budget at which alerts fire, each in (0, 10] (default `[1.0]`).
    pub alert_at: Vec<f64>,
    /// Fraction of the budget at which the override starts, in (0, 1] (default 0.9).
    pub override_at: f64,
    /// With `action: alert`, also alert (once a month) when the month-end projection reaches
    /// the budget (default false).
    pub alert_on_forecast: bool,
}

/// What happens when a caller reaches its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetAction {
    /// Refuse requests with 429 (`hard_stop`).
    HardStop,
    /// Serve on, and alert (`alert`).
    Alert,
    /// Serve with a cheaper model (`model_override`).
    ModelOverride,
}

/// Logging (`log`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `trace`, `debug`, `info`, `warn` or `error` (default `info`).
    pub level: String,
    /// Line format (default `text`).
    pub format: LogFormat,
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (`json`).
    Json,
    /// Human-readable lines (`text`).
    #[default]
    Text,
}

/// What to do with a request for a hosted model that has no price (`unpriced`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpricedPolicy {
    /// Serve it, count it, and rank it last for `cost_weighted` (`warn`).
    #[default]
    Warn,
    /// Refuse it with 400 `unpriced_model` (`reject`).
    Reject,
}

/// The log levels `log.level` accepts.
pub(super) const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];

// === impl Config ===

impl Config {
    /// Every model name the config mentions: providers' models, alias keys and the models
    /// they are sent as, and route group models; sorted, without repeats.
    pub fn requestable_models(&self) -> Vec<String> {
        let mut models: Vec<String> = self
            .providers
            .iter()
            .flat_map(|p| {
                p.models
                    .iter()
                    .chain(p.model_aliases.iter().flat_map(|(from, to)| [from, to]))
            })
            .chain(self.routing.groups.iter().flat_map(|g| &g.models))
            .cloned()
            .collect();
        models.sort();
        models.dedup();
        models
    }
}

// === impl Secret ===

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

// === impl ProviderKind ===

impl ProviderKind {
    /// The name used in the config file and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::OpenAiCompatible => "openai_compatible",
            Self::Mock => "mock",
        }
    }

    /// The base URL used when the config gives none (`openai_compatible` has none).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::Ollama => Some("http://localhost:11434"),
            Self::OpenAiCompatible => None,
            Self::Mock => Some("mock://local"),
        }
    }
}

// === impl BudgetStoreKind, RedisUnavailable, BudgetAction, LogFormat, UnpricedPolicy ===

impl BudgetStoreKind {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Redis => "redis",
        }
    }
}

impl RedisUnavailable {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "fail_closed",
            Self::FailOpen => "fail_open",
        }
    }
}

impl BudgetAction {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HardStop => "hard_stop",
            Self::Alert => "alert",
            Self::ModelOverride => "model_override",
        }
    }
}

impl LogFormat {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
        }
    }
}

impl UnpricedPolicy {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Reject => "reject",
        }
    }
}

// === defaults ===

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            chunk_interval: Duration::ZERO,
            reply: "Hello from the infermux mock provider.".to_owned(),
            prompt_tokens: None,
            completion_tokens: None,
        }
    }
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(3),
        }
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_requests: 10,
            error_rate: 0.5,
            p95_latency: Duration::from_secs(10),
            recovery: Duration::from_secs(30),
            max_recovery: Duration::from_secs(300),
        }
    }
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Priority,
            groups: Vec::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ProviderKind, Secret};

    #[test]
    fn secret_debug_hides_the_value() {
        let secret = Secret::new("sk-live-123");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(Secret(***))");
        assert_eq!(secret.expose(), "sk-live-123");
    }

    #[test]
    fn provider_kinds_round_trip_their_names() {
        for kind in [
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Ollama,
            ProviderKind::OpenAiCompatible,
            ProviderKind::Mock,
        ] {
            let parsed: ProviderKind = serde_saphyr::from_str(kind.as_str()).expect("parses");
            assert_eq!(parsed, kind);
        }
    }
}
