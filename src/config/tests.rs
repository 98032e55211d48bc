//! Whole-file tests: the contract's example, the seed docs' configs, and one test per
//! error the brief names.

use std::net::SocketAddr;
use std::time::Duration;

use super::{
    BudgetAction, BudgetStoreKind, Config, ConfigError, DEFAULT_CONFIG_YAML, LogFormat,
    ProviderKind, RedisUnavailable, Strategy, UnpricedPolicy, default_config, parse,
};

const OPENAI_KEY: &str = "sk-proj-SECRET-openai-0123456789";
const ANTHROPIC_KEY: &str = "sk-ant-SECRET-anthropic-9876543210";

fn env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some(OPENAI_KEY.to_owned()),
        "ANTHROPIC_API_KEY" => Some(ANTHROPIC_KEY.to_owned()),
        "EMPTY" => Some(String::new()),
        // A secret that reads like a unit or a host, to catch messages that quote a piece
        // of a value (serde-saphyr only redacts whole expanded values).
        "SNEAKY" => Some("hunter2".to_owned()),
        "SNEAKY_NUMBER" => Some("20251234".to_owned()),
        _ => None,
    }
}

fn ok(yaml: &str) -> Config {
    parse(yaml, "infermux.yml", &env).unwrap_or_else(|e| panic!("{e}"))
}

fn err(yaml: &str) -> ConfigError {
    match parse(yaml, "infermux.yml", &env) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e,
    }
}

