//! OpenAI's Responses API (`POST /v1/responses`) on the client side: its requests decoded into
//! the hub [`ChatRequest`](infermux_core::chat::ChatRequest), OpenAI-chat-shaped answers encoded
//! back into `response` objects and Responses stream events, and the usage of a passed-through
//! Responses answer located. Errors keep OpenAI's shape, which the Responses API shares.

mod request;
mod response;
mod stream;
mod usage;

pub use request::{DecodeError, DecodedRequest, NAMESPACE_SEPARATOR, decode, split_namespace};
pub use response::{encode_response, usage_json};
pub use stream::StreamEncoder;
pub use usage::{UsageObserver, response_usage};
