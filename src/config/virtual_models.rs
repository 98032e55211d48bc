//! The `virtual_models` section, and the capability keys of `pricing` entries.
//!
//! ```yaml
//! virtual_models:
//!   - name: economy
//!     pick: cheapest
//!     models: [gpt-4o-mini, claude-haiku-4-5, llama3.2]
//!   - name: auto
//!     pick: complexity
//!     tiers: [[llama3.2, gpt-4o-mini], [gpt-4o, claude-sonnet-4-5]]
//!     thresholds: [0.5]      # optional: score boundaries between tiers
//!     session_ttl: 1h        # optional (default 1h)
//!     group: chat            # optional: only the providers of this route group
//! ```

use std::time::Duration;

use infermux_core::{ModelClass, SpecOverride};
use serde::Deserialize;

use super::duration::Humane;
use super::error::Issue;
use super::file::FilePrice;
use super::locate::{SourceIndex, index_path, key_path};
use super::model::{ProviderConfig, RoutingConfig};
use super::suggest;

/// The names of the built-in virtual models, when the config has no `virtual_models`.
pub(super) const DEFAULT_NAMES: &[&str] = &["economy", "auto", "smart-select"];
/// `session_ttl` when an entry sets none.
const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

/// How a virtual model picks (`pick`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VirtualPick {
    /// The able model with the lowest estimated cost (`cheapest`).
    Cheapest,
    /// A tier by the complexity score, then the cheapest able model in it (`complexity`).
    Complexity,
}

/// An entry of `virtual_models`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileVirtualModel {
    name: String,
    pick: VirtualPick,
    models: Option<Vec<String>>,
    tiers: Option<Vec<Vec<String>>>,
    thresholds: Option<Vec<f64>>,
    session_ttl: Option<Humane>,
    group: Option<String>,
}

/// One virtual model (an entry of `virtual_models`).
#[derive(Clone, Debug, PartialEq)]
pub struct VirtualModelConfig {
    /// The name clients request; unique, not a configured model's name.
    pub name: String,
    /// How it picks.
    pub pick: VirtualPick,
    /// Its models: one tier (`models`) for `cheapest`, light to strong (`tiers`) for
    /// `complexity`; every name is one a provider serves.
    pub tiers: Vec<Vec<String>>,
    /// Score boundaries between tiers, ascending, in (0, 1); empty means evenly spaced.
    pub thresholds: Vec<f64>,
    /// How long a session keeps its tier and model (default 1h).
    pub session_ttl: Duration,
    /// The route group whose providers it is limited to, if any.
    pub group: Option<String>,
}

/// The virtual model names clients may request: the section's, or the built-in ones.
pub(super) fn names(section: Option<&[VirtualModelConfig]>) -> Vec<&str> {
    match section {
        Some(entries) => entries.iter().map(|v| v.name.as_str()).collect(),
        None => DEFAULT_NAMES.to_vec(),
    }
}

