//! The virtual models and how one request is resolved to a real model.
//!
//! Everything that does not depend on the request is decided at start-up: each virtual
//! model's tiers, each member model's providers (limited to a route group's when the virtual
//! model is), the spec and price of every (provider, model sent) pair. A request then costs
//! the scorer, one capability check and one cost estimate per pair, and a session lookup.

use std::{
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use hashbrown::HashMap;

use infermux_core::{
    InferRequest, ModelCatalog, ModelClass, ModelKind, ModelSpec, ModelSpecs, Money, Price,
    PriceTable, ProviderBoard, ProviderName, RequestBody, Strategy,
};

use crate::{
    NoCapableModel, Scorer,
    needs::{Missing, Needs},
    score::show_score,
    session::{DEFAULT_SESSION_CAPACITY, Pinned, Sessions},
};

/// How long a session keeps its tier and model when the spec sets nothing.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

/// How a virtual model picks among its models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The able model with the lowest estimated cost (`cheapest`).
    Cheapest,
    /// A tier by the complexity score, then the cheapest able model in it (`complexity`).
    Complexity,
}

impl Pick {
    /// `cheapest` or `complexity`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cheapest => "cheapest",
            Self::Complexity => "complexity",
        }
    }
}

/// One tier of a virtual model: its label and its models (requestable names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierSpec {
    /// Shown in `X-Infermux-Tier`: the index (`0`, `1`), or `light`/`strong` by default.
    pub label: Arc<str>,
    /// The models, as clients request them.
    pub models: Vec<Arc<str>>,
}

/// A route group a virtual model is limited to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupLimit {
    /// The group's name.
    pub name: Arc<str>,
    /// Its providers; empty means every provider.
    pub providers: Vec<ProviderName>,
}

/// One virtual model, as configured (or defaulted).
#[derive(Clone, Debug, PartialEq)]
pub struct VirtualSpec {
    /// The name clients request.
    pub name: Arc<str>,
    /// How it picks.
    pub pick: Pick,
    /// Its models: one tier for `cheapest`, light to strong for `complexity`.
    pub tiers: Vec<TierSpec>,
    /// Score boundaries between tiers (one fewer than the tiers, ascending); empty means
    /// evenly spaced (0.5 for two tiers).
    pub thresholds: Vec<f32>,
    /// How long a session keeps its tier and model.
    pub session_ttl: Duration,
    /// The route group it is limited to, if any.
    pub group: Option<GroupLimit>,
}

impl VirtualSpec {
    /// A `cheapest` virtual model over `models`.
    pub fn cheapest<M: Into<Arc<str>>>(
        name: impl Into<Arc<str>>,
        models: impl IntoIterator<Item = M>,
    ) -> Self {
        Self {
            name: name.into(),
            pick: Pick::Cheapest,
            tiers: vec![TierSpec {
                label: "0".into(),
                models: models.into_iter().map(Into::into).collect(),
            }],
            thresholds: Vec::new(),
            session_ttl: DEFAULT_SESSION_TTL,
            group: None,
        }
    }

    /// A `complexity` virtual model over `tiers`, light first, labelled by index.
    pub fn complexity<M: Into<Arc<str>>>(
        name: impl Into<Arc<str>>,
        tiers: impl IntoIterator<Item = Vec<M>>,
    ) -> Self {
        Self {
            name: name.into(),
            pick: Pick::Complexity,
            tiers: tiers
                .into_iter()
                .enumerate()
                .map(|(i, models)| TierSpec {
                    label: i.to_string().into(),
                    models: models.into_iter().map(Into::into).collect(),
                })
                .collect(),
            thresholds: Vec::new(),
            session_ttl: DEFAULT_SESSION_TTL,
            group: None,
        }
    }

    /// The built-in virtual models for `catalog`'s models, when the config declares none:
    /// `economy` (cheapest over every model), `auto` and `smart-select` (complexity over the
    /// chat models, in a `light` and a `strong` tier by their catalog class). Empty when no
    /// chat model is configured.
    pub fn defaults(catalog: &ModelCatalog, specs: &ModelSpecs) -> Vec<Self> {
        let models = catalog.requestable_models();
        let spec_of = |model: &str| -> ModelSpec {
            catalog.candidates(model).first().map_or_else(
                || ModelSpec::unknown(model),
                |c| specs.spec(&c.provider, &c.upstream_model),
            )
        };
        let (mut light, mut strong) = (Vec::new(), Vec::new());
        for model in &models {
            let spec = spec_of(model);
            if spec.kind != ModelKind::Chat {
                continue;
            }
            match spec.class {
                ModelClass::Light => light.push(model.clone()),
                ModelClass::Strong => strong.push(model.clone()),
            }
        }
        if light.is_empty() && strong.is_empty() {
            return Vec::new();
        }
        let tiers: Vec<TierSpec> = [(ModelClass::Light, light), (ModelClass::Strong, strong)]
            .into_iter()
            .filter(|(_, models)| !models.is_empty())
            .map(|(class, models)| TierSpec {
                label: class.as_str().into(),
                models,
            })
            .collect();
        let auto = |name: &str| Self {
            name: name.into(),
            pick: Pick::Complexity,
            tiers: tiers.clone(),
            thresholds: Vec::new(),
            session_ttl: DEFAULT_SESSION_TTL,
            group: None,
        };
        vec![
            Self::cheapest("economy", models.iter().cloned()),
            auto("auto"),
            auto("smart-select"),
        ]
    }

