//! Which requests ingress leaves uncounted.

use super::*;

/// A chat request for `model`, streamed or not.
fn chat(model: &str, stream: bool) -> InferRequest {
    let chat = serde_json::from_value(serde_json::json!({
        "model": model, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]
    }))
    .expect("chat");
    InferRequest::new(RequestBody::Chat(chat), "a".into(), "r".into())
}

const LONG: usize = crate::tokens::INLINE_ESTIMATE_BYTES + 1;

#[test]
fn only_a_long_complete_chat_that_nothing_decides_by_is_left_uncounted() {
    let auto: Arc<str> = Arc::from("auto");
    let settings = IngressSettings::new(1 << 20, ["gpt-4o-mini"]).with_counts_on_demand([&auto]);
    let plain = chat("gpt-4o-mini", false);
    assert!(settings.leaves_uncounted(&Route::Chat, &plain, LONG, false));
    // Counted: short prompts, streams (their cost header is the prompt's estimate), another
    // protocol, a virtual model, a named strategy or a key, and models counted cheaply.
    assert!(!settings.leaves_uncounted(&Route::Chat, &plain, LONG - 1, false));
    assert!(!settings.leaves_uncounted(&Route::Chat, &chat("gpt-4o-mini", true), LONG, false));
    assert!(!settings.leaves_uncounted(&Route::Messages, &plain, LONG, false));
    assert!(!settings.leaves_uncounted(&Route::Chat, &chat("auto", false), LONG, false));
    assert!(!settings.leaves_uncounted(&Route::Chat, &plain, LONG, true));
    assert!(!settings.leaves_uncounted(&Route::Chat, &chat("llama3.2", false), LONG, false));
}

#[test]
fn without_counts_on_demand_every_prompt_is_counted() {
    let settings = IngressSettings::new(1 << 20, ["gpt-4o-mini"]);
    assert!(!settings.leaves_uncounted(&Route::Chat, &chat("gpt-4o-mini", false), LONG, false));
}
