//! The built-in model catalog: what each current model can do (context window, output
//! maximum, images, tools, structured output, reasoning, class), beside the built-in prices.
//!
//! `pricing` entries override any of it per provider and model (`context`, `max_output`,
//! `vision`, `tools`, `structured_output`, `reasoning`, `class`). Dated snapshots, `-latest`
//! names, vendor prefixes and Ollama tags find their model (see
//! [`ModelSpecs::builtin`](infermux_core::ModelSpecs::builtin)).

use std::sync::LazyLock;

use infermux_core::{ModelSpec, ModelSpecs, ProviderName};

use crate::config::Config;

const fn chat(context: u64, max_output: u64) -> ModelSpec {
    ModelSpec::chat(context, max_output)
}

/// Every built-in model spec.
pub const BUILTIN_SPECS: &[(&str, ModelSpec)] = &[
    // OpenAI
    (
        "gpt-6.2-sol",
        chat(400_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "gpt-6.1-sol",
        chat(1_050_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "gpt-6-sol",
        chat(1_050_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "gpt-5",
        chat(400_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "gpt-5-mini",
        chat(400_000, 128_000).multimodal().reasoning(),
    ),
    (
        "gpt-5-nano",
        chat(400_000, 128_000).multimodal().reasoning(),
    ),
    ("gpt-4.1", chat(1_047_576, 32_768).multimodal().strong()),
    ("gpt-4.1-mini", chat(1_047_576, 32_768).multimodal()),
    ("gpt-4.1-nano", chat(1_047_576, 32_768).multimodal()),
    ("gpt-4o", chat(128_000, 16_384).multimodal().strong()),
    ("gpt-4o-mini", chat(128_000, 16_384).multimodal()),
    (
        "o1",
        chat(200_000, 100_000).multimodal().reasoning().strong(),
    ),
    (
        "o3",
        chat(200_000, 100_000).multimodal().reasoning().strong(),
    ),
    (
        "o3-mini",
        chat(200_000, 100_000).with_tools().reasoning().strong(),
    ),
    (
        "o4-mini",
        chat(200_000, 100_000).multimodal().reasoning().strong(),
    ),
    ("gpt-4-turbo", chat(128_000, 4_096).multimodal().strong()),
    ("gpt-3.5-turbo", chat(16_385, 4_096).with_tools()),
    ("text-embedding-3-small", ModelSpec::embeddings(8_191)),
    ("text-embedding-3-large", ModelSpec::embeddings(8_191)),
    ("text-embedding-ada-002", ModelSpec::embeddings(8_191)),
    // Anthropic (structured output by a forced tool)
    (
        "claude-opus-5-5",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-5",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-sonnet-5-5",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-sonnet-5",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-fable-5-1",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4-8",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4-7",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4-6",
        chat(1_000_000, 128_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-sonnet-4-6",
        chat(1_000_000, 64_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4-5",
        chat(200_000, 64_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4-1",
        chat(200_000, 32_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4-0",
        chat(200_000, 32_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-opus-4",
        chat(200_000, 32_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-sonnet-4-5",
        chat(200_000, 64_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-sonnet-4-0",
        chat(200_000, 64_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-sonnet-4",
        chat(200_000, 64_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-3-7-sonnet",
        chat(200_000, 64_000).multimodal().reasoning().strong(),
    ),
    (
        "claude-haiku-4-5",
        chat(200_000, 64_000).multimodal().reasoning(),
    ),
    ("claude-3-5-haiku", chat(200_000, 8_192).with_tools()),
    ("claude-haiku-3-5", chat(200_000, 8_192).with_tools()),
    ("claude-3-haiku", chat(200_000, 4_096).multimodal()),
    // Google
    (
        "gemini-2.5-pro",
        chat(1_048_576, 65_536).multimodal().reasoning().strong(),
    ),
    (
        "gemini-2.5-flash",
        chat(1_048_576, 65_536).multimodal().reasoning(),
    ),
    (
        "gemini-2.5-flash-lite",
        chat(1_048_576, 65_536).multimodal(),
    ),
    ("gemini-2.0-flash", chat(1_048_576, 8_192).multimodal()),
    ("gemini-2.0-flash-lite", chat(1_048_576, 8_192).multimodal()),
    ("gemini-embedding-001", ModelSpec::embeddings(2_048)),
    // Groq-hosted open models
    (
        "llama-3.3-70b-versatile",
        chat(131_072, 32_768).with_tools().strong(),
    ),
    ("llama-3.1-8b-instant", chat(131_072, 131_072).with_tools()),
    (
        "meta-llama/llama-4-scout-17b-16e-instruct",
        chat(131_072, 8_192).multimodal(),
    ),
    (
        "meta-llama/llama-4-maverick-17b-128e-instruct",
        chat(131_072, 8_192).multimodal().strong(),
    ),
    (
        "openai/gpt-oss-120b",
        chat(131_072, 65_536).with_tools().reasoning().strong(),
    ),
    (
        "openai/gpt-oss-20b",
        chat(131_072, 65_536).with_tools().reasoning(),
    ),
    (
        "qwen/qwen3-32b",
        chat(131_072, 40_960).with_tools().reasoning(),
    ),
    (
        "moonshotai/kimi-k2-instruct",
        chat(131_072, 16_384).with_tools().strong(),
    ),
    // Mistral
    ("mistral-large", chat(131_072, 8_192).with_tools().strong()),
    ("mistral-medium", chat(131_072, 8_192).multimodal().strong()),
    ("mistral-small", chat(131_072, 8_192).multimodal()),
    ("codestral", chat(256_000, 8_192).with_tools()),
    ("pixtral-large", chat(131_072, 8_192).multimodal().strong()),
    ("ministral-8b", chat(131_072, 8_192).with_tools()),
    ("ministral-3b", chat(131_072, 8_192).with_tools()),
    ("open-mistral-nemo", chat(131_072, 8_192).with_tools()),
    ("mistral-embed", ModelSpec::embeddings(8_192)),
    // Ollama (the model's own window; a tag of 30B or more is strong: `llama3.1:70b`)
    ("llama3.3", chat(131_072, 8_192).with_tools().strong()),
    ("llama3.2", chat(131_072, 8_192).with_tools()),
    ("llama3.2-vision", chat(131_072, 8_192).with_vision()),
    ("llama3.1", chat(131_072, 8_192).with_tools()),
    ("llama3", chat(8_192, 4_096)),
    ("qwen3", chat(40_960, 16_384).with_tools().reasoning()),
    ("qwen2.5", chat(32_768, 8_192).with_tools()),
    ("qwen2.5-coder", chat(32_768, 8_192).with_tools()),
    ("qwen2.5vl", chat(125_000, 8_192).with_vision()),
    ("mistral", chat(32_768, 8_192).with_tools()),
    ("mistral-nemo", chat(131_072, 8_192).with_tools()),
    ("gemma3", chat(131_072, 8_192).with_vision()),
    ("phi4", chat(16_384, 4_096)),
    ("deepseek-r1", chat(131_072, 32_768).reasoning()),
    ("gpt-oss", chat(131_072, 32_768).with_tools().reasoning()),
    ("llava", chat(4_096, 2_048).with_vision()),
    ("nomic-embed-text", ModelSpec::embeddings(8_192)),
    ("mxbai-embed-large", ModelSpec::embeddings(512)),
    ("all-minilm", ModelSpec::embeddings(512)),
    ("bge-m3", ModelSpec::embeddings(8_192)),
    ("snowflake-arctic-embed", ModelSpec::embeddings(512)),
];

static BUILTIN: LazyLock<ModelSpecs> =
    LazyLock::new(|| ModelSpecs::new(BUILTIN_SPECS.iter().map(|(m, s)| ((*m).into(), *s))));

/// The built-in catalog.
pub fn builtin_specs() -> &'static ModelSpecs {
    &BUILTIN
}

/// The built-in output maximum of `model` (snapshots, tags and prefixes included), for a
/// translation that must send an output limit when the client set none; `None` when the
/// catalog does not know the model. [`model_specs`] adds the config's overrides.
pub fn max_output_tokens(model: &str) -> Option<u64> {
    BUILTIN.builtin(model).map(|s| s.max_output)
}

/// The catalog for `config`: the built-in specs with each `pricing` entry's capabilities.
pub fn model_specs(config: &Config) -> ModelSpecs {
    config
        .pricing
        .iter()
        .filter(|p| !p.capabilities.is_empty())
        .fold(BUILTIN.clone(), |specs, p| {
            specs.with_override(
                ProviderName::new(p.provider.as_str()),
                &p.model,
                p.capabilities,
            )
        })
}

#[cfg(test)]
mod tests {
    use infermux_core::ModelClass;

    use super::*;

    #[test]
    fn every_listed_price_has_a_spec_and_names_are_unique() {
        let mut names: Vec<&str> = BUILTIN_SPECS.iter().map(|(m, _)| *m).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate spec");
        for price in super::super::LIST_PRICES {
            assert!(
                builtin_specs().builtin(price.model).is_some(),
                "{} has a price but no spec",
                price.model
            );
        }
    }

    #[test]
    fn output_maxima_follow_snapshots_and_tags() {
        assert_eq!(max_output_tokens("gpt-4o-mini-2024-07-18"), Some(16_384));
        assert_eq!(max_output_tokens("claude-opus-5-5"), Some(128_000));
        assert_eq!(max_output_tokens("gpt-6.2-sol"), Some(128_000));
        assert_eq!(max_output_tokens("llama3.1:70b"), Some(8_192));
        assert_eq!(max_output_tokens("made-up-model"), None);
        let large = builtin_specs().builtin("llama3.1:70b").expect("known");
        assert_eq!(large.class, ModelClass::Strong);
    }
}