/// Asserts the error's path, line, and that its message has every one of `parts`.
fn assert_err(yaml: &str, path: &str, line: usize, parts: &[&str]) -> String {
    let e = err(yaml);
    let msg = e.to_string();
    assert_eq!(e.path(), path, "{msg}");
    assert_eq!(e.line(), Some(line), "{msg}");
    assert!(msg.starts_with(&format!("infermux.yml:{line}:")), "{msg}");
    for part in parts {
        assert!(msg.contains(part), "{part:?} not in: {msg}");
    }
    assert!(
        !msg.contains(OPENAI_KEY) && !msg.contains("SECRET"),
        "{msg}"
    );
    msg
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

const CONTRACT_EXAMPLE: &str = r#"
listen: ":8080"                 # ":PORT" means all interfaces; "127.0.0.1:8080" also accepted
management_listen: ":8081"
management_token: "${INFERMUX_ADMIN_TOKEN:-}"  # optional; when set, the management API wants
                                              # "Authorization: Bearer <token>" (not /healthz)
providers:
  - name: openai                # unique; appears in headers and reports
    type: openai                # openai | anthropic | ollama | openai_compatible | mock
    api_key: "${OPENAI_API_KEY}"
    base_url: "https://api.openai.com/v1"   # optional for openai/anthropic/ollama (each has its default)
    models: [gpt-4o, gpt-4o-mini, text-embedding-3-small]
    model_aliases: {gpt-4o: claude-opus-4-5} # requested model -> model sent to this provider
    timeout: 60s
    rate_limit: {rpm: 500, tpm: 200000}      # optional, enforced locally
    health_check: {interval: 10s, timeout: 3s}  # optional; may also be set top-level as a default
    circuit_breaker:            # optional, defaults shown
      window: 30s
      min_requests: 10
      error_rate: 0.5           # open when errors/requests in window >= this
      p95_latency: 10s          # open when p95 latency in window >= this
      recovery: 30s             # open -> half-open after this; one probe request
health_check: {interval: 10s, timeout: 3s}
routing:
  strategy: cost_weighted       # round_robin | least_latency | cost_weighted | priority
  groups:
    - name: embeddings
      models: [text-embedding-3-small, text-embedding-3-large]
      strategy: round_robin
      providers: [openai]
pricing:                        # optional overrides/additions to the built-in table, USD per 1M tokens
  - {provider: openai, model: gpt-4o-mini, input: 0.15, output: 0.60, cached_input: 0.075}
budgets:
  state_file: "/var/lib/infermux/budgets.json"
  callers:
    - {caller: free-tier, monthly_usd: 1.00, action: hard_stop}
    - {caller: pro-tier, monthly_usd: 25.00, action: alert}
    - {caller: batch-pipeline, monthly_usd: 50.00, action: model_override, model_override: gpt-4o-mini}
log: {level: info, format: json}   # format: json | text
unpriced: warn                  # warn | reject: what to do with a hosted model that has no price
"#;

/// The seed tutorial's config (000), indented, with its budgets block written the valid way.
const SEED_TUTORIAL: &str = r#"
listen: ":8080"
management_listen: ":8081"
providers:
  - name: openai
    type: openai
    api_key: "${OPENAI_API_KEY}"
    models:
      - gpt-4o
      - gpt-4o-mini
      - text-embedding-3-small
  - name: anthropic
    type: anthropic
    api_key: "${ANTHROPIC_API_KEY}"
    model_aliases:
      gpt-4o: claude-opus-4-5
      gpt-4o-mini: claude-haiku-3-5
  # Remove this block if you don't have Ollama
  - name: ollama
    type: ollama
    base_url: "http://localhost:11434"
    models: [llama3.2]
    model_aliases:
      gpt-4o-mini: llama3.2
health_check:
  interval: 10s
  timeout: 3s
routing:
  strategy: cost_weighted
  groups:
    # Embeddings only go to OpenAI (Anthropic doesn't support them)
    - name: embeddings
      models: [text-embedding-3-small, text-embedding-3-large]
      strategy: round_robin
      providers: [openai]
    # Complex reasoning: priority order, most capable models
    - name: reasoning
      models: [gpt-4o, claude-opus-4-5]
      strategy: priority
      providers: [openai, anthropic]
log:
  level: info
  format: json
budgets:
  state_file: "/tmp/infermux-budgets.json"
  callers:
    - caller: "free-tier"
      monthly_usd: 1.00
      action: hard_stop
    - caller: "pro-tier"
      monthly_usd: 25.00
      action: alert
    - caller: "batch-pipeline"
      monthly_usd: 50.00
      action: model_override
      model_override: "gpt-4o-mini"
"#;

/// The seed docs' budgets block (001) as they write it: not valid YAML.
const SEED_BUDGETS: &str = r#"providers:
  - {name: openai, type: openai}
budgets:
  state_file: "/var/lib/infermux/budgets.json"

  - caller: "free-tier-user"
    monthly_usd: 1.00
    action: hard_stop

  - caller: "batch-pipeline"
    monthly_usd: 100.00
    action: model_override
    model_override: "gpt-4o-mini"   # downgrade instead of rejecting
"#;

const MOCK: &str = "providers:\n  - {name: mock, type: mock}\n";

// --- whole files ---

#[test]
fn the_contract_example_parses() {
    let c = ok(CONTRACT_EXAMPLE);
    assert_eq!(c.listen, addr("0.0.0.0:8080"));
    assert_eq!(c.management_listen, addr("0.0.0.0:8081"));
    assert!(
        c.management_token.is_none(),
        "an unset ${{VAR:-}} means not set"
    );
    let openai = &c.providers[0];
    assert_eq!(
        (openai.name.as_str(), openai.kind),
        ("openai", ProviderKind::OpenAi)
    );
    assert_eq!(
        openai.api_key.as_ref().map(|k| k.expose()),
        Some(OPENAI_KEY)
    );
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert_eq!(
        openai.models,
        ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
    );
    assert_eq!(
        openai.model_aliases,
        [("gpt-4o".to_owned(), "claude-opus-4-5".to_owned())]
    );
    assert_eq!(openai.timeout, Duration::from_secs(60));
    let rl = openai.rate_limit.expect("rate limit");
    assert_eq!((rl.rpm, rl.tpm), (Some(500), Some(200_000)));
    let hc = openai.health_check.expect("health check");
    assert_eq!(
        (hc.interval, hc.timeout),
        (Duration::from_secs(10), Duration::from_secs(3))
    );
    assert_eq!(openai.circuit_breaker.min_requests, 10);
    assert!((openai.circuit_breaker.error_rate - 0.5).abs() < f64::EPSILON);
    assert_eq!(c.routing.strategy, Strategy::CostWeighted);
    let group = &c.routing.groups[0];
    assert_eq!(group.name, "embeddings");
    assert_eq!(group.strategy, Some(Strategy::RoundRobin));
    assert_eq!(group.providers, ["openai"]);
    assert_eq!(c.pricing[0].cached_input, Some(0.075));
    assert_eq!(c.pricing[0].cache_write, None);
    let b = &c.budgets;
    assert_eq!(b.store, BudgetStoreKind::File);
    assert_eq!(
        b.state_file.as_deref(),
        Some(std::path::Path::new("/var/lib/infermux/budgets.json"))
    );
    assert_eq!(b.callers.len(), 3);
    assert_eq!(b.callers[0].action, BudgetAction::HardStop);
    assert_eq!(b.callers[0].alert_at, [1.0]);
    assert!((b.callers[0].override_at - 0.9).abs() < f64::EPSILON);
    assert_eq!(b.callers[2].model_override.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.unpriced, UnpricedPolicy::Warn);
    assert_eq!(c.max_request_body, 32 * 1024 * 1024);
    assert_eq!(c.drain_timeout, Duration::from_secs(30));
}

#[test]
fn the_seed_tutorial_config_parses() {
    let c = ok(SEED_TUTORIAL);
    let names: Vec<&str> = c.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["openai", "anthropic", "ollama"]);
    assert_eq!(c.providers[1].base_url, "https://api.anthropic.com");
    assert_eq!(
        c.providers[1].api_key.as_ref().map(|k| k.expose()),
        Some(ANTHROPIC_KEY)
    );
    assert_eq!(c.providers[1].model_aliases[1].1, "claude-haiku-3-5");
    // The top-level health check is every provider's default.
    assert!(c.providers.iter().all(|p| p.health_check.is_some()));
    assert_eq!(c.routing.groups.len(), 2);
    assert_eq!(c.budgets.callers[2].action, BudgetAction::ModelOverride);
}

