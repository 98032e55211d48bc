//! A stream still running when the drain times out is cut, and its spend (the prompt and the
//! output generated so far) is in the state file once `serve` has stopped.

use std::time::{Duration, SystemTime};

use crate::common::Infermux;
use http_body_util::BodyExt;
use infermux::core::{Month, SpendStore};
use infermux_budget::FileStore;
use infermux_test_util::{Fault, MockServer};

#[tokio::test]
async fn a_stream_cut_by_the_drain_timeout_is_charged_in_the_state_file() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("spend.json");
    let openai = MockServer::openai().await;
    openai.set_reply("one two three four five six seven eight nine ten");
    // Slow enough that the stream is still running when the drain times out.
    openai.set_fault(Fault::ChunkInterval(Duration::from_millis(300)));
    let infermux = Infermux::start(&format!(
        "drain_timeout: 100ms\nbudgets:\n  state_file: \"{}\"\nproviders:\n  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini]}}\n",
        state.display(),
        openai.base_url()
    ))
    .await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let body = serde_json::json!({
        "model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]
    });
    let request = http::Request::post(infermux.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("request");
    let response = client.request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    // Read until the first generated text has arrived: the stream is under way.
    loop {
        let frame = body.frame().await.expect("a frame").expect("data");
        let data = frame.into_data().unwrap_or_default();
        if String::from_utf8_lossy(&data).contains("\"content\":\"one") {
            break;
        }
    }
    // Shut down while the client keeps the stream open: the drain times out and cuts it.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
    infermux.stop().await;
    reader.abort();
    let store = FileStore::open(&state).expect("the state file");
    let summary = store
        .summary(Month::of(SystemTime::now()))
        .await
        .expect("summary");
    assert_eq!(summary.requests, 1, "the cut stream is in the ledger");
    let caller = summary.callers[&"anonymous".into()];
    assert_eq!(caller.prompt_tokens, 8);
    assert!(caller.completion_tokens >= 1, "{caller:?}");
    assert!(summary.total.picos() > 0);
}
