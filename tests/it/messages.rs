//! `/v1/messages` and `/v1/messages/count_tokens` over loopback against the mock providers:
//! passthrough to Anthropic, re-encoded answers from OpenAI, Ollama and the built-in mock,
//! errors in Anthropic's shape.

use crate::common;

use crate::common::{Infermux, Reply, event_names, post_json, sse_events};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

struct Mocks {
    anthropic: MockServer,
    openai: MockServer,
    ollama: MockServer,
}

async fn start() -> (Infermux, Mocks) {
    let mocks = Mocks {
        anthropic: MockServer::anthropic().await,
        openai: MockServer::openai().await,
        ollama: MockServer::ollama().await,
    };
    let yaml = format!(
        r#"
providers:
  - {{name: anthropic, type: anthropic, api_key: sk-provider-a, base_url: "{}", models: [claude-opus-5-5, claude-sonnet-4-5]}}
  - {{name: openai, type: openai, api_key: sk-provider-o, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: ollama, type: ollama, base_url: "{}", models: [llama3.2]}}
  - {{name: mock, type: mock, models: [mock-chat]}}
routing: {{strategy: priority}}
pricing:
  - {{provider: anthropic, model: claude-opus-5-5, input: 5.0, output: 25.0, cached_input: 0.5}}
"#,
        mocks.anthropic.base_url(),
        mocks.openai.base_url(),
        mocks.ollama.base_url(),
    );
    (Infermux::start(&yaml).await, mocks)
}

const CLIENT_KEY: &str = "sk-ant-client-key-never-forwarded";

async fn messages(infermux: &Infermux, body: Value) -> Reply {
    post_json(
        &infermux.url("/v1/messages?beta=true"),
        &[
            ("x-api-key", CLIENT_KEY),
            ("anthropic-version", "2023-06-01"),
            (
                "anthropic-beta",
                "claude-code-20250219,interleaved-thinking-2025-05-14",
            ),
        ],
        body,
    )
    .await
}

fn body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "{\"session\":\"s\"}"},
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": []},
        "tools": [
            {"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "Hidden", "description": "never call", "input_schema": {"type": "object"}, "defer_loading": true}
        ],
        "messages": [{"role": "user", "content": "hi"}]
    })
}

#[tokio::test]
async fn anthropic_providers_get_the_clients_bytes_and_answer_untouched() {
    let (infermux, mocks) = start().await;
    let sent = body("claude-opus-5-5", false);
    let reply = messages(&infermux, sent.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("anthropic"));
    assert!(reply.header("x-infermux-cost").is_some());
    let answer = reply.json();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["text"], "Hello!");

    let upstream = &mocks.anthropic.requests()[0];
    assert_eq!(upstream.path, "/v1/messages");
    assert_eq!(
        upstream.json(),
        sent,
        "the body is forwarded as the client sent it"
    );
    assert_eq!(upstream.header("x-api-key"), Some("sk-provider-a"));
    assert_eq!(upstream.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        upstream.header("anthropic-beta"),
        Some("claude-code-20250219,interleaved-thinking-2025-05-14")
    );

    // Streamed: the provider's events, byte for byte, and the usage learnt from them.
    let reply = messages(&infermux, body("claude-opus-5-5", true)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = sse_events(&reply);
    assert_eq!(event_names(&seen).first(), Some(&"message_start"));
    assert_eq!(event_names(&seen).last(), Some(&"message_stop"));
    assert!(
        event_names(&seen).contains(&"ping"),
        "provider events pass as they are"
    );
}

