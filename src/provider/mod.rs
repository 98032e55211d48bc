//! Provider adapters: one per provider type, each translating OpenAI-shaped requests.

pub mod anthropic;
pub mod ollama;
