//! OpenAI and OpenAI-compatible providers through the whole proxy, over loopback.

use crate::common;

use crate::common::{Infermux, chat, get, post_json};
use infermux_test_util::MockServer;
use serde_json::json;

fn config(openai: &MockServer) -> String {
    format!(
        r#"
providers:
  - name: openai
    type: openai
    api_key: "${{OPENAI_API_KEY}}"
    base_url: "{}"
    models: [gpt-4o-mini, text-embedding-3-small]
    model_aliases: {{fast: gpt-4o-mini}}
"#,
        openai.base_url()
    )
}

async fn start(openai: &MockServer) -> Infermux {
    Infermux::start_with_env(&config(openai), &[("OPENAI_API_KEY", "sk-test-key-123")]).await
}

#[tokio::test]
async fn chat_is_forwarded_with_the_configured_key_and_answered_with_routing_headers() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[
            ("authorization", "Bearer client-own-key"),
            ("x-request-id", "req-42"),
        ],
        chat("gpt-4o-mini", json!({"temperature": 0.2, "seed": 7})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(reply.header("x-infermux-model"), Some("gpt-4o-mini"));
    assert_eq!(reply.header("x-infermux-request-id"), Some("req-42"));
    let body = reply.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["usage"]["prompt_tokens"], 8);

    let sent = &openai.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-key-123"));
    let forwarded = sent.json();
    assert_eq!(forwarded["seed"], 7, "unknown fields pass through");
    assert_eq!(forwarded["temperature"], 0.2);
}

#[tokio::test]
async fn requests_one_after_another_share_one_upstream_connection() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    common::chats_in_turn(&infermux, "gpt-4o-mini").await;
    assert_eq!(openai.request_count(), 4);
    assert_eq!(
        openai.connection_count(),
        1,
        "each answer, read to its end, gives its connection back to the next request"
    );
}

#[tokio::test]
async fn an_alias_sends_the_aliased_model() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("fast", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-model"), Some("gpt-4o-mini"));
    assert_eq!(openai.requests()[0].json()["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn streams_pass_through_and_drop_the_usage_chunk_the_client_did_not_ask_for() {
    let openai = MockServer::openai().await;
    openai.set_reply("one two three");
    let infermux = start(&openai).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    for chunk in reply.chunks() {
        assert!(chunk.get("usage").is_none_or(|u| u.is_null()), "{chunk}");
    }
    let content = reply.streamed_text();
    assert_eq!(content, "one two three");
    // infermux asked upstream for usage all the same.
    assert_eq!(
        openai.requests()[0].json()["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn streams_keep_the_usage_chunk_when_the_client_asked_for_it() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(
            "gpt-4o-mini",
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ),
    )
    .await;
    let events = reply.sse_data();
    let usage_chunk: serde_json::Value =
        serde_json::from_str(&events[events.len() - 2]).expect("usage chunk");
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 8);
    assert_eq!(usage_chunk["choices"], json!([]));
}

#[tokio::test]
async fn embeddings_are_forwarded() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    let reply = post_json(
        &infermux.url("/v1/embeddings"),
        &[],
        json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(openai.requests()[0].path, "/v1/embeddings");
}

#[tokio::test]
async fn tools_and_tool_calls_pass_through() {
    let openai = MockServer::openai().await;
    openai.set_tool_call("get_weather", r#"{"city":"Paris"}"#);
    let infermux = start(&openai).await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(
            "gpt-4o-mini",
            json!({"tools": tools, "tool_choice": "auto"}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let call = &reply.json()["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(openai.requests()[0].json()["tools"], tools);
}

#[tokio::test]
async fn models_lists_configured_models_and_alias_keys() {
    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    let reply = get(&infermux.url("/v1/models"), &[]).await;
    assert_eq!(reply.status, 200);
    let ids: Vec<String> = reply.json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        ids,
        [
            "fast",
            "gpt-4o-mini",
            "text-embedding-3-small",
            // The built-in virtual models.
            "economy",
            "auto",
            "smart-select"
        ]
    );
}

#[tokio::test]
async fn openai_compatible_servers_use_their_own_base_url() {
    let server = MockServer::openai().await;
    let yaml = format!(
        r#"
providers:
  - name: groq
    type: openai_compatible
    base_url: "{}"
    api_key: "gsk-test"
    models: [llama-3.1-8b-instant]
"#,
        server.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("llama-3.1-8b-instant", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("groq"));
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer gsk-test")
    );
}

#[tokio::test]
async fn body_fields_never_change_where_a_request_goes() {
    let openai = MockServer::openai().await;
    let elsewhere = MockServer::openai().await;
    let infermux = start(&openai).await;
    let body = chat(
        "gpt-4o-mini",
        json!({"api_base": elsewhere.base_url(), "base_url": elsewhere.base_url()}),
    );
    let reply = post_json(&infermux.url("/v1/chat/completions"), &[], body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(openai.request_count(), 1);
    assert_eq!(elsewhere.request_count(), 0);
}

#[tokio::test]
async fn header_names_go_out_in_title_case_as_the_guides_grep_for_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let openai = MockServer::openai().await;
    let infermux = start(&openai).await;
    let body = chat("gpt-4o-mini", json!({})).to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(infermux.proxy)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        head.contains("\r\nX-Infermux-Provider: openai\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Infermux-Model: gpt-4o-mini\r\n"),
        "{head}"
    );
}