#[tokio::test]
async fn aliased_models_are_replaced_in_the_forwarded_body() {
    let anthropic = MockServer::anthropic().await;
    let yaml = format!(
        r#"
providers:
  - {{name: anthropic, type: anthropic, api_key: k, base_url: "{}", models: [claude-opus-5-5], model_aliases: {{claude-opus-5-5: claude-opus-4-5}}}}
"#,
        anthropic.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let reply = messages(&infermux, body("claude-opus-5-5", false)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-model"), Some("claude-opus-4-5"));
    let upstream = anthropic.requests()[0].json();
    assert_eq!(upstream["model"], "claude-opus-4-5");
    assert_eq!(upstream["metadata"], body("x", false)["metadata"]);
}

#[tokio::test]
async fn openai_answers_come_back_as_messages() {
    let (infermux, mocks) = start().await;
    mocks
        .openai
        .set_tool_call("get_weather", r#"{"city":"Paris"}"#);
    let reply = messages(&infermux, body("gpt-4o-mini", false)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    let answer = reply.json();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["stop_reason"], "tool_use");
    let call = &answer["content"][0];
    assert_eq!(call["type"], "tool_use");
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["input"], json!({"city": "Paris"}));
    assert!(answer["usage"]["input_tokens"].as_u64() > Some(0));

    let upstream = mocks.openai.requests()[0].json();
    assert_eq!(upstream["model"], "gpt-4o-mini");
    assert_eq!(
        upstream["max_tokens"], 16384,
        "clamped to gpt-4o-mini's maximum"
    );
    assert_eq!(upstream["messages"][0]["role"], "system");
    assert_eq!(
        upstream["tools"].as_array().map(Vec::len),
        Some(1),
        "deferred tool left out"
    );
    for field in [
        "metadata",
        "thinking",
        "context_management",
        "reasoning_effort",
    ] {
        assert!(upstream.get(field).is_none(), "{field} reached OpenAI");
    }
    assert_ne!(
        mocks.openai.requests()[0].header("authorization"),
        Some(format!("Bearer {CLIENT_KEY}").as_str())
    );
}

#[tokio::test]
async fn translated_streams_are_the_anthropic_event_sequence() {
    let (infermux, mocks) = start().await;
    for model in ["gpt-4o-mini", "llama3.2", "mock-chat"] {
        let reply = messages(&infermux, body(model, true)).await;
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
        let seen = sse_events(&reply);
        assert_eq!(
            event_names(&seen)[..2],
            ["message_start", "content_block_start"],
            "{model}"
        );
        let n = seen.len();
        assert_eq!(
            event_names(&seen)[n - 3..],
            ["content_block_stop", "message_delta", "message_stop"],
            "{model}"
        );
        let text: String = seen
            .iter()
            .filter_map(|(_, d)| d["delta"]["text"].as_str())
            .collect();
        assert!(!text.is_empty(), "{model}");
        assert_eq!(seen[n - 2].1["delta"]["stop_reason"], "end_turn", "{model}");
        assert!(
            seen[n - 2].1["usage"]["output_tokens"].as_u64() > Some(0),
            "{model}"
        );
    }
    // A tool call streams as a tool_use block with input_json_delta fragments.
    mocks
        .ollama
        .set_tool_call("get_weather", r#"{"city":"Oslo"}"#);
    let reply = messages(&infermux, body("llama3.2", true)).await;
    let seen = sse_events(&reply);
    let start = seen
        .iter()
        .find(|(n, _)| n == "content_block_start")
        .expect("a block");
    assert_eq!(start.1["content_block"]["type"], "tool_use");
    let json: String = seen
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).ok(),
        Some(json!({"city": "Oslo"}))
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let (infermux, mocks) = start().await;
    mocks.openai.set_fault(Fault::CutStreamAfter(3));
    let reply = messages(&infermux, body("gpt-4o-mini", true)).await;
    assert_eq!(reply.status, 200);
    let seen = sse_events(&reply);
    assert_eq!(event_names(&seen).last(), Some(&"error"), "{seen:?}");
    assert!(!event_names(&seen).contains(&"message_stop"));
    assert_eq!(
        seen.last().map(|(_, d)| d["type"].clone()),
        Some(json!("error"))
    );

    mocks.anthropic.set_fault(Fault::CutStreamAfter(3));
    let reply = messages(&infermux, body("claude-opus-5-5", true)).await;
    let seen = sse_events(&reply);
    assert_eq!(event_names(&seen).last(), Some(&"error"), "{seen:?}");
    assert!(!event_names(&seen).contains(&"message_stop"));
}

#[tokio::test]
async fn errors_are_anthropic_shaped() {
    let (infermux, mocks) = start().await;
    let reply = messages(&infermux, body("no-such-model", false)).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("x-infermux-error"), Some("model_not_found"));
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(reply.json()["error"]["type"], "not_found_error");

    let reply = messages(&infermux, json!({"model": "gpt-4o-mini", "messages": []})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("x-infermux-error"), Some("invalid_request"));
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    assert_eq!(
        reply.json()["error"]["message"],
        "max_tokens: Field required"
    );

    // A provider's own 4xx keeps its status and message, in the client's shape.
    mocks.ollama.set_models(&["other"]);
    let reply = messages(&infermux, body("llama3.2", false)).await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.json()["type"], "error");
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("llama3.2")),
        "{}",
        reply.text()
    );

    // Every provider failing: 502 in Anthropic's shape.
    mocks.openai.set_fault(Fault::status(500));
    let reply = messages(&infermux, body("gpt-4o-mini", false)).await;
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply.header("x-infermux-error"),
        Some("all_providers_failed")
    );
    assert_eq!(reply.json()["error"]["type"], "api_error");
}