#[test]
fn the_seed_budgets_form_says_how_to_write_it() {
    let msg = assert_err(
        SEED_BUDGETS,
        "budgets",
        6,
        &[
            "\"budgets:\" mixes keys",
            "callers:",
            "- caller: free-tier",
            "state_file:",
        ],
    );
    assert!(msg.contains("bare list"), "{msg}");
}

#[test]
fn the_seed_budgets_form_without_indentation_says_where_keys_go() {
    let yaml = "providers:\n  - {name: openai, type: openai}\nbudgets:\nstate_file: \"/tmp/b.json\"\n- caller: \"free-tier\"\nmonthly_usd: 1.00\n";
    assert_err(
        yaml,
        "state_file",
        4,
        &[
            "unknown top-level key \"state_file\"",
            "belongs under \"budgets:\"",
            "callers:",
        ],
    );
}

#[test]
fn budgets_may_be_a_bare_list_of_callers() {
    let c = ok(&format!(
        "{MOCK}budgets:\n  - {{caller: a, monthly_usd: 1, action: alert, alert_at: [0.5, 1.0]}}\n"
    ));
    assert_eq!(c.budgets.callers[0].caller, "a");
    assert_eq!(c.budgets.callers[0].alert_at, [0.5, 1.0]);
    assert_eq!(c.budgets.store, BudgetStoreKind::File);
    assert!(c.budgets.state_file.is_none());
    // Errors in the bare form point into it.
    assert_err(
        &format!("{MOCK}budgets:\n  - {{caller: a, monthly_usd: -1, action: alert}}\n"),
        "budgets[0].monthly_usd",
        4,
        &["negative"],
    );
}

#[test]
fn the_fleet_budgets_keys_parse() {
    let c = ok(&format!(
        "{MOCK}budgets:\n  store: redis\n  redis_url: \"redis://:pw@127.0.0.1:6379/0\"\n  redis_unavailable: fail_open\n  alert_webhook: https://hooks.example.com/x\n  callers: []\n"
    ));
    assert_eq!(c.budgets.store, BudgetStoreKind::Redis);
    assert_eq!(c.budgets.redis_unavailable, RedisUnavailable::FailOpen);
    assert_eq!(
        c.budgets.redis_url.as_ref().map(|u| u.expose()),
        Some("redis://:pw@127.0.0.1:6379/0")
    );
    assert_eq!(format!("{:?}", c.budgets.redis_url), "Some(Secret(***))");
}

#[test]
fn the_default_config_parses() {
    let c = default_config().expect("the embedded default config is valid");
    assert_eq!(c.listen, addr("0.0.0.0:8080"));
    assert_eq!(c.management_listen, addr("127.0.0.1:8081"));
    assert_eq!(c.providers.len(), 1);
    assert_eq!(c.providers[0].kind, ProviderKind::Mock);
    assert_eq!(c.providers[0].base_url, "mock://local");
    assert_eq!(c.providers[0].models.len(), 8);
    assert!(
        c.providers[0]
            .models
            .iter()
            .any(|m| m == "claude-haiku-4-5")
    );
    assert_eq!(c.routing.strategy, Strategy::Priority);
    assert_eq!(
        (c.log.level.as_str(), c.log.format),
        ("info", LogFormat::Text)
    );
    assert!(
        DEFAULT_CONFIG_YAML.contains("# "),
        "the default config is commented"
    );
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let c = ok(
        "providers:\n  - {name: o, type: ollama}\n  - {name: a, type: anthropic}\n  - {name: c, type: openai_compatible, base_url: \"http://x:8000/v1/\"}\n",
    );
    assert_eq!(c.listen, addr("0.0.0.0:8080"));
    assert_eq!(c.management_listen, addr("0.0.0.0:8081"));
    assert_eq!(c.providers[0].base_url, "http://localhost:11434");
    assert_eq!(
        c.providers[2].base_url, "http://x:8000/v1",
        "trailing / trimmed"
    );
    assert_eq!(c.providers[0].timeout, Duration::from_secs(60));
    assert!(c.providers[0].health_check.is_none());
    assert!(c.providers[0].rate_limit.is_none());
    assert_eq!(
        c.providers[0].circuit_breaker.recovery,
        Duration::from_secs(30)
    );
    assert_eq!(
        c.providers[0].mock.reply,
        "Hello from the infermux mock provider."
    );
    assert_eq!(c.routing.strategy, Strategy::Priority);
    assert!(c.pricing.is_empty());
    assert!(c.budgets.callers.is_empty());
    assert_eq!(c.log.level, "info");
    assert_eq!(c.unpriced, UnpricedPolicy::Warn);
}