    /// The tier of `score`.
    fn tier_of(&self, score: f32) -> usize {
        let tiers = self.tiers.len().max(1);
        if self.thresholds.is_empty() {
            let even = (score * tiers as f32) as usize;
            return even.min(tiers - 1);
        }
        self.thresholds
            .iter()
            .filter(|t| score >= **t)
            .count()
            .min(tiers - 1)
    }
}

/// One (provider, model sent) that can serve a member model.
#[derive(Clone, Debug)]
struct Choice {
    provider: ProviderName,
    spec: ModelSpec,
    /// The output maximum when the catalog or config knows it.
    max_output: Option<u64>,
    price: Option<Price>,
    /// The built-in list price, to rank equally priced (free) choices.
    reference: Option<Price>,
}

#[derive(Clone, Debug)]
struct Member {
    model: Arc<str>,
    choices: Vec<Choice>,
}

#[derive(Clone, Debug)]
struct Tier {
    members: Vec<Member>,
}

#[derive(Clone, Debug)]
struct Virtual {
    spec: VirtualSpec,
    tiers: Vec<Tier>,
}

/// The outcome of resolving one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The real model to request.
    pub model: Arc<str>,
    /// The tier label, for `complexity` picks.
    pub tier: Option<Arc<str>>,
    /// `X-Infermux-Route-Reason`.
    pub reason: String,
    /// The output limit to lower the request's to, when it exceeds the model's maximum.
    pub clamp_output: Option<u64>,
    /// Rank providers by cost (a `cheapest` pick).
    pub by_cost: bool,
    /// The route group to route in, when the virtual model is limited to one.
    pub group: Option<Arc<str>>,
}

/// An able member, ranked.
#[derive(Clone, Copy, Debug)]
struct Able {
    member: usize,
    up: bool,
    cost: Option<Money>,
    reference: Money,
    max_output: Option<u64>,
}

impl Able {
    /// Lower is better: routable first, priced first, cheapest, then the list price.
    fn key(&self) -> (bool, bool, Money, Money, usize) {
        (
            !self.up,
            self.cost.is_none(),
            self.cost.unwrap_or_default(),
            self.reference,
            self.member,
        )
    }
}

/// Every virtual model, their sessions, and the scorer.
#[derive(Debug)]
pub struct VirtualTable {
    models: HashMap<Arc<str>, Virtual>,
    names: Vec<Arc<str>>,
    scorer: Scorer,
    sessions: Sessions,
    board: Option<ProviderBoard>,
}

impl VirtualTable {
    /// The table for `specs`, over the providers of `catalog`, priced by `prices`, with the
    /// capabilities of `model_specs`, scored by `scorer`.
    pub fn new(
        specs: Vec<VirtualSpec>,
        catalog: &ModelCatalog,
        prices: &PriceTable,
        model_specs: &ModelSpecs,
        scorer: Scorer,
    ) -> Self {
        let names = specs.iter().map(|s| s.name.clone()).collect();
        let models = specs
            .into_iter()
            .map(|spec| {
                let tiers = spec
                    .tiers
                    .iter()
                    .map(|tier| Tier {
                        members: tier
                            .models
                            .iter()
                            .map(|model| member(model, &spec, catalog, prices, model_specs))
                            .collect(),
                    })
                    .collect();
                (spec.name.clone(), Virtual { spec, tiers })
            })
            .collect();
        Self {
            models,
            names,
            scorer,
            sessions: Sessions::new(DEFAULT_SESSION_CAPACITY),
            board: None,
        }
    }

    /// Skips models whose every provider is out of rotation (open circuit, rate limited), as
    /// long as another able model is up.
    #[must_use]
    pub fn with_board(mut self, board: ProviderBoard) -> Self {
        self.board = Some(board);
        self
    }