/// Checks the `virtual_models` section.
pub(super) fn validate(
    entries: Vec<FileVirtualModel>,
    providers: &[ProviderConfig],
    routing: &RoutingConfig,
    index: &SourceIndex,
) -> Result<Vec<VirtualModelConfig>, Issue> {
    let servable: Vec<&str> = providers
        .iter()
        .flat_map(|p| {
            let aliases = p.model_aliases.iter().map(|(requested, _)| requested);
            p.models.iter().chain(aliases).map(String::as_str)
        })
        .collect();
    let shown = |path: &str, value: &str| format!("\"{}\"", index.raw(path).unwrap_or(value));
    let mut out: Vec<VirtualModelConfig> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let path = index_path("virtual_models", i);
        let name_path = key_path(&path, "name");
        let name = entry.name.trim().to_owned();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Issue::new(
                name_path,
                "the name is empty or has characters a header cannot carry",
                "name it with printable ASCII and no spaces, such as \"economy\"",
            ));
        }
        if let Some(first) = out.iter().position(|v| v.name == name) {
            return Err(Issue::new(
                name_path.as_str(),
                format!(
                    "duplicate virtual model {} (also virtual_models[{first}])",
                    shown(&name_path, &name)
                ),
                "give each virtual model a unique name",
            ));
        }
        if servable.contains(&name.as_str()) {
            return Err(Issue::new(
                name_path.as_str(),
                format!(
                    "{} is also a model that a provider serves, which the virtual model would hide",
                    shown(&name_path, &name)
                ),
                "give the virtual model a name no provider uses, such as \"auto\"",
            ));
        }
        let tiers = match entry.pick {
            VirtualPick::Cheapest => {
                if entry.tiers.is_some() || entry.thresholds.is_some() {
                    return Err(Issue::new(
                        key_path(&path, "tiers"),
                        "\"pick: cheapest\" takes a models list, not tiers or thresholds",
                        "write \"models: [gpt-4o-mini, llama3.2]\", or use \"pick: complexity\"",
                    ));
                }
                vec![entry.models.unwrap_or_default()]
            }
            VirtualPick::Complexity => {
                if entry.models.is_some() {
                    return Err(Issue::new(
                        key_path(&path, "models"),
                        "\"pick: complexity\" takes tiers, light first, not a models list",
                        "write \"tiers: [[llama3.2, gpt-4o-mini], [gpt-4o]]\"",
                    ));
                }
                entry.tiers.unwrap_or_default()
            }
        };
        let list_key = match entry.pick {
            VirtualPick::Cheapest => "models",
            VirtualPick::Complexity => "tiers",
        };
        if tiers.is_empty() || tiers.iter().any(Vec::is_empty) {
            return Err(Issue::new(
                key_path(&path, list_key),
                "no models to pick from (a list, or one of the tiers, is empty)",
                "list the models it may resolve to, as requested from the providers",
            ));
        }
        for (t, tier) in tiers.iter().enumerate() {
            for (m, model) in tier.iter().enumerate() {
                if !servable.contains(&model.as_str()) {
                    let model_path = match entry.pick {
                        VirtualPick::Cheapest => index_path(&key_path(&path, "models"), m),
                        VirtualPick::Complexity => {
                            index_path(&index_path(&key_path(&path, "tiers"), t), m)
                        }
                    };
                    let hint = suggest::nearest(model, &servable)
                        .map(|s| format!("did you mean \"{s}\"? "))
                        .unwrap_or_default();
                    return Err(Issue::new(
                        model_path.as_str(),
                        format!("no provider serves the model {}", shown(&model_path, model)),
                        format!("{hint}list it under a provider's models or model_aliases"),
                    ));
                }
            }
        }
        let thresholds = entry.thresholds.unwrap_or_default();
        if !thresholds.is_empty() {
            let ascending = thresholds.windows(2).all(|w| w[0] < w[1]);
            let in_range = thresholds.iter().all(|t| *t > 0.0 && *t < 1.0);
            if thresholds.len() + 1 != tiers.len() || !ascending || !in_range {
                return Err(Issue::new(
                    key_path(&path, "thresholds"),
                    format!(
                        "{} tiers need {} ascending thresholds between 0 and 1",
                        tiers.len(),
                        tiers.len() - 1
                    ),
                    "give one score boundary between each pair of tiers, such as [0.5], or remove the key",
                ));
            }
        }
        let group = entry.group.map(|g| g.trim().to_owned());
        if let Some(group) = &group
            && !routing.groups.iter().any(|g| &g.name == group)
        {
            let known: Vec<&str> = routing.groups.iter().map(|g| g.name.as_str()).collect();
            let group_path = key_path(&path, "group");
            return Err(Issue::new(
                group_path.as_str(),
                format!("unknown route group {}", shown(&group_path, group)),
                if known.is_empty() {
                    "declare it under routing.groups, or remove the key".to_owned()
                } else {
                    format!("name one of the route groups: {}", known.join(", "))
                },
            ));
        }
        out.push(VirtualModelConfig {
            name,
            pick: entry.pick,
            tiers,
            thresholds,
            session_ttl: entry.session_ttl.map_or(DEFAULT_SESSION_TTL, |d| d.0),
            group,
        });
    }
    Ok(out)
}

/// The capability keys of the `pricing` entry at `path`.
pub(super) fn capabilities(path: &str, price: &FilePrice) -> Result<SpecOverride, Issue> {
    let class = match price.class.as_deref() {
        None => None,
        Some(value) => Some(ModelClass::parse(value.trim()).ok_or_else(|| {
            Issue::new(
                key_path(path, "class"),
                format!("unknown class \"{value}\""),
                "write \"light\" or \"strong\"",
            )
        })?),
    };
    for (key, value) in [("context", price.context), ("max_output", price.max_output)] {
        if value == Some(0) {
            return Err(Issue::new(
                key_path(path, key),
                "0 tokens leaves no room for any request",
                "give the model's limit in tokens, such as 128000",
            ));
        }
    }
    Ok(SpecOverride {
        context: price.context,
        max_output: price.max_output,
        vision: price.vision,
        tools: price.tools,
        structured_output: price.structured_output,
        reasoning: price.reasoning,
        class,
    })
}

