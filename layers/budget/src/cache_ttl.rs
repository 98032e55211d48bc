//! Whether a request asks for 1-hour prompt caching.
//!
//! Anthropic writes a prompt prefix to its cache for 5 minutes by default, or for an hour when
//! a block's `cache_control` says `{"type": "ephemeral", "ttl": "1h"}`; the hour costs more
//! per token written (`cache_write_1h`, twice the input price on Anthropic's list). The worst
//! case of such a request prices its prompt at that rate, so a hard cap holds.

use infermux_core::{InferRequest, RequestBody, chat::MessageContent};
use serde_json::{Map, Value};

/// Whether `request` asks for a cache lifetime of one hour anywhere: in the client's own body
/// (a `/v1/messages` client), or in a chat request's messages and content parts.
pub(crate) fn asks_for_1h_cache(request: &InferRequest) -> bool {
    if request
        .client
        .as_ref()
        .is_some_and(|client| has_1h_ttl(&client.body))
    {
        return true;
    }
    let RequestBody::Chat(chat) = &request.body else {
        return false;
    };
    chat.messages.iter().any(|message| {
        is_1h(&message.extra)
            || matches!(&message.content, Some(MessageContent::Parts(parts))
                if parts.iter().any(|part| is_1h(&part.extra)))
    })
}

/// `cache_control.ttl` of a block is `"1h"`.
fn is_1h(extra: &Map<String, Value>) -> bool {
    extra
        .get("cache_control")
        .and_then(|c| c.get("ttl"))
        .and_then(Value::as_str)
        == Some("1h")
}

/// Whether JSON `body` has a `"ttl": "1h"` member, found without parsing it again (the body
/// was parsed once at ingress). Text that merely contains those characters inside a string
/// can only make the reservation larger, never smaller.
fn has_1h_ttl(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"ttl\"";
    // A vector search: bodies of agents run to hundreds of KiB, and this runs on every one.
    memchr::memmem::find_iter(body, KEY).any(|at| {
        body[at + KEY.len()..]
            .trim_ascii_start()
            .strip_prefix(b":")
            .is_some_and(|value| value.trim_ascii_start().starts_with(b"\"1h\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_hour_ttl_is_found_in_a_raw_body() {
        assert!(has_1h_ttl(
            br#"{"system":[{"type":"text","text":"x","cache_control":{"type":"ephemeral","ttl" : "1h"}}]}"#
        ));
        assert!(!has_1h_ttl(
            br#"{"system":[{"type":"text","text":"x","cache_control":{"type":"ephemeral","ttl":"5m"}}]}"#
        ));
        assert!(!has_1h_ttl(
            br#"{"system":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}"#
        ));
        // The last of several, after a long prompt.
        let long = format!(
            r#"{{"ttl":"5m","messages":[{{"content":"{}","cache_control":{{"ttl":"1h"}}}}]}}"#,
            "word ".repeat(50_000)
        );
        assert!(has_1h_ttl(long.as_bytes()));
    }
}