#[test]
fn a_provider_health_check_overrides_the_top_level_one() {
    let c = ok(
        "health_check: {interval: 1m}\nproviders:\n  - {name: a, type: mock, health_check: {timeout: 1s}}\n  - {name: b, type: mock}\n",
    );
    let own = c.providers[0].health_check.expect("own");
    assert_eq!(
        (own.interval, own.timeout),
        (Duration::from_secs(10), Duration::from_secs(1))
    );
    let inherited = c.providers[1].health_check.expect("inherited");
    assert_eq!(
        (inherited.interval, inherited.timeout),
        (Duration::from_secs(60), Duration::from_secs(3))
    );
}

#[test]
fn top_level_knobs_parse() {
    let c = ok(&format!(
        "{MOCK}listen: \"[::1]:9000\"\nmanagement_listen: localhost:9001\nmax_request_body: 512KiB\ndrain_timeout: 500ms\nunpriced: reject\nlog: {{level: DEBUG}}\n"
    ));
    assert_eq!(c.listen, addr("[::1]:9000"));
    assert_eq!(c.management_listen, addr("127.0.0.1:9001"));
    assert_eq!(c.max_request_body, 512 * 1024);
    assert_eq!(c.drain_timeout, Duration::from_millis(500));
    assert_eq!(c.unpriced, UnpricedPolicy::Reject);
    assert_eq!(c.log.level, "debug");
    assert_eq!(
        ok(&format!("{MOCK}max_request_body: 1MB\n")).max_request_body,
        1_000_000
    );
    assert_eq!(
        ok(&format!("{MOCK}max_request_body: 2048\n")).max_request_body,
        2048
    );
}

#[test]
fn the_mock_block_parses_on_a_mock_provider() {
    let c = ok(
        "providers:\n  - name: m\n    type: mock\n    mock: {latency: 20ms, chunk_interval: 5ms, reply: \"costs $5, pa$word\"}\n",
    );
    let mock = &c.providers[0].mock;
    assert_eq!(mock.latency, Duration::from_millis(20));
    assert_eq!(mock.chunk_interval, Duration::from_millis(5));
    assert_eq!(mock.reply, "costs $5, pa$word", "a lone $ is literal");
}

// --- ${VAR} ---

#[test]
fn env_references_expand_quoted_or_not() {
    let c = ok(
        "providers:\n  - name: ${NAME:-fallback}\n    type: openai\n    api_key: ${OPENAI_API_KEY}\n    base_url: '${BASE:-https://example.com/v1}'\n    timeout: \"${TIMEOUT:-5s}\"\n    rate_limit: {rpm: \"${RPM:-7}\"}\n",
    );
    let p = &c.providers[0];
    assert_eq!(p.name, "fallback");
    assert_eq!(p.api_key.as_ref().map(|k| k.expose()), Some(OPENAI_KEY));
    assert_eq!(p.base_url, "https://example.com/v1");
    assert_eq!(p.timeout, Duration::from_secs(5));
    assert_eq!(p.rate_limit.and_then(|r| r.rpm), Some(7));
}

#[test]
fn an_empty_value_means_not_set() {
    let c = ok(
        "management_token: \"${EMPTY}\"\nproviders:\n  - {name: a, type: openai, api_key: \"${UNSET_KEY:-}\"}\n",
    );
    assert!(c.management_token.is_none());
    assert!(c.providers[0].api_key.is_none());
}

#[test]
fn an_unset_variable_is_an_error_naming_it() {
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    api_key: \"${MY_UNSET_KEY}\"\n",
        "providers[0].api_key",
        4,
        &[
            "infermux.yml:4:14:",
            "MY_UNSET_KEY is not set",
            "${MY_UNSET_KEY:-default}",
        ],
    );
}

#[test]
fn positions_after_a_reference_are_those_of_the_file_as_written() {
    // The rewrite of `${OPENAI_API_KEY}` must not shift the reported column.
    let e = err("providers:\n  - {api_key: \"${OPENAI_API_KEY}\", name: a, type: opnai}\n");
    assert_eq!((e.line(), e.column()), (Some(2), Some(51)), "{e}");
}

