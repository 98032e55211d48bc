//! Mock OpenAI, Anthropic and Ollama servers on loopback, for black-box tests of infermux.
//!
//! A test starts a [`MockServer`] on `127.0.0.1:0`, points an infermux provider at its
//! [`base_url`](MockServer::base_url), sends traffic through infermux, and then asserts both on
//! what the client got and on what the mock received ([`MockServer::requests`]).
//!
//! # Wire formats
//!
//! Each mock speaks its provider's real wire format, streaming included, and validates requests
//! the way the real API does, so a translation bug in infermux fails a test instead of passing
//! against a lenient fake:
//!
//! | mock | routes | wants |
//! | --- | --- | --- |
//! | [`MockServer::openai`] | `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models` | `Authorization: Bearer …` |
//! | [`MockServer::anthropic`] | `POST /v1/messages`, `GET /v1/models` | `x-api-key`, `anthropic-version`, alternating roles, no `system` role in `messages` |
//! | [`MockServer::ollama`] | `POST /api/chat`, `POST /api/embed`, `GET /api/tags` | a model in its list; `stream` defaults to true |
//!
//! Token usage is deterministic (see [`tokens`]): a single user message `"hi"` answered with the
//! default reply `"Hello!"` costs 8 prompt tokens and 1 completion token with every provider.
//!
//! # Faults
//!
//! [`Fault`]s make a mock fail the way real upstreams do: an error status (with `Retry-After`),
//! latency, a dropped connection, a stream cut before its terminal event, a paced stream, or no
//! answer at all. [`MockServer::set_fault`] applies one to every following completion/embedding
//! request; [`MockServer::set_faults`] queues one per request. Health GETs are recorded but never
//! counted in [`MockServer::request_count`], and only faulted by
//! [`MockServer::set_health_fault`].
//!
//! # Synchronising
//!
//! [`MockServer::wait_for_requests`] awaits arrivals on a `tokio::sync::Notify`; tests never
//! sleep to let a request land.
//!
//! # Example
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use infermux_test_util::{Fault, MockServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockServer::openai().await;
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
//! let chat = |body: &'static str| {
//!     http::Request::post(format!("{}/chat/completions", mock.base_url()))
//!         .header("authorization", "Bearer sk-test")
//!         .body(Full::from(body))
//!         .expect("valid request")
//! };
//! let hi = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
//!
//! let response = client.request(chat(hi)).await.expect("mock answers");
//! let body = response.into_body().collect().await.expect("whole body").to_bytes();
//! let answer: serde_json::Value = serde_json::from_slice(&body).expect("json");
//! assert_eq!(answer["choices"][0]["message"]["content"], "Hello!");
//! assert_eq!(answer["usage"]["prompt_tokens"], 8);
//! assert_eq!(answer["usage"]["completion_tokens"], 1);
//!
//! mock.set_fault(Fault::rate_limited(2));
//! let response = client.request(chat(hi)).await.expect("mock answers");
//! assert_eq!(response.status(), 429);
//! assert_eq!(response.headers()["retry-after"], "2");
//!
//! assert_eq!(mock.request_count(), 2);
//! assert_eq!(mock.requests()[0].json()["model"], "gpt-4o-mini");
//! # }
//! ```

mod anthropic;
mod fault;
mod ollama;
mod openai;
mod openai_responses;
mod postgres;
mod redis;
mod reply;
mod server;
pub mod tokens;

pub use fault::Fault;
pub use postgres::PostgresServer;
pub use redis::RedisServer;
pub use server::{MockServer, RecordedRequest};
