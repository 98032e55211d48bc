//! The black-box tests, in one binary: each module starts infermux (in process, or the real
//! binary) on loopback and drives it over HTTP, with mock providers and real clients.
//!
//! One binary rather than one per file: each would link the whole gateway again.

mod anthropic_sdk;
mod billed_attempts;
mod budgets;
mod cache_budget;
mod claude_code;
mod cli;
mod codex_cli;
mod common;
mod config_errors;
mod cors;
mod cost;
mod dashboard;
mod docs_examples;
mod drain_settlement;
mod durability;
mod edge;
mod errors;
mod estimated_usage;
mod failover;
mod fleet;
mod forecast_keys;
mod keys;
mod keys_cli;
mod keys_fleet;
mod keys_sdk;
mod keys_secrecy;
mod log_backpressure;
mod management;
mod messages;
mod model_lookup;
mod openai_sdk;
mod pricing_shapes;
mod proxy_anthropic;
mod proxy_mock;
mod proxy_ollama;
mod proxy_openai;
mod request_log;
mod request_log_postgres;
mod resilience;
mod responses;
mod responses_sdk;
mod routing;
mod routing_cli;
mod settlement;
mod stream_outcomes;
mod telemetry;
mod token_counting;
mod vercel_ai;
mod virtual_models;