#[test]
fn secrets_never_appear_in_errors() {
    let cases = [
        // a bad value next to an expanded api_key
        "providers:\n  - name: a\n    type: openai\n    api_key: ${OPENAI_API_KEY}\n    timeout: 10 parsecs\n",
        // the secret itself in a bad place
        "providers:\n  - name: a\n    type: openai\n    timeout: \"${OPENAI_API_KEY}\"\n",
        "providers:\n  - name: a\n    type: openai\n    rate_limit: {rpm: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - name: a\n    type: \"${OPENAI_API_KEY}\"\n",
        "providers:\n  - name: a\n    type: openai\n    base_url: ${OPENAI_API_KEY}\n",
        "providers:\n  - name: a\n    type: openai\n    models: ${OPENAI_API_KEY}\n",
        "listen: ${OPENAI_API_KEY}\nproviders:\n  - {name: a, type: openai}\n",
        "providers:\n  - {name: a, type: openai}\nbudgets: {store: redis, redis_url: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai}\nrouting: {groups: [{name: g, models: [m], providers: [\"${OPENAI_API_KEY}\"]}]}\n",
        "providers:\n  - {name: a, type: openai}\n  - {name: \"${OPENAI_API_KEY}\", type: openai}\n  - {name: \"${OPENAI_API_KEY}\", type: openai}\n",
        "providers:\n  - {name: a, type: openai, api_key: \"${OPENAI_API_KEY}\"}\n  - {name: a, type: openai}\n",
        "max_request_body: ${OPENAI_API_KEY}\nproviders:\n  - {name: a, type: openai}\n",
        "budgets: \"${OPENAI_API_KEY}\"\nproviders:\n  - {name: a, type: openai}\n",
        "budgets: \"x${OPENAI_API_KEY}\"\nproviders:\n  - {name: a, type: openai}\n",
        "providers:\n  - {name: a, type: openai, rate_limit: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai, model_aliases: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai}\nlog: {format: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai}\nlog: {level: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai}\nhealth_check: {interval: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai}\nbudgets:\n  - {caller: \"${OPENAI_API_KEY}\", monthly_usd: -1, action: alert}\n",
        "providers:\n  - {name: a, type: openai}\nbudgets:\n  - {caller: \"${OPENAI_API_KEY}\", monthly_usd: \"${OPENAI_API_KEY}\", action: alert}\n",
        "providers:\n  - {name: a, type: openai}\nbudgets:\n  - {caller: a, monthly_usd: 1, action: model_override, model_override: \"${OPENAI_API_KEY}\"}\n",
        "providers:\n  - {name: a, type: openai, timeout: \"10 ${SNEAKY}\"}\n",
        "providers:\n  - {name: a, type: openai, timeout: \"10${SNEAKY}\"}\n",
        "max_request_body: \"10 ${SNEAKY}\"\nproviders:\n  - {name: a, type: openai}\n",
        "listen: \"${SNEAKY}:80\"\nproviders:\n  - {name: a, type: openai}\n",
        "listen: \":${SNEAKY}\"\nproviders:\n  - {name: a, type: openai}\n",
        "providers:\n  - {name: a, type: openai, base_url: \"ftp://${SNEAKY}\"}\n",
        "providers:\n  - {name: a, type: mock, circuit_breaker: {error_rate: \"-${SNEAKY_NUMBER}\"}}\n",
        "providers:\n  - {name: a, type: mock}\nbudgets: [{caller: a, monthly_usd: \"-${SNEAKY_NUMBER}\", action: alert}]\n",
    ];
    for yaml in cases {
        let msg = err(yaml).to_string();
        let lower = msg.to_lowercase();
        for secret in [
            OPENAI_KEY,
            "secret-openai",
            "0123456789",
            "hunter2",
            "20251234",
        ] {
            assert!(
                !lower.contains(&secret.to_lowercase()),
                "secret leaked: {msg}"
            );
        }
        assert!(!msg.contains("?}"), "the rewrite shows: {msg}");
    }
}

// --- parse errors ---

#[test]
fn a_bad_duration_names_the_field_and_gives_an_example() {
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    timeout: 10 parsecs\n",
        "providers[0].timeout",
        4,
        &["invalid duration \"10 parsecs\"", "\"10s\""],
    );
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    circuit_breaker: {window: 30}\n",
        "providers[0].circuit_breaker.window",
        4,
        &["invalid duration \"30\" (no unit)", "\"500ms\""],
    );
}

#[test]
fn an_unknown_key_suggests_the_nearest_valid_one() {
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    baseurl: https://x\n",
        "providers[0].baseurl",
        4,
        &[
            "infermux.yml:4:5:",
            "unknown key \"baseurl\"",
            "did you mean \"base_url\"?",
            "api_key",
        ],
    );
    assert_err(
        &format!("{MOCK}routing:\n  stratgy: priority\n"),
        "routing.stratgy",
        4,
        &["did you mean \"strategy\"?"],
    );
    assert_err(
        &format!("{MOCK}listne: \":8080\"\n"),
        "listne",
        3,
        &["did you mean \"listen\"?", "at the top level"],
    );
}

#[test]
fn an_unknown_key_after_an_expanded_value_is_still_named() {
    // serde-saphyr hides identifiers once a value was expanded; the file as written has it.
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    api_key: ${OPENAI_API_KEY}\n    modles: [x]\n",
        "providers[0].modles",
        5,
        &["unknown key \"modles\"", "did you mean \"models\"?"],
    );
}

