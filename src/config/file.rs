//! The file format: what serde reads, before validation.
//!
//! These structs mirror the YAML one to one. Every one refuses unknown keys
//! (`deny_unknown_fields`); almost every key is optional here, so that a missing key is
//! reported by validation with a field path and a fix, and defaults are filled in there.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::duration::Humane;
use super::model::{
    BudgetAction, BudgetStoreKind, LogFormat, ProviderKind, RedisUnavailable, Strategy,
    UnpricedPolicy,
};
use super::size::ByteSize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) listen: Option<String>,
    pub(super) management_listen: Option<String>,
    pub(super) management_token: Option<String>,
    pub(super) providers: Option<Vec<FileProvider>>,
    pub(super) health_check: Option<FileHealthCheck>,
    pub(super) routing: Option<FileRouting>,
    pub(super) pricing: Option<Vec<FilePrice>>,
    pub(super) budgets: Option<FileBudgets>,
    pub(super) log: Option<FileLog>,
    pub(super) unpriced: Option<UnpricedPolicy>,
    pub(super) max_request_body: Option<ByteSize>,
    pub(super) drain_timeout: Option<Humane>,
    pub(super) virtual_models: Option<Vec<super::virtual_models::FileVirtualModel>>,
    pub(super) keys: Option<super::keys::FileKeys>,
    pub(super) header_read_timeout: Option<Humane>,
    pub(super) body_read_timeout: Option<Humane>,
    pub(super) idle_timeout: Option<Humane>,
    pub(super) metrics: Option<super::ops::FileMetrics>,
    pub(super) telemetry: Option<super::ops::FileTelemetry>,
    pub(super) request_log: Option<super::request_log::FileRequestLog>,
    pub(super) cors: Option<super::cors::FileCors>,
}

/// An entry of `providers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileProvider {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) kind: ProviderKind,
    pub(super) api_key: Option<String>,
    pub(super) base_url: Option<String>,
    pub(super) models: Option<Vec<String>>,
    pub(super) model_aliases: Option<Aliases>,
    pub(super) timeout: Option<Humane>,
    pub(super) rate_limit: Option<FileRateLimit>,
    pub(super) health_check: Option<FileHealthCheck>,
    pub(super) circuit_breaker: Option<FileCircuitBreaker>,
    pub(super) mock: Option<FileMock>,
    pub(super) max_cooldown: Option<Humane>,
}

/// `model_aliases`: a mapping read in file order.
#[derive(Debug, Default)]
pub(super) struct Aliases(pub(super) Vec<(String, String)>);

/// `rate_limit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRateLimit {
    pub(super) rpm: Option<u32>,
    pub(super) tpm: Option<u64>,
}

/// `health_check`, top-level or per provider.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHealthCheck {
    pub(super) interval: Option<Humane>,
    pub(super) timeout: Option<Humane>,
}

/// `circuit_breaker`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCircuitBreaker {
    pub(super) window: Option<Humane>,
    pub(super) min_requests: Option<u32>,
    pub(super) error_rate: Option<f64>,
    pub(super) p95_latency: Option<Humane>,
    pub(super) recovery: Option<Humane>,
    pub(super) max_recovery: Option<Humane>,
}

/// `mock`, for `type: mock` providers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMock {
    pub(super) latency: Option<Humane>,
    pub(super) chunk_interval: Option<Humane>,
    pub(super) reply: Option<String>,
    pub(super) prompt_tokens: Option<u64>,
    pub(super) completion_tokens: Option<u64>,
}

/// `routing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRouting {
    pub(super) strategy: Option<Strategy>,
    pub(super) groups: Option<Vec<FileGroup>>,
}

/// An entry of `routing.groups`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileGroup {
    pub(super) name: String,
    pub(super) models: Option<Vec<String>>,
    pub(super) strategy: Option<Strategy>,
    pub(super) providers: Option<Vec<String>>,
}

/// An entry of `pricing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePrice {
    pub(super) provider: String,
    pub(super) model: String,
    pub(super) input: f64,
    pub(super) output: f64,
    pub(super) cached_input: Option<f64>,
    pub(super) cache_write: Option<f64>,
    pub(super) cache_write_1h: Option<f64>,
    pub(super) tiers: Option<Vec<FileRates>>,
    pub(super) priority: Option<FileRates>,
    pub(super) flex: Option<FileRates>,
    // Capabilities of the model at this provider (model catalog overrides).
    pub(super) context: Option<u64>,
    pub(super) max_output: Option<u64>,
    pub(super) vision: Option<bool>,
    pub(super) tools: Option<bool>,
    pub(super) structured_output: Option<bool>,
    pub(super) reasoning: Option<bool>,
    pub(super) class: Option<String>,
}

/// A price's long-context tier (with `above`) or service-tier rates (without).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRates {
    pub(super) above: Option<u64>,
    pub(super) input: f64,
    pub(super) output: f64,
    pub(super) cached_input: Option<f64>,
    pub(super) cache_write: Option<f64>,
    pub(super) cache_write_1h: Option<f64>,
}

/// `budgets`: a mapping, or a bare list that is read as its `callers`.
#[derive(Debug)]
pub(super) struct FileBudgets {
    pub(super) fields: FileBudgetsMap,
    /// Whether the file wrote a bare list (so callers sit at `budgets[i]`).
    pub(super) bare_list: bool,
}

/// `budgets` written as a mapping.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileBudgetsMap {
    pub(super) store: Option<BudgetStoreKind>,
    pub(super) state_file: Option<String>,
    pub(super) redis_url: Option<String>,
    pub(super) redis_unavailable: Option<RedisUnavailable>,
    pub(super) alert_webhook: Option<String>,
    pub(super) callers: Option<Vec<FileCaller>>,
}

/// An entry of `budgets.callers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCaller {
    pub(super) caller: String,
    pub(super) monthly_usd: f64,
    pub(super) action: BudgetAction,
    pub(super) model_override: Option<String>,
    pub(super) alert_at: Option<Vec<f64>>,
    pub(super) override_at: Option<f64>,
    pub(super) alert_on_forecast: Option<bool>,
}

/// `log`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLog {
    pub(super) level: Option<String>,
    pub(super) format: Option<LogFormat>,
}

// === impl Aliases ===

impl<'de> Deserialize<'de> for Aliases {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AliasesVisitor;

        impl<'de> Visitor<'de> for AliasesVisitor {
            type Value = Aliases;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a mapping of requested model to model sent, such as {gpt-4o: claude-opus-4-5}",
                )
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Aliases, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(Aliases(pairs))
            }
        }

        deserializer.deserialize_map(AliasesVisitor)
    }
}

// === impl FileBudgets ===

impl<'de> Deserialize<'de> for FileBudgets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BudgetsVisitor;

        impl<'de> Visitor<'de> for BudgetsVisitor {
            type Value = FileBudgets;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a budgets mapping (state_file, callers, ...) or a list of callers")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FileBudgets, A::Error> {
                let fields =
                    FileBudgetsMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FileBudgets {
                    fields,
                    bare_list: false,
                })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FileBudgets, A::Error> {
                let callers =
                    Vec::<FileCaller>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(FileBudgets {
                    fields: FileBudgetsMap {
                        callers: Some(callers),
                        ..FileBudgetsMap::default()
                    },
                    bare_list: true,
                })
            }
        }

        deserializer.deserialize_any(BudgetsVisitor)
    }
}
