//! `/v1/responses` over loopback against the mock providers: passthrough to `openai`
//! providers, the Responses shape re-encoded from every other provider type, stored state
//! refused where it cannot be served, broken streams, and the shared pipeline (cost headers,
//! the ledger, budgets, failover) behaving as for chat completions.

use std::time::Duration;

use crate::common::{Infermux, Reply, chat, event_names, get, post_json, sse_events};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

struct Mocks {
    openai: MockServer,
    anthropic: MockServer,
    ollama: MockServer,
}

async fn start_with(extra: &str) -> (Infermux, Mocks) {
    let mocks = Mocks {
        openai: MockServer::openai().await,
        anthropic: MockServer::anthropic().await,
        ollama: MockServer::ollama().await,
    };
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-provider-o, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: anthropic, type: anthropic, api_key: sk-provider-a, base_url: "{}", models: [claude-haiku-4-5]}}
  - {{name: ollama, type: ollama, base_url: "{}", models: [llama3.2]}}
  - {{name: mock, type: mock, models: [mock-chat]}}
{extra}
"#,
        mocks.openai.base_url(),
        mocks.anthropic.base_url(),
        mocks.ollama.base_url(),
    );
    (Infermux::start(&yaml).await, mocks)
}

async fn start() -> (Infermux, Mocks) {
    start_with("").await
}

const CLIENT_KEY: &str = "sk-client-key-never-forwarded";

async fn responses(infermux: &Infermux, headers: &[(&str, &str)], body: Value) -> Reply {
    let auth = format!("Bearer {CLIENT_KEY}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    post_json(&infermux.url("/v1/responses"), &all, body).await
}

fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "input": "hi", "stream": stream})
}

