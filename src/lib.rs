//! infermux: an OpenAI-compatible inference router built from tower layers.

pub mod config;
pub mod provider;
