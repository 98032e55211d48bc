//! `GET /v1/models/{id}`: one model object in OpenAI's shape for every name `GET /v1/models`
//! lists (configured models, alias targets, group members, virtual models); 404
//! `model_not_found` otherwise.

use crate::common::{Infermux, get};
use infermux_test_util::MockServer;

#[tokio::test]
async fn every_listed_model_can_be_retrieved_and_others_are_404() {
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    let yaml = format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o, gpt-4o-mini]}}
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", model_aliases: {{opus: claude-opus-4-5}}}}
routing:
  groups:
    - {{name: big, models: [gpt-4o, gpt-4.1], strategy: priority, providers: [openai]}}
"#,
        openai.base_url(),
        anthropic.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let listed = get(&infermux.url("/v1/models"), &[]).await.json();
    let names: Vec<String> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect();
    for name in ["gpt-4o", "opus", "gpt-4.1", "economy", "auto"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    for name in &names {
        let reply = get(&infermux.url(&format!("/v1/models/{name}")), &[]).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        let model = reply.json();
        assert_eq!(model["id"], name.as_str());
        assert_eq!(model["object"], "model");
        assert!(model["owned_by"].is_string() && model["created"].is_u64());
    }
    let reply = get(&infermux.url("/v1/models/no-such-model"), &[]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("x-infermux-error"), Some("model_not_found"));
    assert_eq!(reply.json()["error"]["code"], "model_not_found");
    assert!(reply.header("x-infermux-request-id").is_some());
}
