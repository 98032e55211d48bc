//! Cost accounting through the whole proxy: every usage shape priced against hand-computed
//! figures, streams (complete, with and without the usage chunk, aborted), failover, unpriced
//! models, and reports that add up.

use std::time::Duration;

use crate::common::{Infermux, chat, get, post_json};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use infermux_test_util::{Fault, MockServer};
use serde_json::{Value, json};

fn openai_provider(name: &str, mock: &MockServer, models: &str) -> String {
    format!(
        "  - {{name: {name}, type: openai, api_key: sk-test, base_url: \"{}\", models: [{models}]}}\n",
        mock.base_url()
    )
}

async fn costs(infermux: &Infermux, path: &str) -> Value {
    get(&infermux.management_url(path), &[]).await.json()
}

/// Waits (bounded) until the ledger holds `n` requests: settling a dropped stream happens
/// after the client has gone.
async fn wait_for_ledger(infermux: &Infermux, n: u64) -> Value {
    for _ in 0..200 {
        let report = costs(infermux, "/_infermux/costs").await;
        if report["requests"].as_u64() >= Some(n) {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the ledger never held {n} requests");
}

#[tokio::test]
async fn cached_input_reads_are_priced_at_the_cached_price_once() {
    let openai = MockServer::openai().await;
    openai.set_cache_usage(6, 0);
    let infermux = Infermux::start(&format!(
        "providers:\n{}",
        openai_provider("openai", &openai, "gpt-4o-mini")
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    // 2 uncached × $0.15/M + 6 cached × $0.075/M + 1 output × $0.60/M = $0.00000135
    assert_eq!(reply.header("x-infermux-cost"), Some("0.00000135"));
    let callers = costs(&infermux, "/_infermux/costs/by-caller").await;
    assert_eq!(callers["callers"][0]["caller"], "anonymous");
    assert_eq!(callers["callers"][0]["cached_prompt_tokens"], 6);
    assert!(callers["callers"][0].get("budget_usd").is_none());
}

#[tokio::test]
async fn anthropic_cache_reads_and_writes_have_their_own_prices() {
    let anthropic = MockServer::anthropic().await;
    anthropic.set_cache_usage(100, 50);
    let infermux = Infermux::start(&format!(
        "providers:\n  - {{name: anthropic, type: anthropic, api_key: sk-ant, base_url: \"{}\", models: [claude-haiku-3-5]}}\n",
        anthropic.base_url()
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("claude-haiku-3-5", json!({"max_tokens": 16})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // 8 × $0.80/M + 100 read × $0.08/M + 50 written × $1.00/M + 1 × $4/M = $0.0000684
    assert_eq!(reply.header("x-infermux-cost"), Some("0.0000684"));
}

#[tokio::test]
async fn embeddings_cost_their_input_tokens() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "providers:\n{}",
        openai_provider("openai", &openai, "text-embedding-3-small")
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/embeddings"),
        &[],
        json!({"model": "text-embedding-3-small", "input": "hello world"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // 2 tokens × $0.02/M
    assert_eq!(reply.header("x-infermux-cost"), Some("0.00000004"));
    let by_model = costs(&infermux, "/_infermux/costs/by-model").await;
    assert_eq!(by_model["by_model"]["text-embedding-3-small"], 0.00000004);
}

#[tokio::test]
async fn a_stream_is_charged_its_reported_usage_without_showing_the_usage_chunk() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "providers:\n{}",
        openai_provider("openai", &openai, "gpt-4o-mini")
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200);
    // The header is the estimate at send time: 8 prompt tokens × $0.15/M.
    assert_eq!(reply.header("x-infermux-cost"), Some("0.0000012"));
    assert!(
        reply
            .chunks()
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null))
    );
    // The stream's last frame is sent once its cost is recorded.
    let report = costs(&infermux, "/_infermux/costs").await;
    assert_eq!(report["total_usd"], 0.0000018);
    assert_eq!(report["requests"], 1);
}

#[tokio::test]
async fn a_stream_that_asked_for_usage_gets_the_exact_cost_in_its_usage_chunk() {
    let openai = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "providers:\n{}",
        openai_provider("openai", &openai, "gpt-4o-mini")
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat(
            "gpt-4o-mini",
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ),
    )
    .await;
    let chunks = reply.chunks();
    let usage = &chunks.last().expect("a usage chunk")["usage"];
    assert_eq!(usage["prompt_tokens"], 8);
    assert_eq!(usage["cost"], 0.0000018);
}

#[tokio::test]
async fn a_stream_the_client_drops_is_charged_for_what_was_streamed() {
    let openai = MockServer::openai().await;
    openai.set_reply("one two three four five six seven eight nine ten");
    openai.set_fault(Fault::ChunkInterval(Duration::from_millis(200)));
    let infermux = Infermux::start(&format!(
        "providers:\n{}",
        openai_provider("openai", &openai, "gpt-4o-mini")
    ))
    .await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let body = chat("gpt-4o-mini", json!({"stream": true})).to_string();
    let request = http::Request::post(infermux.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("x-infermux-caller", "reader")
        .body(Full::from(body))
        .expect("request");
    let response = client.request(request).await.expect("response");
    let mut body = response.into_body();
    let mut seen = String::new();
    while !seen.contains("two") {
        let frame = body.frame().await.expect("a frame").expect("no error");
        if let Some(data) = frame.data_ref() {
            seen.push_str(&String::from_utf8_lossy(data));
        }
    }
    drop(body);
    drop(client);
    let report = wait_for_ledger(&infermux, 1).await;
    let callers = costs(&infermux, "/_infermux/costs/by-caller").await;
    let row = &callers["callers"][0];
    assert_eq!(row["caller"], "reader");
    assert_eq!(row["prompt_tokens"], 8, "the prompt estimate");
    let completion = row["completion_tokens"].as_u64().expect("tokens");
    assert!(
        (1..10).contains(&completion),
        "only what was streamed: {completion}"
    );
    assert!(report["total_usd"].as_f64() > Some(0.0000012));
}

#[tokio::test]
async fn a_failed_first_attempt_costs_nothing_and_the_serving_provider_is_charged() {
    let broken = MockServer::openai().await;
    broken.set_fault(Fault::status(500));
    let healthy = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "providers:\n{}{}routing: {{strategy: priority}}\n",
        openai_provider("broken", &broken, "gpt-4o-mini"),
        openai_provider("healthy", &healthy, "gpt-4o-mini"),
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-infermux-provider"), Some("healthy"));
    assert_eq!(broken.request_count(), 1);
    let report = costs(&infermux, "/_infermux/costs").await;
    assert_eq!(report["by_provider"], json!({"healthy": 0.0000018}));
    assert_eq!(report["requests"], 1);
}

#[tokio::test]
async fn an_unpriced_model_is_recorded_at_zero_and_counted() {
    let local = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "providers:\n  - {{name: lab, type: openai_compatible, api_key: k, base_url: \"{}\", models: [house-model-7b]}}\n",
        local.base_url()
    ))
    .await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("house-model-7b", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-infermux-cost"), Some("0"));
    let report = costs(&infermux, "/_infermux/costs").await;
    assert_eq!(report["by_provider"], json!({"lab": 0.0}));
    assert_eq!(report["unpriced_requests"], 1);
    let metrics = get(&infermux.management_url("/metrics"), &[]).await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("infermux_unpriced_requests_total{")
                && l.contains("provider=\"lab\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn reports_add_up_to_the_last_digit() {
    let openai = MockServer::openai().await;
    let anthropic = MockServer::anthropic().await;
    let infermux = Infermux::start(&format!(
        "providers:\n{}  - {{name: anthropic, type: anthropic, api_key: k, base_url: \"{}\", models: [claude-haiku-3-5]}}\nrouting:\n  groups:\n    - {{name: cheap, models: [claude-haiku-3-5], providers: [anthropic]}}\n",
        openai_provider("openai", &openai, "gpt-4o-mini, text-embedding-3-small"),
        anthropic.base_url()
    ))
    .await;
    for (i, who) in ["a", "b", "c"].iter().enumerate() {
        for model in ["gpt-4o-mini", "claude-haiku-3-5"] {
            let mut body = chat(model, json!({"max_tokens": 5}));
            body["messages"][0]["content"] = json!("word ".repeat(i + 1));
            let reply = post_json(
                &infermux.url("/v1/chat/completions"),
                &[("x-infermux-caller", who)],
                body,
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }
    // Amounts in pico-USD: the reports render exact decimals, which parse back exactly.
    let cents = |v: &Value| -> u64 { (v.as_f64().expect("amount") * 1e12).round() as u64 };
    let totals = costs(&infermux, "/_infermux/costs").await;
    let total = cents(&totals["total_usd"]);
    let sum = |v: &Value| -> u64 { v.as_object().expect("object").values().map(cents).sum() };
    assert_eq!(sum(&totals["by_provider"]), total);
    assert_eq!(
        sum(&costs(&infermux, "/_infermux/costs/by-model").await["by_model"]),
        total
    );
    let callers = costs(&infermux, "/_infermux/costs/by-caller").await;
    let callers_sum: u64 = callers["callers"]
        .as_array()
        .expect("callers")
        .iter()
        .map(|c| cents(&c["total_usd"]))
        .sum();
    assert_eq!(callers_sum, total);
    let groups = costs(&infermux, "/_infermux/costs/by-group").await;
    assert_eq!(
        groups["by_group"]["cheap"],
        totals["by_provider"]["anthropic"]
    );
    assert_eq!(totals["requests"], 6);

    let series = costs(&infermux, "/_infermux/costs/timeseries?hours=3&bucket=1h").await;
    let buckets = series["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 3);
    assert_eq!(cents(&buckets[2]["total_usd"]), total);
    assert_eq!(buckets[2]["requests"], 6);
    assert!(
        buckets[2]["start"]
            .as_str()
            .expect("start")
            .ends_with(":00:00Z")
    );
}

#[tokio::test]
async fn translated_streams_are_charged_when_they_end() {
    let anthropic = MockServer::anthropic().await;
    let ollama = MockServer::ollama().await;
    ollama.set_models(&["llama3.2"]);
    let infermux = Infermux::start(&format!(
        "providers:\n  - {{name: anthropic, type: anthropic, api_key: k, base_url: \"{}\", models: [claude-haiku-3-5]}}\n  - {{name: ollama, type: ollama, base_url: \"{}\", models: [llama3.2]}}\n",
        anthropic.base_url(),
        ollama.base_url()
    ))
    .await;
    for model in ["claude-haiku-3-5", "llama3.2"] {
        let reply = post_json(
            &infermux.url("/v1/chat/completions"),
            &[],
            chat(model, json!({"stream": true, "max_tokens": 16})),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.streamed_text(), "Hello!");
    }
    let report = costs(&infermux, "/_infermux/costs").await;
    // Anthropic: 8 × $0.80/M + 1 × $4/M; a local Ollama costs nothing but is listed.
    assert_eq!(
        report["by_provider"],
        json!({"anthropic": 0.0000104, "ollama": 0.0})
    );
    assert_eq!(report["requests"], 2);
}
