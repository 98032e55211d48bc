//! infermux: an OpenAI-compatible inference router built from tower layers.
//!
//! Applications send OpenAI-shaped requests; infermux picks a provider (OpenAI, Anthropic,
//! Ollama, any OpenAI-compatible server, or the built-in mock), translates the request,
//! forwards it, and fails over when a provider breaks.
//!
//! The binary is a thin shell around this library: [`config`] parses the file,
//! [`stack::proxy`] assembles the service stack, and [`server::Server`] serves it.

pub mod accounting;
pub mod cli;
pub mod config;
pub mod error;
pub mod health;
pub mod ingress;
mod local_ollama;
pub mod management;
pub mod pricing;
pub mod provider;
pub mod resilience;
pub mod server;
pub mod stack;
mod telemetry;
pub mod tokens;

pub use infermux_core as core;
