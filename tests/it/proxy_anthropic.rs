//! Anthropic's Messages API behind the OpenAI face, over loopback.

use crate::common;

use crate::common::{Infermux, chat, post_json};
use infermux_test_util::MockServer;
use serde_json::{Value, json};

async fn start(anthropic: &MockServer) -> Infermux {
    let yaml = format!(
        r#"
providers:
  - name: anthropic
    type: anthropic
    api_key: "${{ANTHROPIC_API_KEY}}"
    base_url: "{}"
    models: [claude-haiku-4-5]
    model_aliases: {{gpt-4o-mini: claude-haiku-4-5}}
"#,
        anthropic.base_url()
    );
    Infermux::start_with_env(&yaml, &[("ANTHROPIC_API_KEY", "sk-ant-test")]).await
}

#[tokio::test]
async fn chat_is_translated_both_ways() {
    let anthropic = MockServer::anthropic().await;
    let infermux = start(&anthropic).await;
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"}
        ],
        "stop": "END",
        "max_tokens": 50
    });
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("authorization", "Bearer client-key")],
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("anthropic"));
    assert_eq!(reply.header("x-infermux-model"), Some("claude-haiku-4-5"));
    let answer = reply.json();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let prompt_tokens = infermux_test_util::tokens::prompt_tokens(&["Be brief.", "hi"]);
    assert_eq!(answer["usage"]["prompt_tokens"], prompt_tokens);
    assert_eq!(answer["usage"]["completion_tokens"], 1);

    let sent = &anthropic.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert!(sent.header("anthropic-version").is_some());
    assert_eq!(
        sent.header("authorization"),
        None,
        "the client's credentials are not forwarded"
    );
    let upstream = sent.json();
    assert_eq!(upstream["model"], "claude-haiku-4-5");
    assert_eq!(upstream["system"], "Be brief.");
    assert_eq!(upstream["stop_sequences"], json!(["END"]));
    assert_eq!(upstream["max_tokens"], 50);
}

#[tokio::test]
async fn max_tokens_is_defaulted_when_absent() {
    let anthropic = MockServer::anthropic().await;
    let infermux = start(&anthropic).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        anthropic.requests()[0].json()["max_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
}

#[tokio::test]
async fn streams_are_translated_into_chunks() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_reply("one two three");
    let infermux = start(&anthropic).await;
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
    let chunks = reply.chunks();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop")
    );
    let usage = chunks
        .last()
        .map(|c| c["usage"].clone())
        .expect("usage chunk");
    assert_eq!(usage["completion_tokens"], 3);
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_tool_call("get_weather", r#"{"city":"Paris","unit":"c"}"#);
    let infermux = start(&anthropic).await;
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(
            "gpt-4o-mini",
            json!({"tools": tools, "tool_choice": "required"}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("arguments"))
            .expect("json");
    assert_eq!(arguments, json!({"city": "Paris", "unit": "c"}));
    let upstream = anthropic.requests()[0].json();
    assert_eq!(upstream["tools"][0]["name"], "get_weather");
    assert_eq!(upstream["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(upstream["tool_choice"], json!({"type": "any"}));

    // The client answers the call; the result goes back as a tool_result block.
    let call_id = call["id"].as_str().expect("id").to_owned();
    let follow_up = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"}
        ],
        "tools": tools
    });
    anthropic.set_reply("It is 18C.");
    let reply = post_json(&infermux.url("/v1/chat/completions"), &[], follow_up).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let upstream = anthropic.requests()[1].json();
    let blocks = &upstream["messages"][2]["content"];
    assert_eq!(upstream["messages"][2]["role"], "user");
    assert_eq!(blocks[0]["type"], "tool_result");
    assert_eq!(blocks[0]["tool_use_id"], call_id.as_str());
}

#[tokio::test]
async fn streamed_tool_arguments_arrive_as_tool_call_deltas() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_tool_call("lookup", r#"{"query":"rust tower layers"}"#);
    let infermux = start(&anthropic).await;
    let tools = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({"tools": tools, "stream": true})),
    )
    .await;
    let chunks = reply.chunks();
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).expect("json"),
        json!({"query": "rust tower layers"})
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
}

#[tokio::test]
async fn images_are_sent_as_image_blocks() {
    let anthropic = MockServer::anthropic().await;
    let infermux = start(&anthropic).await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]}]});
    let reply = post_json(&infermux.url("/v1/chat/completions"), &[], body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let block = &anthropic.requests()[0].json()["messages"][0]["content"][1];
    assert_eq!(block["type"], "image");
    assert_eq!(block["source"]["type"], "base64");
    assert_eq!(block["source"]["media_type"], "image/png");
}

#[tokio::test]
async fn cache_tokens_are_reported_in_usage() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_cache_usage(100, 20);
    let infermux = start(&anthropic).await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    let usage = &reply.json()["usage"];
    assert_eq!(usage["prompt_tokens"], 8 + 100 + 20);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 100);
}

#[tokio::test]
async fn embeddings_are_not_sent_to_anthropic() {
    let anthropic = MockServer::anthropic().await;
    let yaml = format!(
        "providers:\n  - {{name: anthropic, type: anthropic, api_key: k, base_url: \"{}\", models: [text-embedding-3-small]}}\n",
        anthropic.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let reply = post_json(
        &infermux.url("/v1/embeddings"),
        &[],
        json!({"model": "text-embedding-3-small", "input": "x"}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some("invalid_request"));
    assert_eq!(anthropic.request_count(), 0);
}

#[tokio::test]
async fn translated_answers_give_their_upstream_connection_back() {
    let anthropic = MockServer::anthropic().await;
    let infermux = start(&anthropic).await;
    common::chats_in_turn(&infermux, "claude-haiku-4-5").await;
    assert_eq!(anthropic.request_count(), 4);
    assert_eq!(anthropic.connection_count(), 1);
}
