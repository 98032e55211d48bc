//! The built-in mock provider through the whole proxy: configured reply, usage and latency,
//! and failover away from a mock slower than its timeout.

use crate::common::{Infermux, chat, post_json};
use serde_json::json;

#[tokio::test]
async fn the_mock_answers_with_its_configured_reply_and_usage() {
    let yaml = r#"
providers:
  - name: mock
    type: mock
    models: [gpt-4o-mini]
    mock: {reply: "All good here.", prompt_tokens: 120, completion_tokens: 30}
"#;
    let infermux = Infermux::start(yaml).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["choices"][0]["message"]["content"], "All good here.");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150})
    );
}

#[tokio::test]
async fn a_mock_slower_than_its_timeout_fails_over_to_the_next() {
    let yaml = r#"
providers:
  - {name: slow, type: mock, models: [gpt-4o-mini], timeout: 200ms, mock: {latency: 10s}}
  - {name: quick, type: mock, models: [gpt-4o-mini]}
"#;
    let infermux = Infermux::start(yaml).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("quick"));
}

#[tokio::test]
async fn mock_streams_are_paced_and_complete() {
    let yaml = "providers:\n  - {name: mock, type: mock, models: [m], mock: {chunk_interval: 5ms, reply: \"a b c\"}}\n";
    let infermux = Infermux::start(yaml).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("m", json!({"stream": true})),
    )
    .await;
    let text = reply.streamed_text();
    assert_eq!(text, "a b c");
}

#[tokio::test]
async fn mock_embeddings_honour_base64() {
    let infermux = Infermux::start("providers:\n  - {name: mock, type: mock, models: [e]}\n").await;
    let url = infermux.url("/v1/embeddings");
    let floats = post_json(&url, &[], json!({"model": "e", "input": "hello"}))
        .await
        .json();
    let base64 = post_json(
        &url,
        &[],
        json!({"model": "e", "input": "hello", "encoding_format": "base64"}),
    )
    .await
    .json();
    let vector = floats["data"][0]["embedding"].as_array().expect("floats");
    let encoded = base64["data"][0]["embedding"].as_str().expect("base64");
    // Four bytes per f32, base64 has four characters per three bytes.
    assert_eq!(encoded.len(), (vector.len() * 4).div_ceil(3) * 4);
}