#[test]
fn an_unknown_value_suggests_the_nearest_valid_one() {
    assert_err(
        "providers:\n  - name: a\n    type: opnai\n",
        "providers[0].type",
        3,
        &[
            "unknown value \"opnai\"",
            "did you mean \"openai\"?",
            "openai_compatible",
        ],
    );
    assert_err(
        &format!("{MOCK}routing: {{strategy: cost_weigthed}}\n"),
        "routing.strategy",
        3,
        &["did you mean \"cost_weighted\"?"],
    );
}

#[test]
fn a_missing_required_key_is_named() {
    assert_err(
        "providers:\n  - name: a\n    models: [x]\n",
        "providers[0].type",
        2,
        &["missing required key \"type\"", "type: openai"],
    );
    assert_err(
        &format!("{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1}}\n"),
        "budgets.callers[0].action",
        5,
        &["missing required key \"action\"", "hard_stop"],
    );
}

#[test]
fn wrong_shapes_and_scalars_are_explained() {
    assert_err("providers: 5\n", "providers", 1, &["expected a list"]);
    assert_err(
        "providers:\n  - {name: a, type: openai, rate_limit: {rpm: lots}}\n",
        "providers[0].rate_limit.rpm",
        2,
        &["\"lots\" is not a whole number; write a whole number of 0 or more"],
    );
    assert_err(
        &format!("{MOCK}budgets: 5\n"),
        "budgets",
        3,
        &["a list of callers"],
    );
}

#[test]
fn duplicate_keys_and_syntax_errors_have_positions() {
    assert_err(
        "providers:\n  - name: a\n    name: b\n    type: mock\n",
        "providers[0].name",
        3,
        &["duplicate key \"name\""],
    );
    let e = err("providers: [a\n");
    assert!(e.to_string().contains("invalid YAML"), "{e}");
    assert!(e.line().is_some(), "{e}");
    // A plain ${VAR} cannot sit in a flow mapping: YAML reads its braces.
    let e = err("providers:\n  - {name: a, type: openai, api_key: ${OPENAI_API_KEY}}\n");
    assert!(
        e.to_string().contains("quote values that hold ${...}"),
        "{e}"
    );
}

#[test]
fn an_empty_file_asks_for_providers() {
    for yaml in ["", "# nothing here\n", "---\n"] {
        let e = err(yaml);
        assert_eq!(e.path(), "providers", "{e}");
        assert!(e.to_string().contains("no providers are configured"), "{e}");
    }
}

// --- validation errors ---

#[test]
fn no_providers() {
    assert_err(
        "providers: []\n",
        "providers",
        1,
        &["no providers are configured", "type: mock"],
    );
    let e = err("listen: \":8080\"\n");
    assert_eq!(e.path(), "providers", "{e}");
}

#[test]
fn duplicate_provider_name() {
    assert_err(
        "providers:\n  - {name: a, type: mock}\n  - {name: b, type: mock}\n  - {name: a, type: mock}\n",
        "providers[2].name",
        4,
        &["duplicate provider name \"a\"", "providers[0]", "unique"],
    );
}

#[test]
fn a_group_naming_an_unknown_provider() {
    assert_err(
        "providers:\n  - {name: openai, type: openai}\n  - {name: anthropic, type: anthropic}\nrouting:\n  groups:\n    - name: g\n      models: [m]\n      providers: [openai, antropic]\n",
        "routing.groups[0].providers[1]",
        8,
        &[
            "unknown provider \"antropic\"",
            "did you mean \"anthropic\"?",
            "openai, anthropic",
        ],
    );
}

#[test]
fn duplicate_group_names_are_refused_and_shared_models_are_not() {
    assert_err(
        &format!(
            "{MOCK}routing:\n  groups:\n    - {{name: g, models: [a]}}\n    - {{name: g, models: [b]}}\n"
        ),
        "routing.groups[1].name",
        6,
        &["duplicate group name \"g\""],
    );
    // A model in two groups is allowed: the first group that lists it wins.
    let config = parse(
        &format!(
            "{MOCK}routing:\n  groups:\n    - {{name: g, models: [a]}}\n    - {{name: h, models: [b, a]}}\n"
        ),
        "t.yml",
        &|_| None,
    );
    assert!(config.is_ok(), "{config:?}");
    assert_err(
        &format!("{MOCK}routing:\n  groups:\n    - {{name: g}}\n"),
        "routing.groups[0].models",
        5,
        &["no models"],
    );
}

