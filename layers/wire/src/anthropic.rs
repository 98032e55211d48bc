//! Anthropic Messages API adapter.
//!
//! Clients speak OpenAI chat completions to infermux; an `anthropic` provider speaks the
//! Messages API (`POST /v1/messages`). This module translates between the two, purely (no I/O):
//!
//! * `encode_request` turns a `ChatRequest` into the JSON body of `POST /v1/messages`, or a
//!   `TranslateError` (a 400 `invalid_request`) when the request asks for something Anthropic
//!   cannot do;
//! * `decode_response` turns an Anthropic `message` into an OpenAI `chat.completion` body and the
//!   provider's `Usage`;
//! * `StreamTranslator` turns the server-sent events of a streamed Anthropic message into OpenAI
//!   `chat.completion.chunk`s, one event at a time, learning the usage on the way;
//! * `response::map_stop_reason` maps Anthropic's `stop_reason` to OpenAI's `finish_reason`
//!   for both.

mod decoder;
mod error;
mod request;
mod response;
mod stream;

pub use error::{DecodeError, TranslateError};
pub use request::{STRUCTURED_OUTPUTS_BETA, encode_request, native_output_schema};
pub use response::decode_response;
pub use stream::StreamTranslator;