#[cfg(test)]
mod tests {
    use infermux_core::ModelClass;

    use super::VirtualPick;
    use crate::config::{Config, parse};

    const PROVIDERS: &str = r#"
providers:
  - {name: openai, type: openai, api_key: sk, models: [gpt-4o, gpt-4o-mini]}
  - {name: local, type: ollama, models: [llama3.2]}
routing:
  groups:
    - {name: in-house, models: [llama3.2], providers: [local]}
"#;

    fn parsed(section: &str) -> Result<Config, String> {
        parse(&format!("{PROVIDERS}{section}"), "t.yml", &|_| None).map_err(|e| e.to_string())
    }

    #[test]
    fn a_section_replaces_the_built_in_virtual_models() {
        let config = parsed(
            "virtual_models:\n  - {name: cheap, pick: cheapest, models: [gpt-4o-mini, llama3.2], group: in-house}\n  - {name: auto, pick: complexity, tiers: [[llama3.2], [gpt-4o]], thresholds: [0.7], session_ttl: 10m}\n",
        )
        .expect("valid");
        let list = config.virtual_models.expect("section");
        assert_eq!(list[0].pick, VirtualPick::Cheapest);
        assert_eq!(list[0].tiers, [vec!["gpt-4o-mini", "llama3.2"]]);
        assert_eq!(list[0].group.as_deref(), Some("in-house"));
        assert_eq!(list[1].thresholds, [0.7]);
        assert_eq!(list[1].session_ttl.as_secs(), 600);
        assert!(parsed("").expect("valid").virtual_models.is_none());
    }

    #[test]
    fn mistakes_name_the_field_and_the_fix() {
        for (section, expected) in [
            (
                "virtual_models:\n  - {name: economy, pick: cheapest, models: [gpt-4o-mimi]}\n",
                "virtual_models[0].models[0]: no provider serves the model \"gpt-4o-mimi\"; did you mean \"gpt-4o-mini\"?",
            ),
            (
                "virtual_models:\n  - {name: gpt-4o, pick: cheapest, models: [gpt-4o-mini]}\n",
                "is also a model that a provider serves",
            ),
            (
                "virtual_models:\n  - {name: a, pick: cheapest, models: [gpt-4o]}\n  - {name: a, pick: cheapest, models: [gpt-4o]}\n",
                "duplicate virtual model",
            ),
            (
                "virtual_models:\n  - {name: auto, pick: complexity, models: [gpt-4o]}\n",
                "takes tiers, light first",
            ),
            (
                "virtual_models:\n  - {name: auto, pick: complexity, tiers: [[llama3.2], [gpt-4o]], thresholds: [0.5, 0.7]}\n",
                "2 tiers need 1 ascending thresholds",
            ),
            (
                "virtual_models:\n  - {name: auto, pick: cheapest, models: [gpt-4o], group: nope}\n",
                "unknown route group \"nope\"",
            ),
            (
                "pricing:\n  - {provider: local, model: llama3.2, input: 0, output: 0, class: huge}\n",
                "pricing[0].class: unknown class \"huge\"",
            ),
        ] {
            let error = parsed(section).expect_err(section);
            assert!(error.contains(expected), "{error}\nwanted: {expected}");
        }
    }

    #[test]
    fn budgets_may_override_to_a_virtual_model_and_pricing_sets_capabilities() {
        let config = parsed(
            "budgets:\n  callers:\n    - {caller: b, monthly_usd: 1, action: model_override, model_override: economy}\npricing:\n  - {provider: local, model: llama3.2, input: 0, output: 0, context: 4096, vision: true, class: strong}\n",
        )
        .expect("valid");
        let caps = config.pricing[0].capabilities;
        assert_eq!(caps.context, Some(4096));
        assert_eq!(caps.vision, Some(true));
        assert_eq!(caps.class, Some(ModelClass::Strong));
        let specs = crate::pricing::model_specs(&config);
        let spec = specs.spec(&"local".into(), "llama3.2");
        assert_eq!((spec.context, spec.vision, spec.tools), (4096, true, true));
        assert!(parsed(
            "virtual_models: []\nbudgets:\n  callers:\n    - {caller: b, monthly_usd: 1, action: model_override, model_override: economy}\n"
        )
        .is_err());
    }
}