#[test]
fn model_override_without_a_model() {
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: model_override}}\n"
        ),
        "budgets.callers[0].model_override",
        5,
        &[
            "needs the model to switch to",
            "model_override: gpt-4o-mini",
        ],
    );
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: alert, model_override: x}}\n"
        ),
        "budgets.callers[0].model_override",
        5,
        &["the action is alert"],
    );
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: model_override, model_override: gpt-4o-mni}}\n"
        ),
        "budgets.callers[0].model_override",
        5,
        &["no provider serves the model \"gpt-4o-mni\""],
    );
    let with_models = "providers:\n  - {name: m, type: mock, models: [gpt-4o-mini], model_aliases: {cheap: gpt-4o-mini}}\n";
    assert_err(
        &format!(
            "{with_models}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: model_override, model_override: gpt-4o-mni}}\n"
        ),
        "budgets.callers[0].model_override",
        5,
        &["did you mean \"gpt-4o-mini\"?"],
    );
    let c = ok(&format!(
        "{with_models}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: model_override, model_override: cheap}}\n"
    ));
    assert_eq!(
        c.budgets.callers[0].model_override.as_deref(),
        Some("cheap")
    );
}

#[test]
fn negative_budget_and_price() {
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - caller: a\n      monthly_usd: -5\n      action: hard_stop\n"
        ),
        "budgets.callers[0].monthly_usd",
        6,
        &["the budget \"-5\" is negative"],
    );
    assert_err(
        &format!("{MOCK}pricing:\n  - {{provider: mock, model: m, input: 1, output: -0.5}}\n"),
        "pricing[0].output",
        4,
        &["the price \"-0.5\" is negative", "USD per 1M tokens"],
    );
}

#[test]
fn error_rate_out_of_range() {
    for rate in ["0", "1.5"] {
        let yaml = format!(
            "providers:\n  - name: a\n    type: mock\n    circuit_breaker: {{error_rate: {rate}}}\n"
        );
        let e = err(&yaml);
        assert_eq!(e.path(), "providers[0].circuit_breaker.error_rate", "{e}");
        assert_eq!((e.line(), e.column()), (Some(4), Some(35)), "{e}");
        assert!(e.to_string().contains("at most 1"), "{e}");
    }
    let c = ok("providers:\n  - name: a\n    type: mock\n    circuit_breaker: {error_rate: 1}\n");
    assert!((c.providers[0].circuit_breaker.error_rate - 1.0).abs() < f64::EPSILON);
}

#[test]
fn openai_compatible_without_base_url() {
    assert_err(
        "providers:\n  - name: local\n    type: openai_compatible\n",
        "providers[0].base_url",
        2,
        &["needs a base_url", "http://localhost:8000/v1"],
    );
}

#[test]
fn a_base_url_must_be_http() {
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    base_url: ftp://example.com\n",
        "providers[0].base_url",
        4,
        &["\"ftp://example.com\" is not an http:// or https:// URL"],
    );
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    base_url: \"${BASE_URL:-api.example.com}\"\n",
        "providers[0].base_url",
        4,
        &["\"${BASE_URL:-api.example.com}\""],
    );
}

#[test]
fn a_mock_block_on_another_provider() {
    assert_err(
        "providers:\n  - name: a\n    type: openai\n    mock: {reply: hi}\n",
        "providers[0].mock",
        4,
        &["apply only to type: mock", "type: openai"],
    );
}

#[test]
fn a_price_for_an_unknown_provider_is_kept_with_a_warning() {
    let yaml = format!("{MOCK}pricing:\n  - {{provider: mokc, model: m, input: 1, output: 2}}\n");
    let config = crate::config::parse(&yaml, "test.yml", &|_| None).expect("valid");
    let warnings = crate::pricing::pricing_warnings(&config);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("pricing[0] (mokc m) names provider `mokc`"),
        "{warnings:?}"
    );
    assert!(warnings[0].contains("(providers: mock)"), "{warnings:?}");
    // `infermux pricing` lists it.
    let rows = crate::pricing::effective_prices(&config);
    assert!(
        rows.iter()
            .any(|r| r.provider == "mokc" && r.model == "m" && r.price.is_some())
    );
}

#[test]
fn pricing_shapes_parse_and_bad_ones_are_refused() {
    let yaml = format!(
        "{MOCK}pricing:\n  - provider: mock\n    model: m\n    input: 3\n    output: 15\n    cache_write_1h: 6\n    tiers: [{{above: 200000, input: 6, output: 22.5, cached_input: 0.6}}]\n    priority: {{input: 5, output: 25}}\n"
    );
    let config = crate::config::parse(&yaml, "test.yml", &|_| None).expect("valid");
    let price = crate::pricing::configured_price(&config.pricing[0]).expect("price");
    assert_eq!(price.cache_write_1h, infermux_core::Money::from_usd(6e-6));
    assert_eq!(price.tiers[0].map(|t| t.above), Some(200_000));
    assert!(price.priority.is_some() && price.flex.is_none());
    assert_err(
        &format!(
            "{MOCK}pricing:\n  - {{provider: mock, model: m, input: 1, output: 2, tiers: [{{input: 2, output: 4}}]}}\n"
        ),
        "pricing[0].tiers[0]",
        4,
        &["a tier without `above`"],
    );
}

