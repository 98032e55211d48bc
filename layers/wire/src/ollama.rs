//! Ollama native API adapter.
//!
//! Clients speak OpenAI chat completions and embeddings to infermux; an `ollama` provider is
//! sent Ollama's native `POST /api/chat` and `POST /api/embed`, not its OpenAI-compatible
//! `/v1` endpoints. The native API reports `prompt_eval_count` and `eval_count` reliably on
//! every answer, streamed ones included (on the final line), so the cost of a request is
//! always known without asking the client for `stream_options`; and it takes what a faithful
//! translation needs: `options.num_predict` for the output limit, `format` for JSON mode and
//! JSON schemas, and `images` for inline images.
//!
//! This module translates between the two, purely (no I/O):
//!
//! * `encode_chat` turns a `ChatRequest` into the body of `POST /api/chat` (with `stream`
//!   always explicit, since Ollama streams by default), or a `TranslateError` (a 400
//!   `invalid_request`) when the request asks for something Ollama cannot do, such as an image
//!   by URL rather than inline;
//! * `encode_embed` turns an `EmbeddingsRequest` into the body of `POST /api/embed`;
//! * `decode_chat` and `decode_embed` turn Ollama's answers into OpenAI `chat.completion` and
//!   embeddings-list bodies, with the provider's `Usage`; `decode_embed_as` writes the vectors
//!   in the `encoding_format` asked for (the OpenAI SDKs ask for `base64` by default);
//! * `NdjsonTranslator` turns the newline-delimited JSON of a streamed chat answer into OpenAI
//!   `chat.completion.chunk`s, whatever the chunk boundaries, learning the usage on the way.
//!
//! Ollama's `done_reason` maps to `finish_reason` as `length` -> `length`, anything else ->
//! `stop`, or `tool_calls` when the answer called tools. Ollama has no `tool_choice`: `none`
//! is honoured by not offering the tools; other choices are left to the model.

mod error;
mod request;
mod response;
mod stream;

pub use error::DecodeError;
pub use request::{encode_chat, encode_embed};
pub use response::{decode_chat, decode_embed};
pub use stream::NdjsonTranslator;
mod decoder;
