//! The virtual models of a config: the `virtual_models` section (or the built-in `economy`,
//! `auto` and `smart-select`) turned into the virtual-model layer's table.

use std::{sync::Arc, time::Duration};

use infermux_core::{
    ModelCatalog, ModelSpecs, PriceTable, ProviderBoard, ProviderModels, ProviderName,
};
use infermux_virtual_model::{GroupLimit, Pick, Scorer, TierSpec, VirtualSpec, VirtualTable};

use crate::config::{Config, VirtualPick};

/// The table and what the rest of the stack needs to know of it.
#[derive(Debug)]
pub struct Virtuals {
    /// The virtual-model layer's table.
    pub table: VirtualTable,
    specs: Vec<VirtualSpec>,
}

impl Virtuals {
    /// The virtual model names, for `GET /v1/models`.
    pub fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.specs.iter().map(|s| &s.name)
    }
}

/// The virtual models of `config`, over the providers of `catalog`, priced by `prices`,
/// judged by the capabilities in `model_specs`, skipping models whose providers are all out
/// of rotation on `board`.
pub fn table(
    config: &Config,
    catalog: &ModelCatalog,
    prices: &PriceTable,
    model_specs: &ModelSpecs,
    board: &ProviderBoard,
) -> Virtuals {
    let specs = match &config.virtual_models {
        None => VirtualSpec::defaults(catalog, model_specs),
        Some(entries) => entries
            .iter()
            .map(|v| {
                spec(
                    config,
                    &v.name,
                    v.pick,
                    &v.tiers,
                    &v.thresholds,
                    v.session_ttl,
                    v.group.as_deref(),
                )
            })
            .collect(),
    };
    let table = VirtualTable::new(
        specs.clone(),
        catalog,
        prices,
        model_specs,
        Scorer::default(),
    )
    .with_board(board.clone());
    Virtuals { table, specs }
}

fn spec(
    config: &Config,
    name: &str,
    pick: VirtualPick,
    tiers: &[Vec<String>],
    thresholds: &[f64],
    session_ttl: Duration,
    group: Option<&str>,
) -> VirtualSpec {
    let group = group.and_then(|name| {
        let g = config.routing.groups.iter().find(|g| g.name == name)?;
        Some(GroupLimit {
            name: g.name.as_str().into(),
            providers: g
                .providers
                .iter()
                .map(|p| ProviderName::new(p.as_str()))
                .collect(),
        })
    });
    VirtualSpec {
        name: name.into(),
        pick: match pick {
            VirtualPick::Cheapest => Pick::Cheapest,
            VirtualPick::Complexity => Pick::Complexity,
        },
        tiers: tiers
            .iter()
            .enumerate()
            .map(|(i, models)| TierSpec {
                label: i.to_string().into(),
                models: models.iter().map(|m| m.as_str().into()).collect(),
            })
            .collect(),
        #[allow(clippy::cast_possible_truncation)]
        thresholds: thresholds.iter().map(|t| *t as f32).collect(),
        session_ttl,
        group,
    }
}

/// `catalog` as the budget layer sees it: each virtual model is served by every (provider,
/// model sent) of its members, so that a reservation prices it at the dearest of them.
pub fn budget_catalog(catalog: &ModelCatalog, virtuals: &Virtuals) -> ModelCatalog {
    let mut extra = Vec::new();
    for spec in &virtuals.specs {
        for model in spec.tiers.iter().flat_map(|t| &t.models) {
            for candidate in catalog.candidates(model) {
                extra.push(ProviderModels {
                    provider: candidate.provider,
                    models: Vec::new(),
                    aliases: vec![(spec.name.clone(), candidate.upstream_model)],
                });
            }
        }
    }
    catalog.clone().with_providers(extra)
}