#[tokio::test]
async fn count_tokens_asks_anthropic_or_counts_locally() {
    let (infermux, mocks) = start().await;
    let count = |model: &str| json!({"model": model, "system": "Be brief.", "messages": [{"role": "user", "content": "hi there"}]});
    let url = infermux.url("/v1/messages/count_tokens");
    let headers = [
        ("x-api-key", CLIENT_KEY),
        ("anthropic-version", "2023-06-01"),
    ];
    let reply = post_json(&url, &headers, count("claude-opus-5-5")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let asked = mocks.anthropic.requests();
    assert_eq!(asked[0].path, "/v1/messages/count_tokens");
    assert_eq!(asked[0].json(), count("claude-opus-5-5"));
    assert!(reply.json()["input_tokens"].as_u64() > Some(0));
    assert_eq!(reply.header("x-infermux-cost"), Some("0"));

    let reply = post_json(&url, &headers, count("gpt-4o-mini")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["input_tokens"].as_u64() > Some(0));
    assert_eq!(mocks.openai.request_count(), 0, "counted locally");
}

#[tokio::test]
async fn chat_clients_get_the_translation_fixes_on_anthropic_and_ollama() {
    let (infermux, mocks) = start().await;
    let url = infermux.url("/v1/chat/completions");
    // Native structured output, a rewritten tool-call id and image media type: the strict mock
    // refuses the request if any of them reaches it unfixed.
    let reply = post_json(
        &url,
        &[],
        json!({
            "model": "claude-sonnet-4-5",
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAAA"}}]},
                {"role": "assistant", "tool_calls": [{"id": "functions.get_weather:0", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "sunny"}
            ]
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let upstream = &mocks.anthropic.requests()[0];
    assert_eq!(
        upstream.header("anthropic-beta"),
        Some("structured-outputs-2025-11-13")
    );
    let body = upstream.json();
    assert_eq!(body["output_format"]["type"], "json_schema");
    assert_eq!(
        body["max_tokens"], 64000,
        "the model's maximum when the client set none"
    );
    assert_eq!(
        body["messages"][1]["content"][0]["id"],
        "functions_get_weather_0"
    );

    // Ollama's own error reaches an OpenAI client with its message in OpenAI's shape.
    mocks.ollama.set_models(&["other"]);
    let reply = post_json(&url, &[], common::chat("llama3.2", json!({}))).await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    let message = reply.json()["error"]["message"].as_str().map(str::to_owned);
    assert!(
        message.is_some_and(|m| m.contains("llama3.2")),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn a_server_refusing_the_added_stream_options_gets_the_request_as_sent() {
    let (infermux, mocks) = start().await;
    // An older OpenAI-compatible server: it refuses the field infermux adds on its own.
    mocks.openai.set_faults(vec![Fault::Status {
        status: 400,
        body: r#"{"error":{"message":"Unrecognized request argument supplied: stream_options","type":"invalid_request_error"}}"#.to_owned(),
        retry_after: None,
    }]);
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        common::chat("gpt-4o-mini", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(!reply.streamed_text().is_empty());
    let requests = mocks.openai.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].json()["stream_options"]["include_usage"], true);
    assert!(requests[1].json().get("stream_options").is_none());
}

#[tokio::test]
async fn legacy_functions_reach_anthropic_as_tools() {
    let (infermux, mocks) = start().await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        json!({
            "model": "claude-sonnet-4-5",
            "functions": [{"name": "get_weather", "parameters": {"type": "object", "properties": {}}}],
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{}"}},
                {"role": "function", "name": "get_weather", "content": "sunny"}
            ]
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = mocks.anthropic.requests()[0].json();
    assert_eq!(body["tools"][0]["name"], "get_weather");
    assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(
        body["messages"][2]["content"][0]["tool_use_id"],
        body["messages"][1]["content"][0]["id"]
    );
}

#[tokio::test]
async fn ollama_answers_logprobs_in_openai_shape() {
    let (infermux, mocks) = start().await;
    let url = infermux.url("/v1/chat/completions");
    let reply = post_json(
        &url,
        &[],
        common::chat("llama3.2", json!({"logprobs": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(mocks.ollama.requests()[0].json()["logprobs"], true);
    let tokens = reply.json()["choices"][0]["logprobs"]["content"].clone();
    let text: String = tokens
        .as_array()
        .expect("logprobs.content")
        .iter()
        .filter_map(|t| t["token"].as_str())
        .collect();
    assert_eq!(text, reply.json()["choices"][0]["message"]["content"]);

    let reply = post_json(
        &url,
        &[],
        common::chat("llama3.2", json!({"logprobs": true, "stream": true})),
    )
    .await;
    let with_logprobs = reply
        .chunks()
        .iter()
        .filter(|c| c["choices"][0]["logprobs"]["content"].is_array())
        .count();
    assert!(with_logprobs > 0, "{}", reply.text());
}

#[tokio::test]
async fn an_anthropic_4xx_reaches_a_chat_client_in_openai_shape() {
    let (infermux, mocks) = start().await;
    mocks.anthropic.set_fault(mocks.anthropic.provider_error(
        400,
        "invalid_request_error",
        "prompt is too long",
    ));
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        common::chat("claude-sonnet-4-5", json!({})),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["error"]["message"], "prompt is too long");
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    // The same error to a Messages client comes in Anthropic's shape, as Anthropic sent it.
    mocks.anthropic.set_fault(mocks.anthropic.provider_error(
        400,
        "invalid_request_error",
        "prompt is too long",
    ));
    let reply = messages(&infermux, body("claude-sonnet-4-5", false)).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["type"], "error");
    assert_eq!(reply.json()["error"]["message"], "prompt is too long");
}

#[tokio::test]
async fn whole_streams_are_charged_as_reported_and_a_cut_one_as_waste() {
    let (infermux, mocks) = start().await;
    // Passthrough (Anthropic's own `message_stop`) and translated (re-encoded from OpenAI
    // chunks): neither stream has `data: [DONE]`, and both are whole.
    for model in ["claude-opus-5-5", "gpt-4o-mini"] {
        let reply = messages(&infermux, body(model, true)).await;
        assert_eq!(
            event_names(&sse_events(&reply)).last(),
            Some(&"message_stop"),
            "{model}"
        );
    }
    let waste = common::get(&infermux.management_url("/_infermux/costs/waste"), &[]).await;
    assert_eq!(waste.json()["requests"], 0, "{}", waste.text());
    let rows = common::get(&infermux.management_url("/_infermux/requests"), &[]).await;
    let rows = rows.json()["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["protocol"], "messages", "{row}");
        assert_eq!(row["usage"], "reported", "{row}");
        assert!(row["cost_usd"].as_f64() > Some(0.0), "{row}");
    }

    // A stream the provider cuts is charged what it generated, and shown as waste.
    mocks.anthropic.set_fault(Fault::CutStreamAfter(3));
    let reply = messages(&infermux, body("claude-opus-5-5", true)).await;
    assert_eq!(event_names(&sse_events(&reply)).last(), Some(&"error"));
    let waste = common::get(&infermux.management_url("/_infermux/costs/waste"), &[]).await;
    let waste = waste.json();
    assert_eq!(waste["requests"], 1, "{waste}");
    assert_eq!(
        waste["by_provider"]["anthropic"]["by_reason"]["stream_interrupted"]["requests"], 1,
        "{waste}"
    );
    assert!(waste["total_usd"].as_f64() > Some(0.0), "{waste}");
}

#[tokio::test]
async fn passed_through_answers_give_their_upstream_connection_back() {
    let (infermux, mocks) = start().await;
    for stream in [false, true, true, false] {
        let reply = messages(&infermux, body("claude-sonnet-4-5", stream)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert_eq!(mocks.anthropic.request_count(), 4);
    assert_eq!(mocks.anthropic.connection_count(), 1);
}
