//! The Ollama mock: NDJSON streaming by default, model list, embed, tags.

use infermux_test_util::MockServer;
use serde_json::{Value, json};

use crate::support::{client, get, json, ndjson, post, text};

fn hi(stream: Option<bool>) -> Value {
    let mut body =
        json!({ "model": "llama3.2", "messages": [{ "role": "user", "content": "hi" }] });
    if let Some(stream) = stream {
        body["stream"] = json!(stream);
    }
    body
}

fn chat_url(mock: &MockServer) -> String {
    format!("{}/api/chat", mock.base_url())
}

#[tokio::test]
async fn chat_streams_ndjson_by_default() {
    let mock = MockServer::ollama().await;
    mock.set_reply("Hello there");
    assert_eq!(mock.base_url(), format!("http://{}", mock.addr()));
    let (status, headers, body) = text(&client(), post(&chat_url(&mock), &[], &hi(None))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let lines = ndjson(&body);
    assert_eq!(lines.len(), 3, "two words then the final line");
    for line in &lines[..2] {
        assert_eq!(line["model"], "llama3.2");
        assert!(
            line["created_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z') && t.contains('T'))
        );
        assert_eq!(line["message"]["role"], "assistant");
        assert_eq!(line["done"], false);
        assert!(line.get("eval_count").is_none());
    }
    let content: String = lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello there");
    let last = &lines[2];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["prompt_eval_count"], 8);
    assert_eq!(last["eval_count"], 2);
    for field in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        assert!(last[field].as_u64().is_some_and(|ns| ns > 0), "{field}");
    }
}

#[tokio::test]
async fn chat_without_stream_is_one_object() {
    let mock = MockServer::ollama().await;
    let (status, headers, body) =
        json(&client(), post(&chat_url(&mock), &[], &hi(Some(false)))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(
        body["message"],
        json!({ "role": "assistant", "content": "Hello!" })
    );
    assert_eq!(body["done"], true);
    assert_eq!(body["done_reason"], "stop");
    assert_eq!(body["prompt_eval_count"], 8);
    assert_eq!(body["eval_count"], 1);
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn num_predict_cuts_with_length() {
    let mock = MockServer::ollama().await;
    mock.set_reply("one two three");
    let mut request = hi(Some(false));
    request["options"] = json!({ "num_predict": 1 });
    let (_, _, body) = json(&client(), post(&chat_url(&mock), &[], &request)).await;
    assert_eq!(body["message"]["content"], "one");
    assert_eq!(body["done_reason"], "length");
    assert_eq!(body["eval_count"], 1);
}

#[tokio::test]
async fn unknown_models_are_404_until_listed() {
    let mock = MockServer::ollama().await;
    let c = client();
    let mut request = hi(Some(false));
    request["model"] = json!("mistral");
    let (status, _, body) = json(&c, post(&chat_url(&mock), &[], &request)).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({ "error": "model \"mistral\" not found, try pulling it first" })
    );

    mock.set_models(&["mistral:latest"]);
    let (status, _, _) = json(&c, post(&chat_url(&mock), &[], &request)).await;
    assert_eq!(status, 200, "an untagged name resolves to :latest");

    let (status, _, body) = json(&c, post(&chat_url(&mock), &[], &json!({ "messages": [] }))).await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn tool_calls_carry_object_arguments() {
    let mock = MockServer::ollama().await;
    mock.set_tool_call("get_weather", r#"{"city":"Paris"}"#);
    let c = client();
    let (_, _, body) = json(&c, post(&chat_url(&mock), &[], &hi(Some(false)))).await;
    let call = &body["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], json!({ "city": "Paris" }));
    assert_eq!(body["message"]["content"], "");
    assert_eq!(body["done_reason"], "stop");

    let (_, _, body) = text(&c, post(&chat_url(&mock), &[], &hi(None))).await;
    let lines = ndjson(&body);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["done"], false);
    assert_eq!(
        lines[0]["message"]["tool_calls"][0]["function"]["arguments"],
        json!({ "city": "Paris" })
    );
    assert_eq!(lines[1]["done"], true);
}

#[tokio::test]
async fn embed_answers_one_vector_per_input() {
    let mock = MockServer::ollama().await;
    let request = json!({ "model": "nomic-embed-text", "input": ["hello world", "hi"] });
    let (status, _, body) = json(
        &client(),
        post(&format!("{}/api/embed", mock.base_url()), &[], &request),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "nomic-embed-text");
    let embeddings = body["embeddings"].as_array().expect("embeddings");
    assert_eq!(embeddings.len(), 2);
    assert!(
        embeddings
            .iter()
            .all(|e| e.as_array().map(Vec::len) == Some(8))
    );
    assert_eq!(body["prompt_eval_count"], 3);
    assert!(body["total_duration"].is_u64());
    assert!(body["load_duration"].is_u64());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn tags_lists_models_and_is_not_traffic() {
    let mock = MockServer::ollama().await;
    let (status, _, body) = json(
        &client(),
        get(&format!("{}/api/tags", mock.base_url()), &[]),
    )
    .await;
    assert_eq!(status, 200);
    let models = body["models"].as_array().expect("models");
    let names: Vec<&str> = models.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["llama3.2:latest", "nomic-embed-text:latest"]);
    for model in models {
        assert_eq!(model["model"], model["name"]);
        assert!(model["modified_at"].is_string());
        assert!(model["size"].is_u64());
        assert_eq!(model["digest"].as_str().map(str::len), Some(64));
        assert_eq!(model["details"]["format"], "gguf");
    }
    assert_eq!(mock.request_count(), 0);
    assert_eq!(mock.requests().len(), 1);
}
