//! The routing table: requested model -> route group, candidates and strategy, decided once at
//! start-up for every requestable model so that a request costs one map lookup.

use std::sync::Arc;

use hashbrown::HashMap;
use http::HeaderValue;
use infermux_core::{Candidate, ModelCatalog, ProviderName, RouteContext, Strategy};

use crate::error::ModelNotServed;

/// A route group: requests for its models go to its providers, ordered by its strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group's name, shown in `X-Infermux-Route-Group`.
    pub name: Arc<str>,
    /// The requested models the group matches.
    pub models: Vec<Arc<str>>,
    /// The group's strategy; `None` means the table's default strategy.
    pub strategy: Option<Strategy>,
    /// The providers the group may use, in the group's order of preference; empty means every
    /// provider, in declared order.
    pub providers: Vec<ProviderName>,
}

/// Where requests for one model go, before the request's own override.
#[derive(Clone, Debug)]
struct ModelRoute {
    group: Option<(Arc<str>, HeaderValue)>,
    candidates: Vec<Candidate>,
    strategy: Strategy,
}

/// The outcome of routing one request: its [`RouteContext`] and the value of the
/// `X-Infermux-Route-Group` header, when a group matched.
#[derive(Clone, Debug)]
pub struct Routed {
    /// Group, candidates in declared order, and strategy.
    pub context: RouteContext,
    /// The header value naming the group, if one matched.
    pub group_header: Option<HeaderValue>,
}

/// Requested model -> route group -> candidate providers and strategy.
///
/// A provider can serve a model when the model is in its `models` or its `model_aliases`
/// keys ([`ModelCatalog`]). A group restricts the candidates to its providers and sets the
/// strategy; a model no group matches goes to every provider that can serve it with the
/// default strategy. A group model that none of the group's providers serves has no route,
/// so it is refused instead of leaking to providers outside the group.
#[derive(Clone, Debug)]
pub struct RouteTable {
    routes: HashMap<Arc<str>, ModelRoute>,
    requestable: Vec<Arc<str>>,
    /// Each group by name, for requests whose group an upper layer already chose.
    groups: HashMap<Arc<str>, (GroupSpec, HeaderValue, Strategy)>,
    /// Every provider that serves each model, for routing within such a group.
    all: HashMap<Arc<str>, Vec<Candidate>>,
}

impl RouteTable {
    /// The table for `catalog`, with `default` for models no group matches. `groups` are
    /// matched in order; the first group naming a model wins.
    pub fn new(catalog: &ModelCatalog, default: Strategy, groups: &[GroupSpec]) -> Self {
        let mut requestable = catalog.requestable_models();
        requestable.extend(groups.iter().flat_map(|g| g.models.iter().cloned()));
        requestable.sort();
        requestable.dedup();
        let routes = requestable
            .iter()
            .filter_map(|model| {
                let route = Self::plan(catalog, default, groups, model);
                (!route.candidates.is_empty()).then(|| (model.clone(), route))
            })
            .collect();
        let groups = groups
            .iter()
            .filter_map(|g| {
                let header = HeaderValue::from_str(&g.name).ok()?;
                Some((
                    g.name.clone(),
                    (g.clone(), header, g.strategy.unwrap_or(default)),
                ))
            })
            .collect();
        let all = catalog
            .requestable_models()
            .into_iter()
            .map(|model| {
                let candidates = catalog.candidates(&model);
                (model, candidates)
            })
            .collect();
        Self {
            routes,
            requestable,
            groups,
            all,
        }
    }

