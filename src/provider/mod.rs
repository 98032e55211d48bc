//! Provider adapters and the dispatch service at the leaf of the stack.
//!
//! Each provider is a tower [`Service`](tower::Service) taking a [`ProviderCall`] and
//! answering an OpenAI-shaped `http::Response<InferBody>`: [`HttpProvider`] speaks one of
//! the [`WireFormat`]s (OpenAI and OpenAI-compatible servers, Anthropic's Messages API,
//! Ollama's native API) over the one shared pooled [`HttpClient`]; [`MockProvider`] answers
//! from memory. [`Dispatch`] tries a request's candidates in order.

pub mod anthropic;
mod call;
mod chat_parts;
mod client;
mod dispatch;
mod egress;
mod embedding;
mod http;
mod mock;
pub mod ollama;
mod openai;
mod passthrough;
mod stream;
mod wire;

pub use call::{ProviderCall, ProviderError, ProviderErrorKind};
pub use client::{HttpClient, http_client};
pub use dispatch::{
    AllProvidersFailed, Dispatch, DispatchTarget, MODEL_HEADER, NoHealthyProvider, PROVIDER_HEADER,
    ProviderService, Skip,
};
pub use http::{HttpProvider, HttpProviderConfig};
pub use mock::{MockProvider, MockSettings};
pub use stream::{ChunkDecoder, TranslatedBody};
pub use wire::WireFormat;
