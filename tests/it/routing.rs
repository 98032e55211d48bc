//! Routing over loopback against mock providers: route groups, the four strategies, the
//! per-request override, route reasons, unpriced models and `GET /v1/models`.

use std::time::Duration;

use crate::common::{Infermux, Reply, chat, get, post_json};
use infermux_test_util::{Fault, MockServer};
use serde_json::json;

/// The seed tutorial's config ("Optimize inference costs with routing strategies"), with
/// each provider pointed at a mock; `ollama` is left out when `None`.
fn tutorial(openai: &MockServer, anthropic: &MockServer, ollama: Option<&MockServer>) -> String {
    let ollama = ollama.map_or_else(String::new, |ollama| {
        format!(
            r#"
  - name: ollama
    type: ollama
    base_url: "{}"
    models: [llama3.2]
    model_aliases:
      gpt-4o-mini: llama3.2
"#,
            ollama.base_url()
        )
    });
    format!(
        r#"
providers:
  - name: openai
    type: openai
    api_key: "sk-openai-test"
    base_url: "{}"
    models:
      - gpt-4o
      - gpt-4o-mini
      - text-embedding-3-small
  - name: anthropic
    type: anthropic
    api_key: "sk-ant-test"
    base_url: "{}"
    model_aliases:
      gpt-4o: claude-opus-4-5
      gpt-4o-mini: claude-haiku-3-5
{ollama}
routing:
  strategy: cost_weighted
  groups:
    - name: embeddings
      models: [text-embedding-3-small, text-embedding-3-large]
      strategy: round_robin
      providers: [openai]
    - name: reasoning
      models: [gpt-4o, claude-opus-4-5]
      strategy: priority
      providers: [openai, anthropic]
"#,
        openai.base_url(),
        anthropic.base_url(),
    )
}

/// The tutorial's config over fresh mocks, Ollama included.
async fn start_tutorial() -> (Mocks, Infermux) {
    let mocks = Mocks::start().await;
    let infermux = Infermux::start(&tutorial(
        &mocks.openai,
        &mocks.anthropic,
        Some(&mocks.ollama),
    ))
    .await;
    (mocks, infermux)
}

struct Mocks {
    openai: MockServer,
    anthropic: MockServer,
    ollama: MockServer,
}

impl Mocks {
    async fn start() -> Self {
        Self {
            openai: MockServer::openai().await,
            anthropic: MockServer::anthropic().await,
            ollama: MockServer::ollama().await,
        }
    }

    fn counts(&self) -> (usize, usize, usize) {
        (
            self.openai.request_count(),
            self.anthropic.request_count(),
            self.ollama.request_count(),
        )
    }
}

async fn ask(infermux: &Infermux, model: &str, headers: &[(&str, &str)]) -> Reply {
    post_json(
        &infermux.url("/v1/chat/completions"),
        headers,
        chat(model, json!({})),
    )
    .await
}

// === the seed tutorial ===

#[tokio::test]
async fn tutorial_gpt_4o_mini_goes_to_the_free_ollama_every_time() {
    let (mocks, infermux) = start_tutorial().await;
    for _ in 0..6 {
        let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("x-infermux-provider"), Some("ollama"));
        assert_eq!(reply.header("x-infermux-model"), Some("llama3.2"));
        assert_eq!(reply.header("x-infermux-cost"), Some("0"));
        assert_eq!(
            reply.header("x-infermux-route-reason"),
            Some("cost_weighted: ollama $0 < openai $0.0000012 < anthropic $0.0000064")
        );
        assert_eq!(reply.header("x-infermux-route-group"), None);
    }
    assert_eq!(mocks.counts(), (0, 0, 6));
}

#[tokio::test]
async fn tutorial_without_ollama_picks_the_cheaper_hosted_model() {
    let mocks = Mocks::start().await;
    let infermux = Infermux::start(&tutorial(&mocks.openai, &mocks.anthropic, None)).await;
    let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    // "hi": 8 prompt + 1 completion tokens of gpt-4o-mini at $0.15/$0.60 per 1M.
    assert_eq!(reply.header("x-infermux-cost"), Some("0.0000018"));
    assert_eq!(
        reply.header("x-infermux-route-reason"),
        Some("cost_weighted: openai $0.0000012 < anthropic $0.0000064")
    );
}

#[tokio::test]
async fn tutorial_cheapest_failing_falls_over_to_the_next_cheapest() {
    let mocks = Mocks::start().await;
    mocks.ollama.set_fault(Fault::status(503));
    let infermux = Infermux::start(&tutorial(
        &mocks.openai,
        &mocks.anthropic,
        Some(&mocks.ollama),
    ))
    .await;
    let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(mocks.counts(), (1, 0, 1));
}

