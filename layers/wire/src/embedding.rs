//! Embedding vectors written the way the client asked (`encoding_format`).
//!
//! The official OpenAI SDKs ask for `base64` unless told otherwise and decode it themselves,
//! so every provider that builds an embeddings answer itself (Ollama, the mock) must honour it.

use base64::{Engine, engine::general_purpose::STANDARD};
use infermux_core::embeddings::EmbeddingsRequest;
use serde::Serialize;
use serde_json::Value;

/// How the client wants its embedding vectors written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddingEncoding {
    /// A JSON array of numbers (the default).
    Float,
    /// The little-endian `f32` bytes of the vector, base64-encoded.
    Base64,
}

/// An `encoding_format` other than `float` or `base64`.
#[derive(Debug, thiserror::Error)]
#[error("encoding_format `{0}` is not supported (use `float` or `base64`)")]
pub struct UnsupportedEncoding(String);

/// An embedding vector in the client's encoding.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// Numbers, written with `f32` precision.
    Float(Vec<f32>),
    /// Base64 of the little-endian `f32` bytes.
    Base64(String),
}

impl EmbeddingEncoding {
    /// The encoding an embeddings request asks for.
    pub fn of(request: &EmbeddingsRequest) -> Result<Self, UnsupportedEncoding> {
        match request.extra.get("encoding_format") {
            None | Some(Value::Null) => Ok(Self::Float),
            Some(Value::String(format)) if format == "float" => Ok(Self::Float),
            Some(Value::String(format)) if format == "base64" => Ok(Self::Base64),
            Some(Value::String(format)) => Err(UnsupportedEncoding(format.clone())),
            Some(other) => Err(UnsupportedEncoding(other.to_string())),
        }
    }

    /// Writes `vector` in this encoding.
    pub fn encode(self, vector: Vec<f32>) -> EmbeddingVector {
        match self {
            Self::Float => EmbeddingVector::Float(vector),
            Self::Base64 => {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                EmbeddingVector::Base64(STANDARD.encode(bytes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(value: Value) -> Result<EmbeddingEncoding, UnsupportedEncoding> {
        EmbeddingEncoding::of(&serde_json::from_value(value).expect("a valid request"))
    }

    #[test]
    fn the_encoding_is_read_from_the_request() {
        assert_eq!(
            of(json!({"model": "e", "input": "x"})).ok(),
            Some(EmbeddingEncoding::Float)
        );
        let base64 = of(json!({"model": "e", "input": "x", "encoding_format": "base64"}));
        assert_eq!(base64.ok(), Some(EmbeddingEncoding::Base64));
        let bad = of(json!({"model": "e", "input": "x", "encoding_format": "int8"}));
        assert_eq!(
            bad.map_err(|e| e.to_string()),
            Err("encoding_format `int8` is not supported (use `float` or `base64`)".to_owned())
        );
    }

    #[test]
    fn base64_is_the_little_endian_f32_bytes() {
        let encode = |v: &[f32]| EmbeddingEncoding::Base64.encode(v.to_vec());
        assert_eq!(
            encode(&[1.0, -2.0]),
            EmbeddingVector::Base64("AACAPwAAAMA=".into())
        );
        assert_eq!(encode(&[0.1]), EmbeddingVector::Base64("zczMPQ==".into()));
        assert_eq!(encode(&[]), EmbeddingVector::Base64(String::new()));
    }
}
