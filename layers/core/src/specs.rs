//! What a model can do: context window, output maximum, modalities, class.
//!
//! [`ModelSpecs`] answers "can this model serve this request?" for the virtual models and
//! "what is this model's output maximum?" for translations that must send one. It holds the
//! built-in catalog (filled by the binary, beside the built-in prices) and per-provider
//! overrides from the config's `pricing` entries. It is not [`ModelCatalog`](crate::ModelCatalog),
//! which says which provider serves which model name.

use std::sync::Arc;

use hashbrown::HashMap;

use crate::ProviderName;

/// Whether a model answers chat requests or embeds text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// Chat completions (and the other text-generation protocols).
    Chat,
    /// Embeddings only.
    Embeddings,
}

/// A chat model's class: which default tier of `auto` it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelClass {
    /// Small, fast and cheap: classification, extraction, short answers.
    Light,
    /// Large or reasoning models: code, maths, analysis, long multi-step work.
    Strong,
}

impl ModelClass {
    /// `light` or `strong`, as the config and headers write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Strong => "strong",
        }
    }

    /// Parses `light` or `strong`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "light" => Some(Self::Light),
            "strong" => Some(Self::Strong),
            _ => None,
        }
    }
}

/// What one model can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// Chat or embeddings.
    pub kind: ModelKind,
    /// The context window in tokens: prompt and output together.
    pub context: u64,
    /// The most output tokens one answer may have.
    pub max_output: u64,
    /// The output of a typical answer when the client sets no limit, for cost estimates.
    pub typical_output: u64,
    /// Takes images.
    pub vision: bool,
    /// Calls tools.
    pub tools: bool,
    /// Follows a JSON schema (`response_format`), natively or by a forced tool.
    pub structured_output: bool,
    /// Reasons before answering (reasoning effort, thinking).
    pub reasoning: bool,
    /// Light or strong.
    pub class: ModelClass,
}

impl ModelSpec {
    /// A chat model: `context` and `max_output` tokens, light, text only, no tools; set the
    /// rest with the builder methods.
    pub const fn chat(context: u64, max_output: u64) -> Self {
        Self {
            kind: ModelKind::Chat,
            context,
            max_output,
            typical_output: 512,
            vision: false,
            tools: false,
            structured_output: false,
            reasoning: false,
            class: ModelClass::Light,
        }
    }

    /// An embeddings model taking `context` tokens per input.
    pub const fn embeddings(context: u64) -> Self {
        Self {
            kind: ModelKind::Embeddings,
            context,
            max_output: 0,
            typical_output: 0,
            vision: false,
            tools: false,
            structured_output: false,
            reasoning: false,
            class: ModelClass::Light,
        }
    }

    /// What is assumed of a model the catalog does not know: a light chat model (an
    /// embeddings model when its name says `embed`) with a 32k context, a 4k output maximum,
    /// and no tools, images or structured output until a `pricing` entry says otherwise.
    pub fn unknown(model: &str) -> Self {
        if model.contains("embed") {
            Self::embeddings(8_192)
        } else {
            Self::chat(32_768, 4_096)
        }
    }

    /// Takes images, calls tools and follows schemas: what current hosted models do.
    #[must_use]
    pub const fn multimodal(mut self) -> Self {
        self.vision = true;
        self.tools = true;
        self.structured_output = true;
        self
    }

    /// Calls tools and follows schemas, text only.
    #[must_use]
    pub const fn with_tools(mut self) -> Self {
        self.tools = true;
        self.structured_output = true;
        self
    }

    /// Takes images.
    #[must_use]
    pub const fn with_vision(mut self) -> Self {
        self.vision = true;
        self
    }

    /// A reasoning model: answers are longer (reasoning tokens are output).
    #[must_use]
    pub const fn reasoning(mut self) -> Self {
        self.reasoning = true;
        self.typical_output = 2_048;
        self
    }

    /// In the strong class.
    #[must_use]
    pub const fn strong(mut self) -> Self {
        self.class = ModelClass::Strong;
        self
    }

    /// This spec with `change` applied.
    #[must_use]
    pub fn with(mut self, change: &SpecOverride) -> Self {
        if let Some(v) = change.context {
            self.context = v;
        }
        if let Some(v) = change.max_output {
            self.max_output = v;
        }
        if let Some(v) = change.vision {
            self.vision = v;
        }
        if let Some(v) = change.tools {
            self.tools = v;
        }
        if let Some(v) = change.structured_output {
            self.structured_output = v;
        }
        if let Some(v) = change.reasoning {
            self.reasoning = v;
        }
        if let Some(v) = change.class {
            self.class = v;
        }
        self
    }
}

/// Capabilities set by a `pricing` entry for one provider's model; `None` keeps the catalog's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecOverride {
    /// `context`.
    pub context: Option<u64>,
    /// `max_output`.
    pub max_output: Option<u64>,
    /// `vision`.
    pub vision: Option<bool>,
    /// `tools`.
    pub tools: Option<bool>,
    /// `structured_output`.
    pub structured_output: Option<bool>,
    /// `reasoning`.
    pub reasoning: Option<bool>,
    /// `class`.
    pub class: Option<ModelClass>,
}