#[tokio::test]
async fn tutorial_reasoning_stays_on_priority_order() {
    let (mocks, infermux) = start_tutorial().await;
    let reply = ask(&infermux, "gpt-4o", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(reply.header("x-infermux-route-group"), Some("reasoning"));
    assert_eq!(
        reply.header("x-infermux-route-reason"),
        Some("priority: openai > anthropic")
    );

    // When OpenAI fails, Anthropic is next, sent the aliased model; Ollama never is.
    mocks.openai.set_fault(Fault::status(500));
    let reply = ask(&infermux, "gpt-4o", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("anthropic"));
    assert_eq!(reply.header("x-infermux-model"), Some("claude-opus-4-5"));
    assert_eq!(reply.header("x-infermux-route-group"), Some("reasoning"));
    assert_eq!(mocks.ollama.request_count(), 0);
}

#[tokio::test]
async fn tutorial_embeddings_only_go_to_openai() {
    let (mocks, infermux) = start_tutorial().await;
    let url = infermux.url("/v1/embeddings");
    let embed = |model: &str| post_json(&url, &[], json!({"model": model, "input": "hello"}));
    for _ in 0..3 {
        let reply = embed("text-embedding-3-small").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
        assert_eq!(reply.header("x-infermux-route-group"), Some("embeddings"));
        let reason = reply.header("x-infermux-route-reason").unwrap_or("");
        assert!(reason.starts_with("round_robin: turn "), "{reason}");
    }
    // A group model that no group provider serves never leaks outside the group.
    let reply = embed("text-embedding-3-large").await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some("model_not_found"));
    assert_eq!(mocks.counts(), (3, 0, 0));
}

#[tokio::test]
async fn models_lists_configured_models_alias_keys_and_group_models() {
    let (_mocks, infermux) = start_tutorial().await;
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
            "claude-opus-4-5",
            "gpt-4o",
            "gpt-4o-mini",
            "llama3.2",
            "text-embedding-3-large",
            "text-embedding-3-small",
            // The built-in virtual models.
            "economy",
            "auto",
            "smart-select"
        ]
    );
}

// === strategies ===

/// Three OpenAI-shaped providers serving `gpt-4o-mini`, ordered by `strategy`.
async fn three(mocks: &[MockServer; 3], strategy: &str) -> Infermux {
    let providers: String = mocks
        .iter()
        .enumerate()
        .map(|(i, mock)| {
            format!(
                r#"
  - name: p{i}
    type: openai
    api_key: "sk-{i}"
    base_url: "{}"
    models: [gpt-4o-mini]
"#,
                mock.base_url()
            )
        })
        .collect();
    Infermux::start(&format!(
        "providers:{providers}\nrouting:\n  strategy: {strategy}\n"
    ))
    .await
}

async fn three_mocks() -> [MockServer; 3] {
    [
        MockServer::openai().await,
        MockServer::openai().await,
        MockServer::openai().await,
    ]
}

#[tokio::test]
async fn round_robin_spreads_six_requests_evenly() {
    let mocks = three_mocks().await;
    let infermux = three(&mocks, "round_robin").await;
    let mut served = Vec::new();
    for _ in 0..6 {
        let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        served.push(reply.header("x-infermux-provider").unwrap_or("").to_owned());
    }
    assert_eq!(served, ["p0", "p1", "p2", "p0", "p1", "p2"]);
    let counts: Vec<usize> = mocks.iter().map(MockServer::request_count).collect();
    assert_eq!(counts, [2, 2, 2]);
}

#[tokio::test]
async fn least_latency_follows_the_faster_mock() {
    let mocks = three_mocks().await;
    mocks[0].set_fault(Fault::Latency(Duration::from_millis(300)));
    mocks[1].set_fault(Fault::Latency(Duration::from_millis(150)));
    let infermux = three(&mocks, "least_latency").await;
    // Warm-up: each provider is tried once while it has no measurement.
    let mut served = Vec::new();
    for _ in 0..6 {
        let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        served.push(reply.header("x-infermux-provider").unwrap_or("").to_owned());
    }
    assert_eq!(served, ["p0", "p1", "p2", "p2", "p2", "p2"]);
    let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
    let reason = reply.header("x-infermux-route-reason").unwrap_or("");
    assert!(reason.starts_with("least_latency: p2 "), "{reason}");
    assert!(
        reason.contains(" < p1 ") && reason.contains(" < p0 "),
        "{reason}"
    );
}