    /// Keeps at most `capacity` sessions in memory.
    #[must_use]
    pub fn with_session_capacity(mut self, capacity: usize) -> Self {
        self.sessions = Sessions::new(capacity);
        self
    }

    /// The virtual model names, in declared order (`GET /v1/models` lists them).
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// Whether `model` is a virtual model of this table.
    pub fn is_virtual(&self, model: &str) -> bool {
        self.models.contains_key(model)
    }

    /// The scorer.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// Resolves `request`, whose model is virtual (`None` when it is not), at `now`.
    pub fn resolve(
        &self,
        request: &InferRequest,
        now: Instant,
    ) -> Option<Result<Resolution, NoCapableModel>> {
        let virt = self.models.get(request.body.model())?;
        let needs = Needs::of(request);
        let by_cost = virt.spec.pick == Pick::Cheapest
            || request.strategy_override == Some(Strategy::CostWeighted);
        let key = request
            .session
            .as_deref()
            .map(|s| self.sessions.key(&virt.spec.name, s));
        let pinned = key.and_then(|k| self.sessions.get(k, now));
        let resolved = if by_cost {
            self.cheapest(virt, &needs, pinned.as_ref())
        } else {
            self.complexity(virt, &needs, pinned.as_ref(), request)
        };
        Some(resolved.map(|(resolution, tier)| {
            if let Some(key) = key {
                let pinned = Pinned {
                    tier,
                    model: resolution.model.clone(),
                };
                self.sessions.put(key, pinned, now, virt.spec.session_ttl);
            }
            resolution
        }))
    }

    fn cheapest(
        &self,
        virt: &Virtual,
        needs: &Needs,
        pinned: Option<&Pinned>,
    ) -> Result<(Resolution, usize), NoCapableModel> {
        let members: Vec<&Member> = virt.tiers.iter().flat_map(|t| &t.members).collect();
        let (able, misses) = self.rank(&members, needs);
        let kept = pinned.and_then(|p| able.iter().find(|a| members[a.member].model == p.model));
        let Some(best) = kept.or_else(|| able.first()) else {
            return Err(no_capable(&virt.spec.name, &misses));
        };
        let mut reason = String::from("pick=cheapest");
        if virt.spec.pick == Pick::Complexity {
            reason.push_str(" (X-Infermux-Strategy: cost)");
        }
        if kept.is_some() {
            reason.push_str(" session=kept");
        }
        let model = &members[best.member].model;
        let _ = write!(
            reason,
            " model={model} est_cost={} able={}/{}",
            best.cost
                .map_or_else(|| "unpriced".to_owned(), Money::to_dollars),
            able.len(),
            members.len()
        );
        Ok((resolution(virt, model, None, reason, best, needs, true), 0))
    }

    fn complexity(
        &self,
        virt: &Virtual,
        needs: &Needs,
        pinned: Option<&Pinned>,
        request: &InferRequest,
    ) -> Result<(Resolution, usize), NoCapableModel> {
        let scored = match &request.body {
            RequestBody::Chat(chat) => Some(self.scorer.score(chat, needs.prompt_tokens)),
            RequestBody::Embeddings(_) => None,
        };
        let scored_tier = scored.map_or(0, |s| virt.spec.tier_of(s.score));
        let start = pinned.map_or(scored_tier, |p| p.tier.max(scored_tier));
        let last = virt.tiers.len().saturating_sub(1);
        let start = start.min(last);
        // Up from the start tier, then down: a light request that only a strong model can
        // serve moves up; a complex one with no able strong model is served as well as can be.
        let order = (start..=last).chain((0..start).rev());
        let mut all_misses = Vec::new();
        for tier in order {
            let members: Vec<&Member> = virt.tiers[tier].members.iter().collect();
            let (able, misses) = self.rank(&members, needs);
            all_misses.extend(misses);
            let kept = pinned
                .filter(|p| p.tier == tier)
                .and_then(|p| able.iter().find(|a| members[a.member].model == p.model));
            let Some(best) = kept.or_else(|| able.first()) else {
                continue;
            };
            let label = virt.spec.tiers[tier].label.clone();
            let model = &members[best.member].model;
            let mut reason = format!("tier={label} score=");
            match scored {
                Some(s) => show_score(s.score, &mut reason),
                None => reason.push('-'),
            }
            if let Some(s) = scored {
                let _ = write!(reason, " signals={}", s.signals);
            }
            if tier != scored_tier {
                let why = if pinned.is_some_and(|p| p.tier == tier) && tier > scored_tier {
                    "session"
                } else {
                    "no able model in the scored tier"
                };
                let _ = write!(
                    reason,
                    " scored_tier={} moved={why}",
                    virt.spec.tiers[scored_tier.min(last)].label
                );
            }
            if kept.is_some() {
                reason.push_str(" session=kept");
            }
            let _ = write!(
                reason,
                " model={model} est_cost={}",
                best.cost
                    .map_or_else(|| "unpriced".to_owned(), Money::to_dollars)
            );
            return Ok((
                resolution(virt, model, Some(label), reason, best, needs, false),
                tier,
            ));
        }
        Err(no_capable(&virt.spec.name, &all_misses))
    }

