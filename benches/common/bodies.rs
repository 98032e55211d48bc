//! Request bodies shared by the benches, so that every scenario of the same name sends the
//! same bytes.

use bytes::Bytes;
use serde_json::json;

/// The model every scenario asks for.
pub(crate) const MODEL: &str = "gpt-4o-mini";

/// The smallest realistic chat request: one user message.
pub(crate) fn chat_small() -> Bytes {
    Bytes::from(
        json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    )
}

/// A chat request of about 2,000 prompt tokens (~8 KiB of text at ~4 characters per token):
/// a system prompt and ten user/assistant turns, with the usual sampling fields.
pub(crate) fn chat_2k_tokens() -> Bytes {
    const WORDS: &[&str] = &[
        "the", "router", "forwards", "each", "request", "to", "a", "provider", "and", "records",
        "usage", "so", "that", "budgets", "hold", "across", "replicas", "without", "drift",
        "while", "streams", "pass", "through", "chunk", "by", "one",
    ];
    let text = |n: usize, seed: usize| -> String {
        (0..n)
            .map(|i| WORDS[(i * 7 + seed) % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut messages = vec![json!({"role": "system", "content": text(300, 1)})];
    for turn in 0..10 {
        messages.push(json!({"role": "user", "content": text(80, turn)}));
        messages.push(json!({"role": "assistant", "content": text(60, turn + 3)}));
    }
    messages.push(json!({"role": "user", "content": "summarise the above in one line"}));
    Bytes::from(
        json!({
            "model": MODEL,
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": 256,
            "user": "bench",
            "seed": 7,
        })
        .to_string(),
    )
}

/// The same request with `"stream": true`.
pub(crate) fn chat_small_stream() -> Bytes {
    Bytes::from(
        json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": true})
            .to_string(),
    )
}
