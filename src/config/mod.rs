//! The configuration file: format, `${ENV}` expansion and validation.
//!
//! Config is data, parsed in one place. [`load`] reads a file and expands `${VAR}` from the
//! process environment; [`parse`] does the same from a string and a lookup function, so
//! tests need no process environment. Both return a fully checked [`Config`] with every
//! default filled in, or one [`ConfigError`] that names the file, the line and column, the
//! field path, what is wrong and how to fix it. The CLI prints it and exits 1.
//!
//! # The pipeline
//!
//! 1. `env.rs`: `${VAR}` references are prepared for serde-saphyr's expansion (which redacts
//!    expanded values from its diagnostics), and the variables the file uses are looked up.
//! 2. `locate.rs`: the file as written is indexed, so that positions and field paths can be
//!    turned into each other.
//! 3. serde-saphyr reads the `file.rs` structs; they refuse unknown keys. `diagnose.rs` turns
//!    its errors into messages with a field path, the nearest valid key and a fix.
//! 4. `validate.rs` checks ranges and cross-references and fills in defaults.
//!
//! # Secrets
//!
//! `api_key`, `management_token` and `budgets.redis_url` become [`Secret`]s, which print as
//! `Secret(***)`. No error message contains the value of an expanded `${VAR}`: the file as
//! written (with the reference) is quoted instead.
//!
//! # Example
//!
//! ```
//! let yaml = r#"
//! providers:
//!   - name: openai
//!     type: openai
//!     api_key: "${OPENAI_API_KEY}"
//!     models: [gpt-4o-mini]
//! "#;
//! let env = |name: &str| (name == "OPENAI_API_KEY").then(|| "sk-test".to_owned());
//! let config = infermux::config::parse(yaml, "infermux.yml", &env).expect("valid");
//! assert_eq!(config.providers[0].base_url, "https://api.openai.com/v1");
//! assert_eq!(config.providers[0].api_key.as_ref().map(|k| k.expose()), Some("sk-test"));
//!
//! let err = infermux::config::parse("providers: []\n", "infermux.yml", &env).unwrap_err();
//! assert!(err.to_string().starts_with("infermux.yml:1:12: providers: no providers"));
//! ```

mod address;
mod cors;
mod diagnose;
mod duration;
mod env;
mod error;
mod file;
mod keys;
mod locate;
mod model;
mod ops;
mod price_shapes;
mod request_log;
mod size;
mod suggest;
mod summary;
mod validate;
mod virtual_models;

use std::path::Path;

pub use self::cors::CorsConfig;
pub use self::error::ConfigError;
pub use self::keys::{KeyConfig, KeysConfig};
pub use self::model::{
    BudgetAction, BudgetStoreKind, BudgetsConfig, CallerBudgetConfig, CircuitBreakerConfig, Config,
    HealthCheckConfig, LogConfig, LogFormat, MockConfig, PriceConfig, PriceTierConfig,
    ProviderConfig, ProviderKind, RateLimitConfig, RatesConfig, RedisUnavailable, RouteGroupConfig,
    RoutingConfig, Secret, Strategy, UnpricedPolicy,
};
pub use self::ops::{DEFAULT_MAX_COOLDOWN, EdgeTimeouts, MetricsConfig, TelemetryConfig};
pub use self::request_log::{RequestLogConfig, RequestLogStore};
pub use self::virtual_models::{VirtualModelConfig, VirtualPick};

use self::error::Issue;
use self::file::FileConfig;
use self::locate::SourceIndex;

/// The embedded default config: a `mock` provider that needs no API keys.
///
/// `infermux serve` runs on it when there is no config file.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("default.yml");

/// Reads, expands (`${VAR}` from the process environment) and validates the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            &origin,
            Issue::new(
                "",
                format!("cannot read the config file: {e}"),
                "check the path given to --config",
            ),
        )
    })?;
    parse(&text, &origin, &|name| std::env::var(name).ok())
}

/// Parses and validates config `text`, expanding `${VAR}` with `env`.
///
/// `origin` names the text in error messages (usually the file path).
pub fn parse(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut prepared = env::prepare(text, env);
    let index = SourceIndex::build(text);
    let options = serde_saphyr::options! {
        property_syntax: serde_saphyr::PropertySyntax::DockerCompose,
        with_snippet: false,
    }
    .with_properties(std::mem::take(&mut prepared.properties));
    let file: FileConfig = serde_saphyr::from_str_with_options(&prepared.text, options)
        .map_err(|e| ConfigError::new(origin, diagnose::yaml_issue(&e, text, &prepared, &index)))?;
    validate::validate(file, &index).map_err(|issue| {
        let position = issue.position.or_else(|| index.position_of(&issue.path));
        ConfigError::new(origin, issue.at(position))
    })
}

/// The embedded default config, parsed, with `INFERMUX_LISTEN`, `INFERMUX_MANAGEMENT_LISTEN`,
/// `INFERMUX_LOG_LEVEL` and `INFERMUX_LOG_FORMAT` read from the environment; an error names a
/// variable holding an invalid value.
pub fn default_config() -> Result<Config, ConfigError> {
    parse(DEFAULT_CONFIG_YAML, "<default config>", &|name| {
        std::env::var(name).ok()
    })
}

#[cfg(test)]
mod tests;
