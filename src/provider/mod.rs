//! Provider adapters and the dispatch service at the leaf of the stack.
//!
//! Each provider is a tower [`Service`](tower::Service) taking a [`ProviderCall`] and
//! answering an OpenAI-shaped `http::Response<InferBody>`: [`HttpProvider`] speaks one of
//! the [`WireFormat`]s (OpenAI and OpenAI-compatible servers, Anthropic's Messages API,
//! Ollama's native API) over [`HttpClient`]'s connections; [`MockProvider`] answers
//! from memory. [`Dispatch`] tries a request's candidates in order.
//!
//! Translation lives in `infermux_wire` (pure codecs, no I/O); here are only the transport
//! (`http`, `passthrough`, the stream body), dispatch, the answer shaping for the client's
//! protocol (`egress`) and the built-in mock.

mod billed;
mod call;
mod client;
mod dispatch;
mod egress;
mod forward;
mod http;
mod kind;
mod mock;
mod passthrough;
mod pool;
mod stream;
mod target;
mod wire;

pub use call::{ProviderCall, ProviderError, ProviderErrorKind};
pub use client::{HttpClient, http_client};
pub use dispatch::{
    AllProvidersFailed, Dispatch, MODEL_HEADER, NoHealthyProvider, PROVIDER_HEADER, Skip,
};
pub use forward::ForwardBody;
pub use http::{HttpProvider, HttpProviderConfig};
pub use kind::ProviderClient;
pub use mock::{MockProvider, MockSettings};
pub use stream::{ChunkDecoder, TranslatedBody};
pub use target::{DispatchTarget, GatedProvider, ProviderService, TargetService};
pub use wire::WireFormat;