#[test]
fn redis_store_without_a_url() {
    assert_err(
        &format!("{MOCK}budgets:\n  store: redis\n"),
        "budgets.redis_url",
        4,
        &[
            "\"store: redis\" needs a redis_url",
            "redis://127.0.0.1:6379/0",
        ],
    );
}

#[test]
fn empty_and_duplicate_callers() {
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: \"\", monthly_usd: 1, action: alert}}\n"
        ),
        "budgets.callers[0].caller",
        5,
        &["the caller name is empty"],
    );
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: alert}}\n    - {{caller: a, monthly_usd: 2, action: alert}}\n"
        ),
        "budgets.callers[1].caller",
        6,
        &["duplicate caller \"a\"", "budgets.callers[0]"],
    );
}

#[test]
fn other_range_checks() {
    assert_err(
        "providers:\n  - {name: a, type: mock, rate_limit: {}}\n",
        "providers[0].rate_limit",
        2,
        &["neither rpm nor tpm"],
    );
    assert_err(
        "providers:\n  - {name: a, type: mock, timeout: 0s}\n",
        "providers[0].timeout",
        2,
        &["the duration is 0"],
    );
    assert_err(
        &format!("{MOCK}listen: \"8080\"\n"),
        "listen",
        3,
        &["invalid address \"8080\"", "\":8080\""],
    );
    assert_err(
        &format!("{MOCK}log: {{level: verbose}}\n"),
        "log.level",
        3,
        &["unknown log level \"verbose\""],
    );
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: alert, alert_at: [0.5, 11]}}\n"
        ),
        "budgets.callers[0].alert_at[1]",
        5,
        &["at most 10"],
    );
    assert_err(
        &format!(
            "{MOCK}budgets:\n  callers:\n    - {{caller: a, monthly_usd: 1, action: alert, override_at: 0}}\n"
        ),
        "budgets.callers[0].override_at",
        5,
        &["at most 1"],
    );
    assert_err(
        &format!(
            "{MOCK}pricing:\n  - {{provider: mock, model: m, input: 1, output: 2}}\n  - {{provider: mock, model: m, input: 3, output: 4}}\n"
        ),
        "pricing[1]",
        5,
        &["a second price for \"m\" on \"mock\" (also pricing[0])"],
    );
    assert_err(
        &format!("{MOCK}max_request_body: 0\n"),
        "max_request_body",
        3,
        &["0 bytes"],
    );
    assert_err(
        &format!("{MOCK}max_request_body: 32 parsecs\n"),
        "max_request_body",
        3,
        &["\"32MiB\""],
    );
}

// --- summary ---

#[test]
fn the_summary_never_prints_credentials() {
    let c = ok(CONTRACT_EXAMPLE);
    let summary = c.summary();
    assert!(!summary.contains(OPENAI_KEY), "{summary}");
    for part in [
        "listen: 0.0.0.0:8080",
        "management_token: not set",
        "openai (openai) https://api.openai.com/v1, 3 models",
        "gpt-4o -> claude-opus-4-5",
        "api_key: set",
        "routing: cost_weighted, 1 group",
        "embeddings: text-embedding-3-small, text-embedding-3-large -> openai (round_robin)",
        "budgets: 3 callers, store: file /var/lib/infermux/budgets.json",
    ] {
        assert!(summary.contains(part), "{part:?} not in:\n{summary}");
    }
    let c = ok(&format!(
        "{MOCK}budgets: {{store: redis, redis_url: \"redis://:hunter2@r:6379\"}}\n"
    ));
    let summary = c.summary();
    assert!(!summary.contains("hunter2"), "{summary}");
    assert!(
        summary.contains("redis (redis_url: set, fail_closed)"),
        "{summary}"
    );
}

#[test]
fn bad_durations_and_sizes_are_explained_even_beside_interpolated_values() {
    let provider = "providers:\n  - name: openai\n    type: openai\n    api_key: \"${OPENAI_API_KEY}\"\n    models: [gpt-4o]\n";
    assert_err(
        &format!("{provider}    timeout: 10 parsecs\n"),
        "providers[0].timeout",
        6,
        &["invalid duration \"10 parsecs\"", "\"10s\""],
    );
    assert_err(
        &format!("max_request_body: \"12 bananas\"\n{provider}"),
        "max_request_body",
        1,
        &["invalid size \"12 bananas\"", "32MiB"],
    );
    // A value that is itself interpolated is never quoted.
    let msg = assert_err(
        &format!("{provider}    timeout: \"${{OPENAI_API_KEY}}\"\n"),
        "providers[0].timeout",
        6,
        &[],
    );
    assert!(!msg.contains("invalid duration \"sk-"), "{msg}");
}
