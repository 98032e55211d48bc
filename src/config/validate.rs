//! From the file format to [`Config`]: defaults, cross-references and range checks.
//!
//! Each check reports the first problem it finds as an [`Issue`] with the field path
//! (`providers[2].name`, `routing.groups[0].providers[1]`) and the fix; [`super::parse`]
//! adds the file name and position. Values are quoted as written in the file, so an expanded
//! `${VAR}` shows as the reference, never as its value.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::address;
use super::duration::Humane;
use super::error::Issue;
use super::file::{
    FileBudgets, FileCaller, FileCircuitBreaker, FileConfig, FileGroup, FileHealthCheck, FileLog,
    FileMock, FilePrice, FileProvider, FileRateLimit, FileRouting,
};
use super::locate::{SourceIndex, index_path, key_path};
use super::model::{
    BudgetAction, BudgetStoreKind, BudgetsConfig, CallerBudgetConfig, CircuitBreakerConfig, Config,
    HealthCheckConfig, LOG_LEVELS, LogConfig, MockConfig, PriceConfig, ProviderConfig,
    ProviderKind, RateLimitConfig, RouteGroupConfig, RoutingConfig, Secret,
};
use super::suggest;

/// `max_request_body` when the file sets none: 32 MiB.
const DEFAULT_MAX_REQUEST_BODY: u64 = 32 << 20;
/// `drain_timeout` when the file sets none.
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// A provider's `timeout` when the file sets none.
const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(60);

/// Checks `file` and fills in every default.
pub(super) fn validate(file: FileConfig, index: &SourceIndex) -> Result<Config, Issue> {
    let check = Check { index };
    let listen = check.address("listen", file.listen, ":8080")?;
    let management_listen = check.address("management_listen", file.management_listen, ":8081")?;
    let default_health_check = file
        .health_check
        .map(|hc| check.health_check("health_check", hc))
        .transpose()?;
    let providers = check.providers(file.providers.unwrap_or_default(), default_health_check)?;
    let routing = check.routing(file.routing, &providers)?;
    let pricing = check.pricing(file.pricing.unwrap_or_default())?;
    let virtual_models = file
        .virtual_models
        .map(|v| super::virtual_models::validate(v, &providers, &routing, index))
        .transpose()?;
    let virtual_names = super::virtual_models::names(virtual_models.as_deref());
    let budgets = file
        .budgets
        .map(|b| check.budgets(b, &providers, &virtual_names))
        .transpose()?
        .unwrap_or_default();
    let log = check.log(file.log)?;
    let request_log = super::request_log::check(file.request_log, budgets.state_file.as_deref())?;
    let max_request_body = file
        .max_request_body
        .map_or(DEFAULT_MAX_REQUEST_BODY, |s| s.0);
    if max_request_body == 0 {
        return Err(Issue::new(
            "max_request_body",
            "the limit is 0 bytes, which refuses every request",
            "set a size such as \"32MiB\", or remove the key for the default",
        ));
    }
    Ok(Config {
        listen,
        management_listen,
        management_token: secret(file.management_token),
        providers,
        routing,
        pricing,
        budgets,
        log,
        unpriced: file.unpriced.unwrap_or_default(),
        max_request_body,
        drain_timeout: file.drain_timeout.map_or(DEFAULT_DRAIN_TIMEOUT, |d| d.0),
        virtual_models,
        keys: super::keys::validate(file.keys)?,
        timeouts: super::ops::edge_timeouts(
            file.header_read_timeout,
            file.body_read_timeout,
            file.idle_timeout,
        )?,
        metrics: super::ops::metrics(file.metrics),
        telemetry: super::ops::telemetry(file.telemetry)?,
        request_log,
        cors: super::cors::validate(file.cors)?,
    })
}

/// An empty value means "not set".
fn secret(value: Option<String>) -> Option<Secret> {
    value.filter(|v| !v.is_empty()).map(Secret::new)
}

/// `Some(text)` unless it is missing or blank.
fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Whether `name` can be sent in a response header as is.
fn header_safe(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// "did you mean "x"? " or nothing.
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    suggest::nearest(word, candidates)
        .map(|s| format!("did you mean \"{s}\"? "))
        .unwrap_or_default()
}