#[tokio::test]
async fn priority_sticks_to_the_first_provider() {
    let mocks = three_mocks().await;
    let infermux = three(&mocks, "priority").await;
    for _ in 0..3 {
        let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
        assert_eq!(reply.header("x-infermux-provider"), Some("p0"));
        assert_eq!(
            reply.header("x-infermux-route-reason"),
            Some("priority: p0 > p1 > p2")
        );
    }
}

// === the per-request override ===

#[tokio::test]
async fn the_strategy_header_overrides_the_configured_strategy() {
    let (_mocks, infermux) = start_tutorial().await;
    // cost_weighted would pick ollama; priority picks the first declared provider.
    let reply = ask(
        &infermux,
        "gpt-4o-mini",
        &[("x-infermux-strategy", "priority")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(
        reply.header("x-infermux-route-reason"),
        Some("priority: openai > anthropic > ollama (X-Infermux-Strategy)")
    );

    // It also overrides a group's strategy, within the group's providers.
    let reply = ask(&infermux, "gpt-4o", &[("x-infermux-strategy", "cost")]).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(reply.header("x-infermux-route-group"), Some("reasoning"));
    let reason = reply.header("x-infermux-route-reason").unwrap_or("");
    assert!(reason.starts_with("cost_weighted: openai $"), "{reason}");

    let reply = ask(
        &infermux,
        "gpt-4o-mini",
        &[("x-infermux-strategy", "cheapest")],
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some("invalid_request"));
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        message.contains("cost, latency, priority, round_robin"),
        "{message}"
    );
}

#[tokio::test]
async fn the_round_robin_override_cycles() {
    let mocks = three_mocks().await;
    let infermux = three(&mocks, "priority").await;
    let mut served = Vec::new();
    for _ in 0..3 {
        let reply = ask(
            &infermux,
            "gpt-4o-mini",
            &[("x-infermux-strategy", "round_robin")],
        )
        .await;
        served.push(reply.header("x-infermux-provider").unwrap_or("").to_owned());
    }
    assert_eq!(served, ["p0", "p1", "p2"]);
}

// === unpriced models and unknown models ===

/// A priced provider and one serving a model no price table knows.
fn unpriced_config(openai: &MockServer, other: &MockServer, policy: &str) -> String {
    format!(
        r#"
providers:
  - name: mystery
    type: openai_compatible
    api_key: "sk-m"
    base_url: "{}"
    models: [mystery-1]
    model_aliases: {{gpt-4o-mini: mystery-1}}
  - name: openai
    type: openai
    api_key: "sk-o"
    base_url: "{}"
    models: [gpt-4o-mini]
routing:
  strategy: cost_weighted
unpriced: {policy}
"#,
        other.base_url(),
        openai.base_url()
    )
}

#[tokio::test]
async fn unpriced_providers_rank_last_under_warn() {
    let (openai, mystery) = (MockServer::openai().await, MockServer::openai().await);
    let infermux = Infermux::start(&unpriced_config(&openai, &mystery, "warn")).await;
    let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(
        reply.header("x-infermux-route-reason"),
        Some("cost_weighted: openai $0.0000012 < mystery unpriced")
    );
    // An unpriced-only model is still served.
    let reply = ask(&infermux, "mystery-1", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("mystery"));
}

#[tokio::test]
async fn unpriced_models_are_refused_under_reject() {
    let (openai, mystery) = (MockServer::openai().await, MockServer::openai().await);
    let infermux = Infermux::start(&unpriced_config(&openai, &mystery, "reject")).await;
    let reply = ask(&infermux, "mystery-1", &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some("unpriced_model"));
    assert_eq!(reply.json()["error"]["code"], "unpriced_model");
    // With a priced candidate left, the request is served by it alone.
    let reply = ask(&infermux, "gpt-4o-mini", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(
        reply.header("x-infermux-route-reason"),
        Some("cost_weighted: openai $0.0000012")
    );
    assert_eq!(mystery.request_count(), 0);
}

#[tokio::test]
async fn an_unknown_model_is_404_model_not_found() {
    let mocks = three_mocks().await;
    let infermux = three(&mocks, "cost_weighted").await;
    let reply = ask(&infermux, "gpt-9", &[]).await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some("model_not_found"));
}

#[tokio::test]
async fn streams_carry_the_route_headers_too() {
    let (_mocks, infermux) = start_tutorial().await;
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[],
        chat("gpt-4o", json!({"stream": true})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.streamed_text(), "Hello!");
    assert_eq!(reply.header("x-infermux-provider"), Some("openai"));
    assert_eq!(reply.header("x-infermux-route-group"), Some("reasoning"));
    assert_eq!(
        reply.header("x-infermux-route-reason"),
        Some("priority: openai > anthropic")
    );
}