    /// Routes a request for `model` within `group` (chosen by an upper layer, such as a
    /// virtual model limited to a group): the group's providers, strategy and header, whether
    /// or not the group lists the model. Unknown groups route as [`RouteTable::route`].
    pub fn route_in_group(
        &self,
        group: &str,
        model: &str,
        override_strategy: Option<Strategy>,
    ) -> Result<Routed, ModelNotServed> {
        let Some((spec, header, strategy)) = self.groups.get(group) else {
            return self.route(model, override_strategy);
        };
        let all = self
            .all
            .get(model)
            .ok_or_else(|| ModelNotServed::new(model))?;
        let candidates: Vec<Candidate> = if spec.providers.is_empty() {
            all.clone()
        } else {
            spec.providers
                .iter()
                .filter_map(|p| all.iter().find(|c| &c.provider == p).cloned())
                .collect()
        };
        if candidates.is_empty() {
            return Err(ModelNotServed::new(model));
        }
        Ok(Routed {
            context: RouteContext {
                group: Some(spec.name.clone()),
                candidates,
                strategy: Some(override_strategy.unwrap_or(*strategy)),
            },
            group_header: Some(header.clone()),
        })
    }

    fn plan(
        catalog: &ModelCatalog,
        default: Strategy,
        groups: &[GroupSpec],
        model: &str,
    ) -> ModelRoute {
        let all = catalog.candidates(model);
        let Some(group) = groups
            .iter()
            .find(|g| g.models.iter().any(|m| &**m == model))
        else {
            return ModelRoute {
                group: None,
                candidates: all,
                strategy: default,
            };
        };
        let candidates = if group.providers.is_empty() {
            all
        } else {
            group
                .providers
                .iter()
                .filter_map(|p| all.iter().find(|c| &c.provider == p).cloned())
                .collect()
        };
        let header = HeaderValue::from_str(&group.name).ok();
        ModelRoute {
            group: header.map(|h| (group.name.clone(), h)),
            candidates,
            strategy: group.strategy.unwrap_or(default),
        }
    }

    /// Routes a request for `model`; `override_strategy` (from `X-Infermux-Strategy`)
    /// replaces the group's or default strategy.
    pub fn route(
        &self,
        model: &str,
        override_strategy: Option<Strategy>,
    ) -> Result<Routed, ModelNotServed> {
        let route = self
            .routes
            .get(model)
            .ok_or_else(|| ModelNotServed::new(model))?;
        Ok(Routed {
            context: RouteContext {
                group: route.group.as_ref().map(|(name, _)| name.clone()),
                candidates: route.candidates.clone(),
                strategy: Some(override_strategy.unwrap_or(route.strategy)),
            },
            group_header: route.group.as_ref().map(|(_, header)| header.clone()),
        })
    }

    /// Every model a client may request: the providers' models and alias keys, and the route
    /// groups' models; sorted, without repeats. `GET /v1/models` lists them.
    pub fn requestable_models(&self) -> &[Arc<str>] {
        &self.requestable
    }
}

#[cfg(test)]
mod tests {
    use infermux_core::ProviderModels;

    use super::*;

    fn names(list: &[&str]) -> Vec<Arc<str>> {
        list.iter().map(|m| Arc::from(*m)).collect()
    }

    /// The seed tutorial's providers.
    fn tutorial_catalog() -> ModelCatalog {
        let provider = |name: &str, models: &[&str], aliases: &[(&str, &str)]| ProviderModels {
            provider: name.into(),
            models: names(models),
            aliases: aliases
                .iter()
                .map(|(from, to)| (Arc::from(*from), Arc::from(*to)))
                .collect(),
        };
        ModelCatalog::new(vec![
            provider(
                "openai",
                &["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"],
                &[],
            ),
            provider(
                "anthropic",
                &[],
                &[
                    ("gpt-4o", "claude-opus-4-5"),
                    ("gpt-4o-mini", "claude-haiku-3-5"),
                ],
            ),
            provider("ollama", &["llama3.2"], &[("gpt-4o-mini", "llama3.2")]),
        ])
    }

    fn tutorial_groups() -> Vec<GroupSpec> {
        vec![
            GroupSpec {
                name: "embeddings".into(),
                models: names(&["text-embedding-3-small", "text-embedding-3-large"]),
                strategy: Some(Strategy::RoundRobin),
                providers: vec!["openai".into()],
            },
            GroupSpec {
                name: "reasoning".into(),
                models: names(&["gpt-4o", "claude-opus-4-5"]),
                strategy: Some(Strategy::Priority),
                providers: vec!["openai".into(), "anthropic".into()],
            },
        ]
    }

