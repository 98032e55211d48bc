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
