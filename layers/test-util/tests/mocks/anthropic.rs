//! The Anthropic mock: headers, validation, message shape, the streaming event sequence.

use infermux_test_util::MockServer;
use serde_json::{Value, json};

use crate::support::{client, get, json, post, sse, text};

const KEY: (&str, &str) = ("x-api-key", "sk-ant-test");
const VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");

fn hi() -> Value {
    json!({ "model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{ "role": "user", "content": "hi" }] })
}

fn url(mock: &MockServer) -> String {
    format!("{}/v1/messages", mock.base_url())
}

#[tokio::test]
async fn messages_answers_a_message() {
    let mock = MockServer::anthropic().await;
    assert_eq!(mock.base_url(), format!("http://{}", mock.addr()));
    let (status, headers, body) = json(&client(), post(&url(&mock), &[KEY, VERSION], &hi())).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("request-id"));
    assert!(body["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(
        body["content"],
        json!([{ "type": "text", "text": "Hello!" }])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["stop_sequence"].is_null());
    assert_eq!(body["usage"]["input_tokens"], 8);
    assert_eq!(body["usage"]["output_tokens"], 1);
    assert_eq!(body["usage"]["cache_creation_input_tokens"], 0);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 0);
    assert_eq!(mock.requests()[0].header("x-api-key"), Some("sk-ant-test"));
}

#[tokio::test]
async fn system_counts_and_cache_usage_is_settable() {
    let mock = MockServer::anthropic().await;
    mock.set_cache_usage(100, 20);
    let mut request = hi();
    request["system"] = json!([{ "type": "text", "text": "be brief" }]);
    request["messages"] = json!([
        { "role": "user", "content": "hi" },
        { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1", "name": "f", "input": {} }] },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny and warm" }] }
    ]);
    let (status, _, body) = json(&client(), post(&url(&mock), &[KEY, VERSION], &request)).await;
    assert_eq!(status, 200, "{body}");
    // 3 + system (4 + 2) + (4 + 1) + (4 + 1: no text) + (4 + 3) = 26
    assert_eq!(body["usage"]["input_tokens"], 26);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 100);
    assert_eq!(body["usage"]["cache_creation_input_tokens"], 20);
}

#[tokio::test]
async fn headers_are_required() {
    let mock = MockServer::anthropic().await;
    let c = client();
    let (status, _, body) = json(&c, post(&url(&mock), &[VERSION], &hi())).await;
    assert_eq!(status, 401);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert!(body["error"]["message"].is_string());

    let (status, _, body) = json(&c, post(&url(&mock), &[KEY], &hi())).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let (status, _, _) = json(&c, get(&format!("{}/v1/models", mock.base_url()), &[])).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn invalid_conversations_are_refused() {
    let mock = MockServer::anthropic().await;
    let c = client();
    let cases = [
        json!({ "model": "claude-haiku-4-5", "messages": [{ "role": "user", "content": "hi" }] }),
        json!({ "max_tokens": 10, "messages": [{ "role": "user", "content": "hi" }] }),
        json!({ "model": "claude-haiku-4-5", "max_tokens": 10 }),
        json!({ "model": "claude-haiku-4-5", "max_tokens": 10, "messages": [] }),
        json!({ "model": "claude-haiku-4-5", "max_tokens": 10, "messages": [
            { "role": "system", "content": "be brief" }, { "role": "user", "content": "hi" }] }),
        json!({ "model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{ "role": "assistant", "content": "hi" }] }),
        json!({ "model": "claude-haiku-4-5", "max_tokens": 10, "messages": [
            { "role": "user", "content": "hi" }, { "role": "user", "content": "again" }] }),
    ];
    for case in &cases {
        let (status, _, body) = json(&c, post(&url(&mock), &[KEY, VERSION], case)).await;
        assert_eq!(status, 400, "{case}");
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{case}");
    }
    assert_eq!(mock.request_count(), cases.len());
}

#[tokio::test]
async fn max_tokens_below_the_reply_stops_with_max_tokens() {
    let mock = MockServer::anthropic().await;
    mock.set_reply("one two three");
    let mut request = hi();
    request["max_tokens"] = json!(2);
    let (_, _, body) = json(&client(), post(&url(&mock), &[KEY, VERSION], &request)).await;
    assert_eq!(body["stop_reason"], "max_tokens");
    assert_eq!(body["content"][0]["text"], "one two");
    assert_eq!(body["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn stream_follows_the_real_event_sequence() {
    let mock = MockServer::anthropic().await;
    mock.set_reply("Hello there");
    let mut request = hi();
    request["stream"] = json!(true);
    let (status, headers, body) =
        text(&client(), post(&url(&mock), &[KEY, VERSION], &request)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = sse(&body);
    let names: Vec<&str> = events.iter().filter_map(|e| e.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for event in &events {
        assert_eq!(
            event.json()["type"].as_str(),
            event.name.as_deref(),
            "data.type matches event:"
        );
    }
    let start = events[0].json();
    assert_eq!(start["message"]["model"], "claude-haiku-4-5");
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["input_tokens"], 8);
    assert_eq!(
        events[1].json()["content_block"],
        json!({ "type": "text", "text": "" })
    );
    let text: String = events[3..5]
        .iter()
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(text, "Hello there");
    let delta = events[6].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn tool_use_streams_partial_json() {
    let mock = MockServer::anthropic().await;
    mock.set_tool_call("get_weather", r#"{"city":"Paris","unit":"c"}"#);
    let c = client();

    let (_, _, body) = json(&c, post(&url(&mock), &[KEY, VERSION], &hi())).await;
    assert_eq!(body["stop_reason"], "tool_use");
    let block = &body["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(
        block["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("toolu_"))
    );
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({ "city": "Paris", "unit": "c" }));

    let mut request = hi();
    request["stream"] = json!(true);
    let (_, _, body) = text(&c, post(&url(&mock), &[KEY, VERSION], &request)).await;
    let events = sse(&body);
    let start = events
        .iter()
        .find(|e| e.name.as_deref() == Some("content_block_start"))
        .expect("block start");
    assert_eq!(start.json()["content_block"]["type"], "tool_use");
    assert_eq!(start.json()["content_block"]["input"], json!({}));
    let fragments: Vec<String> = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"]
                .as_str()
                .expect("partial_json")
                .to_owned()
        })
        .collect();
    assert!(fragments.len() >= 2);
    assert_eq!(fragments.concat(), r#"{"city":"Paris","unit":"c"}"#);
    let delta = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .expect("message_delta");
    assert_eq!(delta.json()["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn models_lists_models_and_is_not_traffic() {
    let mock = MockServer::anthropic().await;
    let (status, _, body) = json(
        &client(),
        get(&format!("{}/v1/models", mock.base_url()), &[KEY, VERSION]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["type"], "model");
    assert!(body["data"].as_array().is_some_and(|d| !d.is_empty()));
    assert_eq!(body["has_more"], false);
    assert_eq!(mock.request_count(), 0);
    assert_eq!(mock.requests().len(), 1);
}
