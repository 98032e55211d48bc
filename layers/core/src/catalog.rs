//! Which provider can serve which model, and under which name.

use std::sync::Arc;

use crate::{Candidate, ProviderName};

/// The models one provider serves: its `models` and the keys of its `model_aliases`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderModels {
    /// The provider.
    pub provider: ProviderName,
    /// Models served under their own name.
    pub models: Vec<Arc<str>>,
    /// Requested model -> the model sent to this provider.
    pub aliases: Vec<(Arc<str>, Arc<str>)>,
}

impl ProviderModels {
    /// `provider` serving `models` under their own names, with no aliases.
    pub fn new<M: Into<Arc<str>>>(
        provider: impl Into<ProviderName>,
        models: impl IntoIterator<Item = M>,
    ) -> Self {
        Self {
            provider: provider.into(),
            models: models.into_iter().map(Into::into).collect(),
            aliases: Vec::new(),
        }
    }

    /// The model this provider is sent for `requested`, or `None` when it cannot serve it.
    /// An alias wins over a model of the same name.
    pub fn upstream_model(&self, requested: &str) -> Option<&Arc<str>> {
        self.aliases
            .iter()
            .find(|(from, _)| &**from == requested)
            .map(|(_, to)| to)
            .or_else(|| self.models.iter().find(|m| &***m == requested))
    }
}

/// Every provider's models, in declared order.
///
/// Shared, not copied, on clone: services holding it are cloned per request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelCatalog {
    providers: Arc<Vec<ProviderModels>>,
}

impl ModelCatalog {
    /// A catalog of `providers`, in declared order.
    pub fn new(providers: Vec<ProviderModels>) -> Self {
        Self {
            providers: Arc::new(providers),
        }
    }

    /// This catalog with `more` providers' models after the declared ones.
    #[must_use]
    pub fn with_providers(mut self, more: impl IntoIterator<Item = ProviderModels>) -> Self {
        Arc::make_mut(&mut self.providers).extend(more);
        self
    }

    /// Every provider that can serve `requested`, in declared order, with the model each is sent.
    pub fn candidates(&self, requested: &str) -> Vec<Candidate> {
        self.serving(requested)
            .map(|(provider, upstream)| Candidate {
                provider: provider.clone(),
                upstream_model: upstream.clone(),
            })
            .collect()
    }

    /// [`candidates`](Self::candidates), borrowed: each provider that can serve `requested`
    /// and the model it is sent, without building a list.
    pub fn serving<'a>(
        &'a self,
        requested: &'a str,
    ) -> impl Iterator<Item = (&'a ProviderName, &'a Arc<str>)> + 'a {
        self.providers
            .iter()
            .filter_map(move |p| p.upstream_model(requested).map(|up| (&p.provider, up)))
    }

    /// Every model a client may request (models and alias keys), sorted, without repeats.
    pub fn requestable_models(&self) -> Vec<Arc<str>> {
        let mut models: Vec<Arc<str>> = self
            .providers
            .iter()
            .flat_map(|p| {
                p.models
                    .iter()
                    .chain(p.aliases.iter().map(|(from, _)| from))
            })
            .cloned()
            .collect();
        models.sort();
        models.dedup();
        models
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ModelCatalog {
        ModelCatalog::new(vec![
            ProviderModels {
                provider: "openai".into(),
                models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
                aliases: vec![],
            },
            ProviderModels {
                provider: "anthropic".into(),
                models: vec![],
                aliases: vec![("gpt-4o".into(), "claude-opus-4-5".into())],
            },
        ])
    }

    #[test]
    fn candidates_follow_declared_order_and_carry_the_aliased_name() {
        let candidates = catalog().candidates("gpt-4o");
        let got: Vec<(&str, &str)> = candidates
            .iter()
            .map(|c| (c.provider.as_str(), &*c.upstream_model))
            .collect();
        assert_eq!(
            got,
            [("openai", "gpt-4o"), ("anthropic", "claude-opus-4-5")]
        );
    }

    #[test]
    fn unknown_models_have_no_candidates() {
        assert!(catalog().candidates("gpt-9").is_empty());
    }

    #[test]
    fn requestable_models_include_alias_keys_once() {
        let models = catalog().requestable_models();
        let names: Vec<&str> = models.iter().map(|m| &**m).collect();
        assert_eq!(names, ["gpt-4o", "gpt-4o-mini"]);
    }
}