#[tokio::test]
async fn openai_providers_get_the_clients_bytes_and_answer_untouched() {
    let (infermux, mocks) = start().await;
    let sent = json!({
        "model": "gpt-4o-mini", "input": "hi", "store": false, "prompt_cache_key": "k",
        "client_metadata": {"x": "y"}, "include": ["reasoning.encrypted_content"],
    });
    let reply = responses(
        &infermux,
        &[("originator", "codex_exec"), ("x-codex-turn-metadata", "t")],
        sent.clone(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert!(reply.header("x-infermux-cost").is_some());
    let answer = reply.json();
    let id = answer["id"].as_str().unwrap_or("");
    assert!(
        id.starts_with("resp_mock"),
        "the provider's own answer: {answer}"
    );
    let request = &mocks.openai.requests()[0];
    assert_eq!(request.path, "/v1/responses");
    assert_eq!(request.json(), sent, "every field kept");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-provider-o")
    );
    assert_eq!(request.header("originator"), Some("codex_exec"));
    assert_eq!(request.header("x-codex-turn-metadata"), Some("t"));

    let reply = responses(&infermux, &[], body("gpt-4o-mini", true)).await;
    let seen = sse_events(&reply);
    assert_eq!(
        seen.last().map(|(n, _)| n.as_str()),
        Some("response.completed")
    );
    let id = seen[0].1["response"]["id"].as_str().unwrap_or("");
    assert!(
        id.starts_with("resp_mock"),
        "the provider's own events: {id}"
    );
}

#[tokio::test]
async fn translated_answers_are_response_objects() {
    let (infermux, mocks) = start().await;
    mocks
        .anthropic
        .set_tool_call("get_weather", r#"{"city":"Paris"}"#);
    for model in ["claude-haiku-4-5", "llama3.2", "mock-chat"] {
        let reply = responses(&infermux, &[], body(model, false)).await;
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
        let answer = reply.json();
        assert_eq!(answer["object"], "response", "{answer}");
        assert_eq!(answer["status"], "completed");
        assert!(
            answer["usage"]["input_tokens"].as_u64() > Some(0),
            "{answer}"
        );
        assert!(answer["usage"]["input_tokens_details"]["cached_tokens"].is_u64());
        assert!(answer["usage"]["output_tokens_details"]["reasoning_tokens"].is_u64());
        let first = &answer["output"][0];
        if model == "claude-haiku-4-5" {
            assert_eq!(first["type"], "function_call");
            assert_eq!(first["name"], "get_weather");
            assert_eq!(first["arguments"], r#"{"city":"Paris"}"#);
        } else {
            assert_eq!(first["type"], "message");
            assert!(
                first["content"][0]["text"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
        }
    }
    // Anthropic was sent a Messages request translated from the Responses body.
    let request = mocks.anthropic.requests()[0].json();
    assert_eq!(request["messages"][0]["content"][0]["text"], "hi");
    assert!(request["max_tokens"].as_u64().is_some());
}

#[tokio::test]
async fn translated_streams_are_the_responses_event_sequence() {
    let (infermux, mocks) = start().await;
    mocks.anthropic.set_cache_usage(3, 0);
    for model in ["claude-haiku-4-5", "llama3.2", "mock-chat"] {
        let reply = responses(&infermux, &[], body(model, true)).await;
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
        let seen = sse_events(&reply);
        let kinds = event_names(&seen);
        assert_eq!(
            kinds[..2],
            ["response.created", "response.in_progress"],
            "{kinds:?}"
        );
        for needed in [
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
        ] {
            assert!(
                kinds.contains(&needed),
                "{model}: {needed} missing in {kinds:?}"
            );
        }
        let (last, data) = seen.last().expect("events");
        assert_eq!(last, "response.completed", "{model}");
        let text: String = seen
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .filter_map(|(_, d)| d["delta"].as_str())
            .collect();
        assert_eq!(
            data["response"]["output"][0]["content"][0]["text"],
            text.as_str()
        );
        let usage = &data["response"]["usage"];
        assert!(
            usage["output_tokens"].as_u64() > Some(0),
            "{model}: {usage}"
        );
        if model == "claude-haiku-4-5" {
            assert_eq!(usage["input_tokens_details"]["cached_tokens"], 3);
        }
    }
}

#[tokio::test]
async fn tool_calls_stream_as_function_call_items() {
    let (infermux, mocks) = start().await;
    mocks
        .ollama
        .set_tool_call("get_weather", r#"{"city":"Paris"}"#);
    let mut request = body("llama3.2", true);
    request["tools"] = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let reply = responses(&infermux, &[], request).await;
    let seen = sse_events(&reply);
    let kinds = event_names(&seen);
    assert!(
        kinds.contains(&"response.function_call_arguments.delta"),
        "{kinds:?}"
    );
    let done = seen
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .expect("arguments done");
    assert_eq!(
        serde_json::from_str::<Value>(done.1["arguments"].as_str().unwrap_or("")).ok(),
        Some(json!({"city": "Paris"}))
    );
    let (last, data) = seen.last().expect("events");
    assert_eq!(last, "response.completed");
    assert_eq!(data["response"]["output"][0]["type"], "function_call");
    assert_eq!(data["response"]["output"][0]["name"], "get_weather");
    let sent = mocks.ollama.requests()[0].json();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_response_failed() {
    let (infermux, mocks) = start().await;
    for mock in [&mocks.ollama, &mocks.openai] {
        mock.set_reply("one two three four five six seven eight");
        mock.set_fault(Fault::CutStreamAfter(3));
    }
    for model in ["llama3.2", "gpt-4o-mini"] {
        let reply = responses(&infermux, &[], body(model, true)).await;
        let seen = sse_events(&reply);
        let kinds = event_names(&seen);
        assert_eq!(kinds.last(), Some(&"response.failed"), "{model}: {kinds:?}");
        assert!(!kinds.contains(&"response.completed"), "{model}: {kinds:?}");
        let (_, data) = seen.last().expect("events");
        assert!(data["response"]["error"]["message"].is_string(), "{data}");
    }
}

#[tokio::test]
async fn stored_state_needs_an_openai_provider() {
    let (infermux, mocks) = start().await;
    for (field, value, named) in [
        (
            "previous_response_id",
            json!("resp_1"),
            "previous_response_id",
        ),
        ("store", json!(true), "store: true"),
    ] {
        for model in ["claude-haiku-4-5", "llama3.2", "mock-chat"] {
            let mut request = body(model, false);
            request[field] = value.clone();
            let reply = responses(&infermux, &[], request).await;
            assert_eq!(reply.status, 400, "{model}: {}", reply.text());
            let message = reply.json()["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            assert!(message.contains(named), "{message}");
        }
        let mut request = body("gpt-4o-mini", false);
        request[field] = value.clone();
        let reply = responses(&infermux, &[], request).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert_eq!(mocks.anthropic.request_count(), 0);
    assert_eq!(mocks.ollama.request_count(), 0);
}

#[tokio::test]
async fn errors_are_openai_shaped() {
    let (infermux, mocks) = start().await;
    let reply = responses(&infermux, &[], json!({"model": "gpt-4o-mini"})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], "invalid_request");
    let reply = responses(&infermux, &[], body("no-such-model", false)).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["code"], "model_not_found");
    // A translated provider's 4xx keeps its status and message, in OpenAI's shape.
    let fault = mocks
        .anthropic
        .provider_error(400, "invalid_request_error", "prompt is too long");
    mocks.anthropic.set_fault(fault);
    let reply = responses(&infermux, &[], body("claude-haiku-4-5", false)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["message"], "prompt is too long");
}

#[tokio::test]
async fn cost_and_the_ledger_match_chat_completions() {
    let (infermux, _mocks) = start().await;
    let chat_reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    let chat_cost = chat_reply
        .header("x-infermux-cost")
        .expect("cost")
        .to_owned();
    let plain = responses(&infermux, &[], body("gpt-4o-mini", false)).await;
    assert_eq!(plain.header("x-infermux-cost"), Some(chat_cost.as_str()));
    let streamed = responses(&infermux, &[], body("gpt-4o-mini", true)).await;
    assert_eq!(
        event_names(&sse_events(&streamed)).last(),
        Some(&"response.completed")
    );
    // A stream is settled once it ends: wait (bounded) for the ledger to hold all three.
    let mut report = Value::Null;
    for _ in 0..200 {
        report = get(&infermux.management_url("/_infermux/costs"), &[])
            .await
            .json();
        if report["requests"].as_u64() >= Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(report["requests"], 3, "{report}");
    let one: f64 = chat_cost.parse().expect("a decimal");
    let total = report["total_usd"].as_f64().expect("total");
    assert!((total - 3.0 * one).abs() < 1e-12, "{total} vs 3 x {one}");
}

#[tokio::test]
async fn budgets_refuse_responses_as_chat() {
    let (infermux, mocks) = start_with(
        "budgets:\n  callers:\n    - {caller: \"tight\", monthly_usd: 0.000001, action: hard_stop}\n",
    )
    .await;
    let who = [("x-infermux-caller", "tight")];
    let first = responses(&infermux, &who, body("gpt-4o-mini", false)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let second = responses(&infermux, &who, body("gpt-4o-mini", false)).await;
    assert_eq!(second.status, 429, "{}", second.text());
    assert_eq!(second.header("x-infermux-error"), Some("budget_exceeded"));
    assert_eq!(second.json()["error"]["code"], "budget_exceeded");
    assert_eq!(
        mocks.openai.request_count(),
        1,
        "the refused request never left"
    );
}

#[tokio::test]
async fn a_failing_openai_provider_fails_over_to_a_translated_one() {
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    openai.set_fault(Fault::status(503));
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o-mini]}}
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", models: [gpt-4o-mini]}}
routing: {{strategy: priority}}
"#,
        openai.base_url(),
        anthropic.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    for stream in [false, true] {
        let reply = responses(&infermux, &[], body("gpt-4o-mini", stream)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("x-infermux-provider"), Some("anthropic"));
        if stream {
            assert_eq!(
                event_names(&sse_events(&reply)).last(),
                Some(&"response.completed")
            );
        } else {
            assert_eq!(reply.json()["object"], "response");
        }
    }
    assert_eq!(openai.requests()[0].path, "/v1/responses");
}

#[tokio::test]
async fn structured_output_and_reasoning_reach_each_target_natively() {
    let (infermux, mocks) = start().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}},
                        "required": ["city"], "additionalProperties": false});
    for model in ["claude-haiku-4-5", "llama3.2", "gpt-4o-mini"] {
        let mut request = body(model, false);
        request["text"] = json!({"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": true}});
        request["reasoning"] = json!({"effort": "high", "summary": "auto"});
        let reply = responses(&infermux, &[], request).await;
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
    }
    let anthropic = mocks.anthropic.requests()[0].json();
    let native = anthropic
        .get("output_format")
        .or_else(|| anthropic.pointer("/output_config/format"));
    let forced = anthropic.pointer("/tool_choice/type") == Some(&json!("tool"));
    assert!(
        native.is_some() || forced,
        "no structured output: {anthropic}"
    );
    assert!(
        anthropic.get("thinking").is_some(),
        "no thinking: {anthropic}"
    );
    let ollama = mocks.ollama.requests()[0].json();
    assert_eq!(ollama["format"], schema, "{ollama}");
    // The openai provider got the Responses fields themselves.
    let openai = mocks.openai.requests()[0].json();
    assert_eq!(openai["text"]["format"]["name"], "city");
    assert_eq!(openai["reasoning"]["summary"], "auto");
}