    fn table() -> RouteTable {
        RouteTable::new(
            &tutorial_catalog(),
            Strategy::CostWeighted,
            &tutorial_groups(),
        )
    }

    fn candidates(routed: &Routed) -> Vec<(&str, &str)> {
        routed
            .context
            .candidates
            .iter()
            .map(|c| (c.provider.as_str(), &*c.upstream_model))
            .collect()
    }

    #[test]
    fn unmatched_models_use_every_provider_and_the_default_strategy() {
        let routed = table().route("gpt-4o-mini", None).expect("routable");
        assert_eq!(routed.context.group, None);
        assert!(routed.group_header.is_none());
        assert_eq!(routed.context.strategy, Some(Strategy::CostWeighted));
        assert_eq!(
            candidates(&routed),
            [
                ("openai", "gpt-4o-mini"),
                ("anthropic", "claude-haiku-3-5"),
                ("ollama", "llama3.2")
            ]
        );
    }

    #[test]
    fn a_group_restricts_providers_and_sets_the_strategy() {
        let routed = table().route("gpt-4o", None).expect("routable");
        assert_eq!(routed.context.group.as_deref(), Some("reasoning"));
        assert_eq!(
            routed.group_header.as_ref().map(HeaderValue::as_bytes),
            Some(&b"reasoning"[..])
        );
        assert_eq!(routed.context.strategy, Some(Strategy::Priority));
        assert_eq!(
            candidates(&routed),
            [("openai", "gpt-4o"), ("anthropic", "claude-opus-4-5")]
        );
    }

    #[test]
    fn group_provider_order_is_the_failover_preference() {
        let mut groups = tutorial_groups();
        groups[1].providers = vec!["anthropic".into(), "openai".into()];
        let table = RouteTable::new(&tutorial_catalog(), Strategy::Priority, &groups);
        let routed = table.route("gpt-4o", None).expect("routable");
        assert_eq!(
            candidates(&routed),
            [("anthropic", "claude-opus-4-5"), ("openai", "gpt-4o")]
        );
    }

    #[test]
    fn the_override_replaces_the_group_strategy() {
        let routed = table()
            .route("text-embedding-3-small", Some(Strategy::LeastLatency))
            .expect("routable");
        assert_eq!(routed.context.group.as_deref(), Some("embeddings"));
        assert_eq!(routed.context.strategy, Some(Strategy::LeastLatency));
        assert_eq!(candidates(&routed), [("openai", "text-embedding-3-small")]);
    }

    #[test]
    fn a_group_model_no_group_provider_serves_has_no_route() {
        // text-embedding-3-large is in the embeddings group, but openai does not list it.
        let err = table()
            .route("text-embedding-3-large", None)
            .expect_err("no provider");
        assert_eq!(err.model(), "text-embedding-3-large");
        assert!(table().route("gpt-9", None).is_err());
    }

    #[test]
    fn a_group_with_no_providers_listed_uses_all_that_serve_the_model() {
        let groups = vec![GroupSpec {
            name: "fast".into(),
            models: names(&["gpt-4o-mini"]),
            strategy: None,
            providers: vec![],
        }];
        let table = RouteTable::new(&tutorial_catalog(), Strategy::RoundRobin, &groups);
        let routed = table.route("gpt-4o-mini", None).expect("routable");
        assert_eq!(routed.context.strategy, Some(Strategy::RoundRobin));
        assert_eq!(routed.context.candidates.len(), 3);
    }

    #[test]
    fn requestable_models_include_aliases_and_group_models_once() {
        let table = table();
        let models: Vec<&str> = table.requestable_models().iter().map(|m| &**m).collect();
        assert_eq!(
            models,
            [
                "claude-opus-4-5",
                "gpt-4o",
                "gpt-4o-mini",
                "llama3.2",
                "text-embedding-3-large",
                "text-embedding-3-small"
            ]
        );
    }
}
