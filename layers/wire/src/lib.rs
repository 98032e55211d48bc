//! The pure wire codecs of infermux: no I/O, no tower, no config.
//!
//! Every ingress protocol decodes into one hub model, the OpenAI-chat-shaped
//! [`ChatRequest`](infermux_core::chat::ChatRequest) of `infermux-core` (typed where infermux
//! reads or translates a field, every other field kept verbatim), and every answer is encoded
//! back from OpenAI-chat-shaped responses and stream chunks, the shape every provider adapter
//! already produces. The hub is OpenAI chat because it is the richest common denominator of the
//! protocols served (roles, parts, tools, structured output, reasoning effort), because the
//! OpenAI clients that are most of the traffic then pay no translation at all, and because the
//! provider encoders to Anthropic and Ollama already take it.
//!
//! * [`openai`], [`anthropic`], [`ollama`]: the provider formats: hub requests encoded into
//!   each provider's API, its answers and streams decoded back into the hub's shape (each stream
//!   decoder a [`ChunkDecoder`] of the transport's stream body);
//! * [`messages`]: Anthropic Messages (`/v1/messages`): request decoder, response and stream
//!   encoders, error shape;
//! * [`responses`]: OpenAI Responses (`/v1/responses`): request decoder, response and stream
//!   encoders, usage of a passed-through answer;
//! * [`passthrough`]: same-protocol forwarding: `model` replaced in place in the client's bytes,
//!   and usage located in a passing Anthropic stream without parsing anything else;
//! * [`report`]: the typed per-stream report (usage, finish reason, how it ended);
//! * [`limits`]: the output maximum of a model, a plain lookup the encoders are given.
//!
//! Everything here is public so that it can be fuzzed (`fuzz/`) and benchmarked alone.

pub mod anthropic;
pub mod chat_chunk;
pub mod chat_parts;
mod decoder;
pub mod delta_text;
pub mod embedding;
pub mod legacy;
pub mod limits;
pub mod messages;
pub mod ollama;
pub mod openai;
pub mod passthrough;
pub mod report;
pub mod responses;
pub mod scan;

pub use decoder::ChunkDecoder;