impl SpecOverride {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The model catalog: built-in specs by model name, and per-provider overrides.
///
/// Shared, not copied, on clone: services holding it are cloned per request.
#[derive(Clone, Debug, Default)]
pub struct ModelSpecs {
    builtin: Arc<HashMap<Arc<str>, ModelSpec>>,
    overrides: Arc<HashMap<ProviderName, HashMap<Arc<str>, SpecOverride>>>,
}

impl ModelSpecs {
    /// A catalog of `builtin` specs by model name.
    pub fn new(builtin: impl IntoIterator<Item = (Arc<str>, ModelSpec)>) -> Self {
        Self {
            builtin: Arc::new(builtin.into_iter().collect()),
            overrides: Arc::default(),
        }
    }

    /// Overrides what the catalog says of `model` at `provider`.
    #[must_use]
    pub fn with_override(
        mut self,
        provider: ProviderName,
        model: &str,
        change: SpecOverride,
    ) -> Self {
        Arc::make_mut(&mut self.overrides)
            .entry(provider)
            .or_default()
            .insert(model.into(), change);
        self
    }

    /// The built-in spec of `model`, also for its dated snapshots (`gpt-4o-2024-08-06`),
    /// `-latest` names, Ollama tags (`llama3.1:70b`; a tag of 30B parameters or more makes
    /// the model strong) and vendor-prefixed names (`openai/gpt-4o`).
    pub fn builtin(&self, model: &str) -> Option<ModelSpec> {
        if let Some(spec) = self.builtin.get(model) {
            return Some(*spec);
        }
        if let Some((base, tag)) = model.split_once(':') {
            let spec = self.builtin(base)?;
            return Some(if tag_is_large(tag) {
                spec.strong()
            } else {
                spec
            });
        }
        if let Some(base) = crate::pricing::strip_snapshot_suffix(model)
            && let Some(spec) = self.builtin.get(base)
        {
            return Some(*spec);
        }
        let (_, bare) = model.split_once('/')?;
        self.builtin(bare)
    }

    /// What `model` can do when sent to `provider`: the built-in spec (or
    /// [`ModelSpec::unknown`]) with the provider's `pricing` overrides applied.
    pub fn spec(&self, provider: &ProviderName, model: &str) -> ModelSpec {
        let base = self
            .builtin(model)
            .unwrap_or_else(|| ModelSpec::unknown(model));
        match self.overrides.get(provider).and_then(|m| m.get(model)) {
            Some(change) => base.with(change),
            None => base,
        }
    }

    /// Whether the catalog knows `model`, built in or by an override at any provider.
    pub fn knows(&self, model: &str) -> bool {
        self.builtin(model).is_some() || self.overrides.values().any(|m| m.contains_key(model))
    }

    /// The output maximum of `model` at `provider` (for a translation that must send a limit
    /// when the client set none), or `None` when the model is unknown and not overridden.
    pub fn max_output(&self, provider: &ProviderName, model: &str) -> Option<u64> {
        let overridden = self
            .overrides
            .get(provider)
            .and_then(|m| m.get(model))
            .and_then(|o| o.max_output);
        overridden.or_else(|| self.builtin(model).map(|s| s.max_output))
    }
}

/// `70b`, `405b`, `32b-instruct-q4` : 30B parameters or more.
fn tag_is_large(tag: &str) -> bool {
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    let rest = &tag[digits.len()..];
    (rest.starts_with('b') || rest.starts_with('B')) && digits.parse::<u32>().is_ok_and(|n| n >= 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> ModelSpecs {
        ModelSpecs::new([
            (
                "gpt-4o".into(),
                ModelSpec::chat(128_000, 16_384).multimodal().strong(),
            ),
            (
                "llama3.1".into(),
                ModelSpec::chat(131_072, 8_192).with_tools(),
            ),
        ])
    }

    #[test]
    fn snapshots_tags_and_prefixes_find_their_model() {
        let s = specs();
        assert_eq!(s.builtin("gpt-4o-2024-08-06"), s.builtin("gpt-4o"));
        assert_eq!(s.builtin("openai/gpt-4o"), s.builtin("gpt-4o"));
        let small = s.builtin("llama3.1:8b").expect("known");
        assert_eq!(small.class, ModelClass::Light);
        let large = s.builtin("llama3.1:70b").expect("known");
        assert_eq!(large.class, ModelClass::Strong);
        assert!(s.builtin("gpt-9").is_none());
    }

    #[test]
    fn overrides_apply_to_their_provider_only() {
        let s = specs().with_override(
            "gpu".into(),
            "llama3.1",
            SpecOverride {
                context: Some(8_192),
                vision: Some(true),
                ..SpecOverride::default()
            },
        );
        let there = s.spec(&"gpu".into(), "llama3.1");
        assert_eq!(
            (there.context, there.vision, there.tools),
            (8_192, true, true)
        );
        assert_eq!(s.spec(&"other".into(), "llama3.1").context, 131_072);
        assert_eq!(s.max_output(&"gpu".into(), "gpt-4o"), Some(16_384));
        assert_eq!(s.max_output(&"gpu".into(), "mystery"), None);
        assert!(!s.spec(&"gpu".into(), "mystery").tools);
        assert_eq!(
            s.spec(&"gpu".into(), "my-embedder").kind,
            ModelKind::Embeddings
        );
    }
}
