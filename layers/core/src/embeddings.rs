//! OpenAI embeddings wire types (`POST /v1/embeddings`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An embeddings request, parsed once at ingress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    /// The requested model.
    pub model: String,
    /// A string, a list of strings, or token arrays.
    pub input: Value,
    /// Every other field (`encoding_format`, `dimensions`, `user`), passed through verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingsRequest {
    /// The input texts; token-array inputs yield nothing.
    pub fn texts(&self) -> Vec<&str> {
        match &self.input {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}