/// `mock` with its defaults (any duration, 0 included, is fine).
fn mock(mock: Option<FileMock>) -> MockConfig {
    let defaults = MockConfig::default();
    let Some(mock) = mock else {
        return defaults;
    };
    MockConfig {
        latency: mock.latency.map_or(defaults.latency, |d| d.0),
        chunk_interval: mock.chunk_interval.map_or(defaults.chunk_interval, |d| d.0),
        reply: mock.reply.unwrap_or(defaults.reply),
        prompt_tokens: mock.prompt_tokens,
        completion_tokens: mock.completion_tokens,
    }
}

/// The checks, with the source index for quoting values as written.
struct Check<'a> {
    index: &'a SourceIndex,
}

impl Check<'_> {
    /// `value` as written in the file at `path` (a `${VAR}` stays a reference), quoted.
    fn shown(&self, path: &str, value: &str) -> String {
        format!("\"{}\"", self.index.raw(path).unwrap_or(value))
    }

    fn address(
        &self,
        path: &str,
        value: Option<String>,
        default: &str,
    ) -> Result<SocketAddr, Issue> {
        let text = non_blank(value).unwrap_or_else(|| default.to_owned());
        address::parse(&text).map_err(|why| {
            Issue::new(
                path,
                format!("invalid address {}: {why}", self.shown(path, &text)),
                address::EXAMPLE,
            )
        })
    }

    fn positive(
        &self,
        path: &str,
        value: Option<Humane>,
        default: Duration,
    ) -> Result<Duration, Issue> {
        let duration = value.map_or(default, |d| d.0);
        if duration.is_zero() {
            return Err(Issue::new(
                path,
                "the duration is 0",
                "give a duration above 0, such as \"10s\"",
            ));
        }
        Ok(duration)
    }

    fn health_check(&self, path: &str, hc: FileHealthCheck) -> Result<HealthCheckConfig, Issue> {
        let defaults = HealthCheckConfig::default();
        Ok(HealthCheckConfig {
            interval: self.positive(&key_path(path, "interval"), hc.interval, defaults.interval)?,
            timeout: self.positive(&key_path(path, "timeout"), hc.timeout, defaults.timeout)?,
        })
    }

    // --- providers ---

    fn providers(
        &self,
        providers: Vec<FileProvider>,
        default_health_check: Option<HealthCheckConfig>,
    ) -> Result<Vec<ProviderConfig>, Issue> {
        if providers.is_empty() {
            return Err(Issue::new(
                "providers",
                "no providers are configured",
                "add at least one under \"providers:\", such as \"- {name: mock, type: mock}\"",
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::with_capacity(providers.len());
        for (i, provider) in providers.into_iter().enumerate() {
            let path = index_path("providers", i);
            let name_path = key_path(&path, "name");
            if let Some(first) = seen.get(&provider.name) {
                return Err(Issue::new(
                    name_path.as_str(),
                    format!(
                        "duplicate provider name {} (also the name of providers[{first}])",
                        self.shown(&name_path, &provider.name)
                    ),
                    "give each provider a unique name",
                ));
            }
            seen.insert(provider.name.clone(), i);
            out.push(self.provider(&path, provider, default_health_check)?);
        }
        Ok(out)
    }

    fn provider(
        &self,
        path: &str,
        p: FileProvider,
        default_health_check: Option<HealthCheckConfig>,
    ) -> Result<ProviderConfig, Issue> {
        let name_path = key_path(path, "name");
        if p.name.trim().is_empty() {
            return Err(Issue::new(
                name_path,
                "the provider name is empty",
                "give each provider a unique name, such as \"openai\"",
            ));
        }
        if !header_safe(&p.name) {
            return Err(Issue::new(
                name_path.as_str(),
                format!(
                    "the provider name {} has characters a header cannot carry",
                    self.shown(&name_path, &p.name)
                ),
                "use printable ASCII: the name is sent in the X-Infermux-Provider header",
            ));
        }
        if p.mock.is_some() && p.kind != ProviderKind::Mock {
            return Err(Issue::new(
                key_path(path, "mock"),
                format!(
                    "\"mock:\" settings apply only to type: mock, and this provider is type: {}",
                    p.kind.as_str()
                ),
                "remove the mock block, or set \"type: mock\"",
            ));
        }
        let models = self.names(
            &key_path(path, "models"),
            p.models.unwrap_or_default(),
            "model",
        )?;
        let aliases_path = key_path(path, "model_aliases");
        let model_aliases = p.model_aliases.unwrap_or_default().0;
        for (requested, sent) in &model_aliases {
            if requested.trim().is_empty() || sent.trim().is_empty() {
                return Err(Issue::new(
                    key_path(&aliases_path, requested),
                    "an alias needs a requested model and the model to send",
                    "write \"requested-model: model-sent-to-this-provider\"",
                ));
            }
        }
        let health_check = match p.health_check {
            Some(hc) => Some(self.health_check(&key_path(path, "health_check"), hc)?),
            None => default_health_check,
        };
        Ok(ProviderConfig {
            base_url: self.base_url(&key_path(path, "base_url"), p.kind, p.base_url)?,
            name: p.name,
            kind: p.kind,
            api_key: secret(p.api_key),
            models,
            model_aliases,
            timeout: self.positive(
                &key_path(path, "timeout"),
                p.timeout,
                DEFAULT_PROVIDER_TIMEOUT,
            )?,
            rate_limit: p
                .rate_limit
                .map(|rl| self.rate_limit(&key_path(path, "rate_limit"), rl))
                .transpose()?,
            health_check,
            circuit_breaker: self
                .circuit_breaker(&key_path(path, "circuit_breaker"), p.circuit_breaker)?,
            mock: mock(p.mock),
            max_cooldown: super::ops::max_cooldown(
                &key_path(path, "max_cooldown"),
                p.max_cooldown,
            )?,
        })
    }

    /// Model names: none empty.
    fn names(&self, path: &str, names: Vec<String>, what: &str) -> Result<Vec<String>, Issue> {
        if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
            return Err(Issue::new(
                index_path(path, i),
                format!("the {what} name is empty"),
                format!("remove the empty entry or write the {what}'s name"),
            ));
        }
        Ok(names)
    }

    fn base_url(
        &self,
        path: &str,
        kind: ProviderKind,
        url: Option<String>,
    ) -> Result<String, Issue> {
        let url = match (non_blank(url), kind.default_base_url()) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(default)) => return Ok(default.to_owned()),
            (None, None) => {
                return Err(Issue::new(
                    path,
                    "an openai_compatible provider needs a base_url",
                    "add the server's OpenAI API root, including /v1, such as \
                     \"base_url: http://localhost:8000/v1\"",
                ));
            }
        };
        if kind == ProviderKind::Mock {
            return Ok(url);
        }
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if host.is_none_or(str::is_empty) {
            return Err(Issue::new(
                path,
                format!(
                    "the base_url {} is not an http:// or https:// URL",
                    self.shown(path, &url)
                ),
                "write the full URL, such as \"https://api.openai.com/v1\"",
            ));
        }
        Ok(url)
    }

    fn rate_limit(&self, path: &str, rl: FileRateLimit) -> Result<RateLimitConfig, Issue> {
        if rl.rpm.is_none() && rl.tpm.is_none() {
            return Err(Issue::new(
                path,
                "the rate limit sets neither rpm nor tpm",
                "add \"rpm: 500\" (requests per minute) and/or \"tpm: 200000\" (tokens per \
                 minute), or remove rate_limit",
            ));
        }
        for (key, zero) in [("rpm", rl.rpm == Some(0)), ("tpm", rl.tpm == Some(0))] {
            if zero {
                return Err(Issue::new(
                    key_path(path, key),
                    "the limit is 0, which refuses every request",
                    format!("set {key} above 0, or remove it for no limit"),
                ));
            }
        }
        Ok(RateLimitConfig {
            rpm: rl.rpm,
            tpm: rl.tpm,
        })
    }

    fn circuit_breaker(
        &self,
        path: &str,
        cb: Option<FileCircuitBreaker>,
    ) -> Result<CircuitBreakerConfig, Issue> {
        let defaults = CircuitBreakerConfig::default();
        let Some(cb) = cb else {
            return Ok(defaults);
        };
        let error_rate = cb.error_rate.unwrap_or(defaults.error_rate);
        if !(error_rate > 0.0 && error_rate <= 1.0) {
            let rate_path = key_path(path, "error_rate");
            return Err(Issue::new(
                rate_path.as_str(),
                format!(
                    "the error rate {} is not above 0 and at most 1",
                    self.shown(&rate_path, &error_rate.to_string())
                ),
                "give a fraction of failed requests, such as 0.5",
            ));
        }
        let min_requests = cb.min_requests.unwrap_or(defaults.min_requests);
        if min_requests == 0 {
            return Err(Issue::new(
                key_path(path, "min_requests"),
                "min_requests is 0",
                "give the number of requests a window needs before the circuit may open, \
                 such as 10",
            ));
        }
        Ok(CircuitBreakerConfig {
            window: self.positive(&key_path(path, "window"), cb.window, defaults.window)?,
            min_requests,
            error_rate,
            p95_latency: self.positive(
                &key_path(path, "p95_latency"),
                cb.p95_latency,
                defaults.p95_latency,
            )?,
            recovery: self.positive(&key_path(path, "recovery"), cb.recovery, defaults.recovery)?,
            max_recovery: self.positive(
                &key_path(path, "max_recovery"),
                cb.max_recovery,
                defaults.max_recovery,
            )?,
        })
    }

    // --- routing ---

    fn routing(
        &self,
        routing: Option<FileRouting>,
        providers: &[ProviderConfig],
    ) -> Result<RoutingConfig, Issue> {
        let defaults = RoutingConfig::default();
        let Some(routing) = routing else {
            return Ok(defaults);
        };
        let mut groups = Vec::new();
        for (i, group) in routing.groups.unwrap_or_default().into_iter().enumerate() {
            let path = index_path("routing.groups", i);
            let group = self.group(&path, group, providers)?;
            if let Some(first) = groups
                .iter()
                .position(|g: &RouteGroupConfig| g.name == group.name)
            {
                let name_path = key_path(&path, "name");
                return Err(Issue::new(
                    name_path.as_str(),
                    format!(
                        "duplicate group name {} (also the name of routing.groups[{first}])",
                        self.shown(&name_path, &group.name)
                    ),
                    "give each route group a unique name",
                ));
            }
            groups.push(group);
        }
        Ok(RoutingConfig {
            strategy: routing.strategy.unwrap_or(defaults.strategy),
            groups,
        })
    }

    fn group(
        &self,
        path: &str,
        group: FileGroup,
        providers: &[ProviderConfig],
    ) -> Result<RouteGroupConfig, Issue> {
        let name_path = key_path(path, "name");
        if group.name.trim().is_empty() {
            return Err(Issue::new(
                name_path,
                "the group name is empty",
                "give each route group a unique name, such as \"embeddings\"",
            ));
        }
        if !header_safe(&group.name) {
            return Err(Issue::new(
                name_path.as_str(),
                format!(
                    "the group name {} has characters a header cannot carry",
                    self.shown(&name_path, &group.name)
                ),
                "use printable ASCII: the name is sent in the X-Infermux-Route-Group header",
            ));
        }
        let models_path = key_path(path, "models");
        let models = self.names(&models_path, group.models.unwrap_or_default(), "model")?;
        if models.is_empty() {
            return Err(Issue::new(
                models_path,
                "the group lists no models, so no request can match it",
                "add the requested models it routes, such as \"models: [text-embedding-3-small]\"",
            ));
        }
        let known: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
        let members_path = key_path(path, "providers");
        let members = group.providers.unwrap_or_default();
        for (j, member) in members.iter().enumerate() {
            let member_path = index_path(&members_path, j);
            if !known.contains(&member.as_str()) {
                return Err(Issue::new(
                    member_path.as_str(),
                    format!("unknown provider {}", self.shown(&member_path, member)),
                    format!(
                        "{}name one of the configured providers: {}",
                        did_you_mean(member, &known),
                        known.join(", ")
                    ),
                ));
            }
            if members[..j].contains(member) {
                return Err(Issue::new(
                    member_path.as_str(),
                    format!(
                        "the provider {} is listed twice",
                        self.shown(&member_path, member)
                    ),
                    "list each provider once",
                ));
            }
        }
        Ok(RouteGroupConfig {
            name: group.name,
            models,
            strategy: group.strategy,
            providers: members,
        })
    }

    // --- pricing ---

    fn pricing(&self, prices: Vec<FilePrice>) -> Result<Vec<PriceConfig>, Issue> {
        let mut out: Vec<PriceConfig> = Vec::with_capacity(prices.len());
        for (i, mut price) in prices.into_iter().enumerate() {
            let path = index_path("pricing", i);
            let provider_path = key_path(&path, "provider");
            // A price may name a provider not configured yet: `validate` and `serve` warn
            // about it (see `pricing::pricing_warnings`), and it applies once one exists.
            if price.model.trim().is_empty() {
                return Err(Issue::new(
                    key_path(&path, "model"),
                    "the model name is empty",
                    "write the model as sent to the provider, such as \"gpt-4o-mini\"",
                ));
            }
            if let Some(first) = out
                .iter()
                .position(|p| p.provider == price.provider && p.model == price.model)
            {
                return Err(Issue::new(
                    path.as_str(),
                    format!(
                        "a second price for {} on {} (also pricing[{first}])",
                        self.shown(&key_path(&path, "model"), &price.model),
                        self.shown(&provider_path, &price.provider)
                    ),
                    "keep one price per provider and model",
                ));
            }
            let amounts = [
                ("input", Some(price.input)),
                ("output", Some(price.output)),
                ("cached_input", price.cached_input),
                ("cache_write", price.cache_write),
            ];
            for (key, amount) in amounts {
                if let Some(amount) = amount
                    && !(amount.is_finite() && amount >= 0.0)
                {
                    let amount_path = key_path(&path, key);
                    return Err(Issue::new(
                        amount_path.as_str(),
                        format!(
                            "the price {} is negative or not a number",
                            self.shown(&amount_path, &amount.to_string())
                        ),
                        "prices are USD per 1M tokens, 0 or more, such as 0.15",
                    ));
                }
            }
            let capabilities = super::virtual_models::capabilities(&path, &price)?;
            let shapes = super::price_shapes::shapes(&path, &mut price)?;
            out.push(PriceConfig {
                provider: price.provider,
                model: price.model,
                input: price.input,
                output: price.output,
                cached_input: price.cached_input,
                cache_write: price.cache_write,
                cache_write_1h: shapes.cache_write_1h,
                tiers: shapes.tiers,
                priority: shapes.priority,
                flex: shapes.flex,
                capabilities,
            });
        }
        Ok(out)
    }

    // --- budgets ---

    fn budgets(
        &self,
        budgets: FileBudgets,
        providers: &[ProviderConfig],
        virtual_names: &[&str],
    ) -> Result<BudgetsConfig, Issue> {
        // Every model a client may request of some provider, and the virtual models.
        let servable: Vec<&str> = providers
            .iter()
            .flat_map(|p| {
                let aliases = p.model_aliases.iter().map(|(requested, _)| requested);
                p.models.iter().chain(aliases).map(String::as_str)
            })
            .chain(virtual_names.iter().copied())
            .collect();
        let callers_path = if budgets.bare_list {
            "budgets"
        } else {
            "budgets.callers"
        };
        let b = budgets.fields;
        let store = b.store.unwrap_or_default();
        let redis_url = secret(b.redis_url);
        if let Some(url) = &redis_url
            && !["redis://", "rediss://", "unix://"]
                .iter()
                .any(|scheme| url.expose().starts_with(scheme))
        {
            // The URL may hold a password: it is not repeated.
            return Err(Issue::new(
                "budgets.redis_url",
                "the Redis URL does not start with redis://, rediss:// or unix://",
                "write it as \"redis://host:6379/0\" (or rediss:// for TLS)",
            ));
        }
        if store == BudgetStoreKind::Redis && redis_url.is_none() {
            return Err(Issue::new(
                "budgets.redis_url",
                "\"store: redis\" needs a redis_url",
                "add \"redis_url: redis://127.0.0.1:6379/0\", or use \"store: file\"",
            ));
        }
        let alert_webhook = non_blank(b.alert_webhook);
        if let Some(url) = &alert_webhook
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Issue::new(
                "budgets.alert_webhook",
                format!(
                    "the webhook {} is not an http:// or https:// URL",
                    self.shown("budgets.alert_webhook", url)
                ),
                "write the full URL, such as \"https://hooks.example.com/infermux\"",
            ));
        }
        let mut callers: Vec<CallerBudgetConfig> = Vec::new();
        for (i, caller) in b.callers.unwrap_or_default().into_iter().enumerate() {
            let path = index_path(callers_path, i);
            let caller = self.caller(&path, caller, &servable)?;
            if let Some(first) = callers.iter().position(|c| c.caller == caller.caller) {
                let name_path = key_path(&path, "caller");
                return Err(Issue::new(
                    name_path.as_str(),
                    format!(
                        "duplicate caller {} (also {})",
                        self.shown(&name_path, &caller.caller),
                        index_path(callers_path, first)
                    ),
                    "give each caller one budget",
                ));
            }
            callers.push(caller);
        }
        Ok(BudgetsConfig {
            store,
            state_file: non_blank(b.state_file).map(PathBuf::from),
            redis_url,
            redis_unavailable: b.redis_unavailable.unwrap_or_default(),
            alert_webhook,
            callers,
        })
    }

    fn caller(
        &self,
        path: &str,
        c: FileCaller,
        servable: &[&str],
    ) -> Result<CallerBudgetConfig, Issue> {
        let name_path = key_path(path, "caller");
        if c.caller.trim().is_empty() {
            return Err(Issue::new(
                name_path,
                "the caller name is empty",
                "write the X-Infermux-Caller value this budget is for, such as \"free-tier\"",
            ));
        }
        if !header_safe(&c.caller) {
            return Err(Issue::new(
                name_path.as_str(),
                format!(
                    "the caller {} has characters a header cannot carry",
                    self.shown(&name_path, &c.caller)
                ),
                "use printable ASCII: callers are named in the X-Infermux-Caller header",
            ));
        }
        if !(c.monthly_usd.is_finite() && c.monthly_usd >= 0.0) {
            let budget_path = key_path(path, "monthly_usd");
            return Err(Issue::new(
                budget_path.as_str(),
                format!(
                    "the budget {} is negative or not a number",
                    self.shown(&budget_path, &c.monthly_usd.to_string())
                ),
                "give the monthly budget in USD, 0 or more, such as 25.00",
            ));
        }
        let model_override = non_blank(c.model_override);
        match (c.action, &model_override) {
            (BudgetAction::ModelOverride, None) => {
                return Err(Issue::new(
                    key_path(path, "model_override"),
                    "\"action: model_override\" needs the model to switch to",
                    "add \"model_override: gpt-4o-mini\" (a cheaper model) to this caller",
                ));
            }
            (BudgetAction::HardStop | BudgetAction::Alert, Some(_)) => {
                return Err(Issue::new(
                    key_path(path, "model_override"),
                    format!(
                        "model_override is set but the action is {}",
                        c.action.as_str()
                    ),
                    "set \"action: model_override\", or remove model_override",
                ));
            }
            (BudgetAction::ModelOverride, Some(model)) if !servable.contains(&model.as_str()) => {
                let model_path = key_path(path, "model_override");
                return Err(Issue::new(
                    model_path.as_str(),
                    format!(
                        "no provider serves the model {}",
                        self.shown(&model_path, model)
                    ),
                    format!(
                        "{}list it under a provider's models or model_aliases",
                        did_you_mean(model, servable)
                    ),
                ));
            }
            _ => {}
        }
        let alert_at = c.alert_at.unwrap_or_else(|| vec![1.0]);
        if let Some(j) = alert_at.iter().position(|&f| !(f > 0.0 && f <= 10.0)) {
            let fraction_path = index_path(&key_path(path, "alert_at"), j);
            return Err(Issue::new(
                fraction_path.as_str(),
                format!(
                    "the alert fraction {} is not above 0 and at most 10",
                    self.shown(&fraction_path, &alert_at[j].to_string())
                ),
                "give fractions of the budget, such as [0.5, 0.9, 1.0]",
            ));
        }
        let override_at = c.override_at.unwrap_or(0.9);
        if !(override_at > 0.0 && override_at <= 1.0) {
            let fraction_path = key_path(path, "override_at");
            return Err(Issue::new(
                fraction_path.as_str(),
                format!(
                    "the override fraction {} is not above 0 and at most 1",
                    self.shown(&fraction_path, &override_at.to_string())
                ),
                "give the fraction of the budget at which the override starts, such as 0.9",
            ));
        }
        let alert_on_forecast = c.alert_on_forecast.unwrap_or(false);
        if alert_on_forecast && c.action != BudgetAction::Alert {
            return Err(Issue::new(
                key_path(path, "alert_on_forecast"),
                format!(
                    "alert_on_forecast is set but the action is {}",
                    c.action.as_str()
                ),
                "set \"action: alert\", or remove alert_on_forecast",
            ));
        }
        Ok(CallerBudgetConfig {
            caller: c.caller,
            monthly_usd: c.monthly_usd,
            action: c.action,
            model_override,
            alert_at,
            override_at,
            alert_on_forecast,
        })
    }

    // --- log ---

    fn log(&self, log: Option<FileLog>) -> Result<LogConfig, Issue> {
        let defaults = LogConfig::default();
        let Some(log) = log else {
            return Ok(defaults);
        };
        let level = non_blank(log.level).map_or(defaults.level, |l| l.to_ascii_lowercase());
        if !LOG_LEVELS.contains(&level.as_str()) {
            return Err(Issue::new(
                "log.level",
                format!("unknown log level {}", self.shown("log.level", &level)),
                format!(
                    "{}write one of: {}",
                    did_you_mean(&level, LOG_LEVELS),
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
        Ok(LogConfig {
            level,
            format: log.format.unwrap_or(defaults.format),
        })
    }
}
