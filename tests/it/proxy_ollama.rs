//! Ollama's native API behind the OpenAI face, over loopback.

use crate::common;

use crate::common::{Infermux, chat, post_json};
use infermux_test_util::MockServer;
use serde_json::json;

async fn start(ollama: &MockServer) -> Infermux {
    let yaml = format!(
        r#"
providers:
  - name: ollama
    type: ollama
    base_url: "{}"
    models: [llama3.2, nomic-embed-text]
    model_aliases: {{gpt-4o-mini: llama3.2}}
"#,
        ollama.base_url()
    );
    Infermux::start(&yaml).await
}

#[tokio::test]
async fn chat_is_translated_both_ways() {
    let ollama = MockServer::ollama().await;
    let infermux = start(&ollama).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(
            "gpt-4o-mini",
            json!({"temperature": 0.3, "max_tokens": 20, "stop": ["\n"]}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("ollama"));
    assert_eq!(reply.header("x-infermux-model"), Some("llama3.2"));
    let answer = reply.json();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["prompt_tokens"], 8);
    assert_eq!(answer["usage"]["completion_tokens"], 1);

    let sent = &ollama.requests()[0];
    assert_eq!(sent.path, "/api/chat");
    let upstream = sent.json();
    assert_eq!(upstream["model"], "llama3.2");
    assert_eq!(upstream["stream"], false);
    assert_eq!(upstream["options"]["temperature"], 0.3);
    assert_eq!(upstream["options"]["num_predict"], 20);
    assert_eq!(upstream["options"]["stop"], json!(["\n"]));
}

#[tokio::test]
async fn ndjson_streams_become_sse_chunks() {
    let ollama = MockServer::ollama().await;
    ollama.set_reply("why is the sky blue");
    let infermux = start(&ollama).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(
            "gpt-4o-mini",
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    let chunks = reply.chunks();
    let text = reply.streamed_text();
    assert_eq!(text, "why is the sky blue");
    assert_eq!(
        chunks.last().map(|c| c["usage"]["prompt_tokens"].clone()),
        Some(json!(8))
    );
}

#[tokio::test]
async fn embeddings_use_api_embed() {
    let ollama = MockServer::ollama().await;
    let infermux = start(&ollama).await;
    let reply = post_json(
        &infermux.url("/v1/embeddings"),
        &[],
        json!({"model": "nomic-embed-text", "input": ["a b", "c"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert!(
        body["data"][0]["embedding"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(ollama.requests()[0].path, "/api/embed");
}

#[tokio::test]
async fn a_model_ollama_does_not_have_is_passed_through_as_its_404() {
    let ollama = MockServer::ollama().await;
    ollama.set_models(&["other"]);
    let infermux = start(&ollama).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("llama3.2", json!({})),
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert!(reply.text().contains("not found"));
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let ollama = MockServer::ollama().await;
    ollama.set_reply("a b c d e f");
    ollama.set_fault(infermux_test_util::Fault::CutStreamAfter(2));
    let infermux = start(&ollama).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("llama3.2", json!({"stream": true})),
    )
    .await;
    let events = reply.sse_data();
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    assert!(events.last().is_some_and(|e| e.contains("\"error\"")));
}

#[tokio::test]
async fn translated_answers_give_their_upstream_connection_back() {
    let ollama = MockServer::ollama().await;
    let infermux = start(&ollama).await;
    common::chats_in_turn(&infermux, "llama3.2").await;
    assert_eq!(ollama.request_count(), 4);
    assert_eq!(ollama.connection_count(), 1);
}