    /// The able members, best first, and what each unable one lacks.
    fn rank<'m>(
        &self,
        members: &[&'m Member],
        needs: &Needs,
    ) -> (Vec<Able>, Vec<(&'m str, Missing)>) {
        let mut able = Vec::with_capacity(members.len());
        let mut misses = Vec::new();
        for (i, member) in members.iter().enumerate() {
            match self.evaluate(i, member, needs) {
                Ok(a) => able.push(a),
                Err(missing) => misses.push((&*member.model, missing)),
            }
        }
        able.sort_by_key(Able::key);
        (able, misses)
    }

    fn evaluate(&self, index: usize, member: &Member, needs: &Needs) -> Result<Able, Missing> {
        let mut best: Option<Able> = None;
        let mut missing = Missing::Kind(needs.kind);
        for choice in &member.choices {
            let output = match needs.check(&choice.spec) {
                Ok(output) => output,
                Err(m) => {
                    missing = m;
                    continue;
                }
            };
            let estimate = |p: &Price| {
                p.input
                    .times(needs.prompt_tokens)
                    .saturating_add(p.output.times(output))
            };
            let cost = choice.price.as_ref().map(estimate);
            let able = Able {
                member: index,
                up: self
                    .board
                    .as_ref()
                    .and_then(|b| b.get(&choice.provider))
                    .is_none_or(|s| s.is_routable()),
                cost,
                reference: choice
                    .reference
                    .as_ref()
                    .map(estimate)
                    .or(cost)
                    .unwrap_or_default(),
                max_output: choice.max_output,
            };
            if best.is_none_or(|b| able.key() < b.key()) {
                best = Some(able);
            }
        }
        best.ok_or(missing)
    }
}

fn resolution(
    virt: &Virtual,
    model: &Arc<str>,
    tier: Option<Arc<str>>,
    reason: String,
    best: &Able,
    needs: &Needs,
    by_cost: bool,
) -> Resolution {
    let clamp_output = match (needs.output, best.max_output) {
        (Some(asked), Some(max)) if asked > max && max > 0 => Some(max),
        _ => None,
    };
    Resolution {
        model: model.clone(),
        tier,
        reason,
        clamp_output,
        by_cost,
        group: virt.spec.group.as_ref().map(|g| g.name.clone()),
    }
}

fn no_capable(name: &str, misses: &[(&str, Missing)]) -> NoCapableModel {
    const SHOWN: usize = 8;
    if misses.is_empty() {
        return NoCapableModel::new(name, "no configured provider serves any of its models");
    }
    let mut text = String::new();
    for (i, (model, missing)) in misses.iter().take(SHOWN).enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        let _ = write!(text, "{sep}{model} lacks {missing}");
    }
    if misses.len() > SHOWN {
        let _ = write!(text, "; and {} more", misses.len() - SHOWN);
    }
    NoCapableModel::new(name, text)
}

/// `model` of `spec`: its providers (within the group, if limited) with spec and price.
fn member(
    model: &Arc<str>,
    spec: &VirtualSpec,
    catalog: &ModelCatalog,
    prices: &PriceTable,
    model_specs: &ModelSpecs,
) -> Member {
    let choices = catalog
        .candidates(model)
        .into_iter()
        .filter(|c| {
            spec.group
                .as_ref()
                .is_none_or(|g| g.providers.is_empty() || g.providers.contains(&c.provider))
        })
        .map(|c| {
            let upstream = &c.upstream_model;
            let known = model_specs.knows(upstream);
            let spec = if known || !model_specs.knows(model) {
                model_specs.spec(&c.provider, upstream)
            } else {
                // An alias to a name the catalog does not know: the requested name's spec.
                model_specs.spec(&c.provider, model)
            };
            Choice {
                max_output: model_specs
                    .max_output(&c.provider, upstream)
                    .or_else(|| model_specs.max_output(&c.provider, model)),
                spec,
                price: prices.price(&c.provider, upstream).copied(),
                reference: prices.list_price(upstream).copied(),
                provider: c.provider,
            }
        })
        .collect();
    Member {
        model: model.clone(),
        choices,
    }
}
