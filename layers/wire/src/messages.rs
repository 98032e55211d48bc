//! Anthropic's Messages API (`POST /v1/messages`) on the client side: its requests decoded into
//! the hub [`ChatRequest`](infermux_core::chat::ChatRequest), OpenAI-chat-shaped answers encoded
//! back into Messages responses, stream events and errors.

mod error;
mod request;
mod response;
mod stream;

pub use error::{error_body, error_type, from_openai_error};
pub use request::{DecodeError, DecodedRequest, decode, decode_request};
pub use response::{encode_response, tool_use_id};
pub use stream::StreamEncoder;

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}
