//! The OpenAI mock: shapes, validation, streaming, tools, embeddings, models.

use infermux_test_util::MockServer;
use serde_json::{Value, json};

use crate::support::{client, get, json, post, sse, text};

const AUTH: (&str, &str) = ("authorization", "Bearer sk-test");

fn hi() -> Value {
    json!({ "model": "gpt-4o-mini", "messages": [{ "role": "user", "content": "hi" }] })
}

#[tokio::test]
async fn chat_answers_a_chat_completion() {
    let mock = MockServer::openai().await;
    assert_eq!(mock.base_url(), format!("http://{}/v1", mock.addr()));
    let url = format!("{}/chat/completions", mock.base_url());
    let (status, headers, body) = json(&client(), post(&url, &[AUTH], &hi())).await;

    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        body["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().is_some_and(|c| c > 1_700_000_000));
    assert_eq!(body["model"], "gpt-4o-mini");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello!");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({
            "prompt_tokens": 8,
            "completion_tokens": 1,
            "total_tokens": 9,
            "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    );

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].method, http::Method::POST);
    assert_eq!(recorded[0].path, "/v1/chat/completions");
    assert_eq!(recorded[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(recorded[0].json(), hi());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn usage_follows_the_documented_formula() {
    let mock = MockServer::openai().await;
    mock.set_reply("The sky is blue");
    mock.set_cache_usage(5, 0);
    let url = format!("{}/chat/completions", mock.base_url());
    let request = json!({
        "model": "gpt-4o",
        "messages": [
            { "role": "system", "content": "be brief" },
            { "role": "user", "content": [{ "type": "text", "text": "why is the sky blue" },
                                          { "type": "image_url", "image_url": { "url": "data:," } }] }
        ]
    });
    let (_, _, body) = json(&client(), post(&url, &[AUTH], &request)).await;
    assert_eq!(body["choices"][0]["message"]["content"], "The sky is blue");
    // 3 + (4 + 2) + (4 + 5) = 18 prompt tokens; 4 reply words.
    assert_eq!(body["usage"]["prompt_tokens"], 18);
    assert_eq!(body["usage"]["completion_tokens"], 4);
    assert_eq!(body["usage"]["total_tokens"], 22);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 5);
}

#[tokio::test]
async fn auth_and_validation_errors_use_the_openai_shape() {
    let mock = MockServer::openai().await;
    let url = format!("{}/chat/completions", mock.base_url());
    let c = client();

    let (status, _, body) = json(&c, post(&url, &[], &hi())).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert!(body["error"]["message"].is_string());

    let (status, _, body) = json(&c, post(&url, &[AUTH], &json!({ "messages": [] }))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let (status, _, body) = json(
        &c,
        post(&url, &[AUTH], &json!({ "model": "gpt-4o", "messages": [] })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages");

    let bad_role = json!({ "model": "gpt-4o", "messages": [{ "role": "robot", "content": "hi" }] });
    let (status, _, body) = json(&c, post(&url, &[AUTH], &bad_role)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages[0].role");

    let (status, _, body) = json(&c, get(&format!("{}/models", mock.base_url()), &[])).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");

    assert_eq!(
        mock.request_count(),
        4,
        "rejected requests still count as traffic"
    );
}

#[tokio::test]
async fn stream_sends_role_word_and_finish_chunks_then_done() {
    let mock = MockServer::openai().await;
    mock.set_reply("one two three");
    let url = format!("{}/chat/completions", mock.base_url());
    let mut request = hi();
    request["stream"] = json!(true);
    let (status, headers, body) = text(&client(), post(&url, &[AUTH], &request)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");

    let events = sse(&body);
    assert_eq!(events.len(), 1 + 3 + 1 + 1, "role, 3 words, finish, [DONE]");
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "gpt-4o-mini");
        assert_eq!(chunk["id"], chunks[0]["id"]);
        assert!(
            chunk.get("usage").is_none(),
            "no usage field without include_usage"
        );
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "one two three");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "one");
    assert_eq!(chunks[2]["choices"][0]["delta"]["content"], " two");
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert!(
        chunks[..4]
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
}

#[tokio::test]
async fn stream_usage_chunk_only_with_include_usage() {
    let mock = MockServer::openai().await;
    let url = format!("{}/chat/completions", mock.base_url());
    let mut request = hi();
    request["stream"] = json!(true);
    request["stream_options"] = json!({ "include_usage": true });
    let (_, _, body) = text(&client(), post(&url, &[AUTH], &request)).await;
    let events = sse(&body);
    assert_eq!(
        events.len(),
        1 + 1 + 1 + 1 + 1,
        "role, 1 word, finish, usage, [DONE]"
    );
    let usage = events[events.len() - 2].json();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 8);
    assert_eq!(usage["usage"]["completion_tokens"], 1);
    assert_eq!(usage["usage"]["total_tokens"], 9);
    for e in &events[..events.len() - 2] {
        assert!(
            e.json()["usage"].is_null(),
            "other chunks carry usage: null"
        );
        assert!(e.json().get("usage").is_some());
    }
}

#[tokio::test]
async fn tool_calls_replace_text_streamed_or_not() {
    let mock = MockServer::openai().await;
    mock.set_tool_call("get_weather", r#"{"city": "Paris"}"#);
    let url = format!("{}/chat/completions", mock.base_url());
    let c = client();

    let (_, _, body) = json(&c, post(&url, &[AUTH], &hi())).await;
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert!(
        call["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("call_"))
    );
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city": "Paris"}"#);
    assert_eq!(
        body["usage"]["completion_tokens"], 3,
        "1 name word + 2 argument words"
    );

    let mut request = hi();
    request["stream"] = json!(true);
    let (_, _, body) = text(&c, post(&url, &[AUTH], &request)).await;
    let events = sse(&body);
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["function"]["name"], "get_weather");
    let fragments: Vec<&str> = chunks[1..]
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert!(
        fragments.len() >= 2,
        "arguments arrive in several fragments: {fragments:?}"
    );
    assert_eq!(fragments.concat(), r#"{"city": "Paris"}"#);
    assert_eq!(
        chunks.last().expect("finish chunk")["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn max_tokens_cuts_the_reply_with_length() {
    let mock = MockServer::openai().await;
    mock.set_reply("one two three four");
    let url = format!("{}/chat/completions", mock.base_url());
    let mut request = hi();
    request["max_completion_tokens"] = json!(2);
    let (_, _, body) = json(&client(), post(&url, &[AUTH], &request)).await;
    assert_eq!(body["choices"][0]["message"]["content"], "one two");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn embeddings_are_deterministic() {
    let mock = MockServer::openai().await;
    let url = format!("{}/embeddings", mock.base_url());
    let request = json!({ "model": "text-embedding-3-small", "input": ["hello world", "hi"] });
    let c = client();
    let (status, _, body) = json(&c, post(&url, &[AUTH], &request)).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": 3, "total_tokens": 3 })
    );
    let data = body["data"].as_array().expect("data array");
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(item["embedding"].as_array().map(Vec::len), Some(8));
    }
    let (_, _, again) = json(&c, post(&url, &[AUTH], &request)).await;
    assert_eq!(again["data"], body["data"]);

    let (status, _, _) = json(
        &c,
        post(&url, &[AUTH], &json!({ "model": "text-embedding-3-small" })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn models_is_a_health_get_not_traffic() {
    let mock = MockServer::openai().await;
    mock.set_models(&["gpt-4o", "gpt-4o-mini"]);
    let (status, _, body) = json(
        &client(),
        get(&format!("{}/models", mock.base_url()), &[AUTH]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(body["data"][0]["object"], "model");
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn unknown_routes_are_404_and_not_counted() {
    let mock = MockServer::openai().await;
    let (status, _, body) = json(
        &client(),
        post(&format!("{}/completions", mock.base_url()), &[AUTH], &hi()),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/v1/completions"))
    );
    assert_eq!(mock.request_count(), 0);
    assert_eq!(mock.requests().len(), 1);
}
