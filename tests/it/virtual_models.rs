//! Virtual models end to end, over loopback, against mock OpenAI and Anthropic servers: the
//! seed guides' own code with the official OpenAI Python SDK (`INFERMUX_TEST_PYTHON`), and
//! the capability filter, sessions, budgets and route groups over plain HTTP.

use crate::common;

use std::process::Command;

use crate::common::{Infermux, chat, get, post_json};
use infermux::pricing::{LIST_PRICES, builtin_specs};
use infermux_test_util::MockServer;
use serde_json::{Value, json};

/// The chat models both tests configure: two light, two strong (by the built-in catalog).
const MODELS: [&str; 4] = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
];

fn config(openai: &MockServer, anthropic: &MockServer, extra: &str) -> String {
    format!(
        r#"
providers:
  - {{name: openai, type: openai, api_key: sk-o, base_url: "{}", models: [gpt-4o, gpt-4o-mini]}}
  - {{name: anthropic, type: anthropic, api_key: sk-a, base_url: "{}", models: [claude-sonnet-4-5, claude-haiku-4-5]}}
{extra}"#,
        openai.base_url(),
        anthropic.base_url()
    )
}

/// The model of `candidates` whose list input and output prices are both the lowest: the
/// cheapest able model for any plain text request, found from the price list alone.
fn cheapest_by_list(candidates: &[&str]) -> String {
    let price = |model: &str| {
        LIST_PRICES
            .iter()
            .find(|p| p.model == model)
            .map(|p| (p.input, p.output))
            .expect("listed")
    };
    let best = candidates
        .iter()
        .min_by(|a, b| price(a).partial_cmp(&price(b)).expect("ordered"))
        .expect("some model");
    for other in candidates {
        let (i, o) = price(other);
        assert!(
            price(best).0 <= i && price(best).1 <= o,
            "{best} is not cheaper than {other} on both prices"
        );
    }
    (*best).to_owned()
}

/// `MODELS` of one catalog class.
fn of_class(class: &str) -> Vec<&'static str> {
    MODELS
        .into_iter()
        .filter(|m| builtin_specs().builtin(m).expect("known").class.as_str() == class)
        .collect()
}

fn python() -> Option<String> {
    common::external("INFERMUX_TEST_PYTHON", "the seed guides' SDK test")
}

#[tokio::test]
async fn the_seed_guides_code_picks_the_cheapest_able_model() {
    let Some(python) = python() else {
        return;
    };
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    let infermux = Infermux::start(&config(&openai, &anthropic, "")).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/virtual_models.py");
    let base_url = infermux.url("/v1");
    let stdout = common::run_script(Command::new(python).args([script, &base_url])).await;
    let cases: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c["case"] == name)
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
    };
    let cheapest = cheapest_by_list(&MODELS);
    let cheapest_light = cheapest_by_list(&of_class("light"));
    let cheapest_strong = cheapest_by_list(&of_class("strong"));

    // The Select guide: a light task to smart-select is served by the cheapest light model.
    assert!(
        case("select_guide")["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    let select = case("select_guide_metadata");
    assert_eq!(select["model"], cheapest_light.as_str(), "{select}");
    assert_eq!(select["served_model"], cheapest_light.as_str());
    assert_eq!(select["virtual_model"], "smart-select");
    assert_eq!(select["tier"], "light");
    let reason = select["reason"].as_str().expect("route reason");
    assert!(reason.starts_with("tier=light score=0."), "{reason}");
    assert!(
        reason.contains(&format!("model={cheapest_light} est_cost=$")),
        "{reason}"
    );

    // The TokenHub guide: `auto` with the cost strategy, and `economy`, pick the cheapest.
    for name in ["tokenhub_auto_cost", "tokenhub_economy"] {
        assert_eq!(case(name)["model"], cheapest.as_str(), "{name}");
    }
    for (name, virtual_model) in [
        ("tokenhub_auto_cost_metadata", "auto"),
        ("tokenhub_economy_metadata", "economy"),
    ] {
        let c = case(name);
        assert_eq!(c["model"], cheapest.as_str(), "{c}");
        assert_eq!(c["virtual_model"], virtual_model);
        assert!(c["tier"].is_null(), "a cheapest pick has no tier: {c}");
        let reason = c["reason"].as_str().expect("route reason");
        assert!(reason.starts_with("pick=cheapest"), "{reason}");
        assert!(reason.contains(&format!("model={cheapest} ")), "{reason}");
    }

    // A complex request to the same virtual model goes to the cheapest strong model.
    let complex = case("complex");
    assert_eq!(complex["model"], cheapest_strong.as_str(), "{complex}");
    assert_eq!(complex["tier"], "strong");

    let ids = case("models")["ids"].clone();
    for name in ["economy", "auto", "smart-select"] {
        assert!(
            ids.as_array().expect("ids").iter().any(|i| i == name),
            "{ids}"
        );
    }

    // What the providers were sent: real models only, each request once.
    let sent: Vec<String> = openai
        .requests()
        .iter()
        .chain(anthropic.requests().iter())
        .filter(|r| r.path.ends_with("/chat/completions") || r.path.ends_with("/messages"))
        .map(|r| r.json()["model"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(sent.len(), 7, "{sent:?}");
    // The first is the Select guide's own call (its code returns only the text).
    assert_eq!(sent[0], cheapest_light, "{sent:?}");
    assert!(
        sent.iter().all(|m| MODELS.contains(&m.as_str())),
        "{sent:?}"
    );
}

#[tokio::test]
async fn capabilities_filter_and_no_capable_model_names_what_was_missing() {
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    let ollama = MockServer::ollama().await;
    ollama.set_models(&["llama3.2", "gemma3"]);
    let yaml = format!(
        "{}  - {{name: local, type: ollama, base_url: \"{}\", models: [llama3.2, gemma3]}}\n",
        config(&openai, &anthropic, ""),
        ollama.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let url = infermux.url("/v1/chat/completions");

    // Free local models win `economy` for plain text (both $0, neither with a list price).
    let plain = post_json(&url, &[], chat("economy", json!({}))).await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    let served = plain.header("x-infermux-model").expect("model");
    assert!(["llama3.2", "gemma3"].contains(&served), "{served}");

    // An image: llama3.2 cannot read one, gemma3 can.
    let image = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]}]});
    let reply = post_json(&url, &[], chat("economy", image)).await;
    assert_eq!(
        reply.header("x-infermux-model"),
        Some("gemma3"),
        "{}",
        reply.text()
    );

    // Tools and an image: neither local model has both; the cheapest hosted one does.
    let both = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Look up this product"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]}], "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]});
    let reply = post_json(&url, &[], chat("economy", both)).await;
    assert_eq!(
        reply.header("x-infermux-model"),
        Some(cheapest_by_list(&MODELS).as_str()),
        "{}",
        reply.text()
    );

    // A prompt larger than every window: 400 no_capable_model naming the context window.
    let huge = "lorem ipsum ".repeat(500_000);
    let reply = post_json(
        &url,
        &[],
        json!({"model": "auto", "messages": [{"role": "user", "content": huge}]}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some("no_capable_model"));
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("no model behind `auto`"), "{message}");
    assert!(message.contains("context window"), "{message}");
    assert_eq!(openai.request_count() + anthropic.request_count(), 1);

    // Embeddings to `auto` (chat models only): refused, naming embeddings.
    let reply = post_json(
        &infermux.url("/v1/embeddings"),
        &[],
        json!({"model": "auto", "input": "hi"}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("embeddings"), "{}", reply.text());
}

#[tokio::test]
async fn a_session_keeps_its_tier_and_model_and_moves_up_only() {
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    let infermux = Infermux::start(&config(&openai, &anthropic, "")).await;
    let url = infermux.url("/v1/chat/completions");
    let session = [("x-infermux-session", "conversation-42")];
    let complex = json!({"messages": [{"role": "user", "content":
        "Prove that there are infinitely many primes, then derive the density of primes and explain the analysis step by step."}]});

    let first = post_json(&url, &session, chat("auto", json!({}))).await;
    assert_eq!(first.header("x-infermux-tier"), Some("light"));
    let up = post_json(&url, &session, chat("auto", complex)).await;
    assert_eq!(up.header("x-infermux-tier"), Some("strong"));
    let strong_model = up.header("x-infermux-model").expect("model").to_owned();
    // A light request of the same session stays on the strong model.
    let kept = post_json(&url, &session, chat("auto", json!({}))).await;
    assert_eq!(kept.header("x-infermux-tier"), Some("strong"));
    assert_eq!(kept.header("x-infermux-model"), Some(strong_model.as_str()));
    assert!(
        kept.header("x-infermux-route-reason")
            .is_some_and(|r| r.contains("session=kept")),
        "{:?}",
        kept.header("x-infermux-route-reason")
    );
    // Another session, or none, is scored afresh.
    let other = post_json(
        &url,
        &[("x-infermux-session", "other")],
        chat("auto", json!({})),
    )
    .await;
    assert_eq!(other.header("x-infermux-tier"), Some("light"));
}

#[tokio::test]
async fn configured_virtual_models_budgets_and_groups() {
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    let extra = r#"
routing:
  strategy: priority
  groups:
    - {name: anthropic-only, models: [claude-haiku-4-5], providers: [anthropic]}
virtual_models:
  - {name: cheap, pick: cheapest, models: [gpt-4o-mini, claude-haiku-4-5]}
  - name: in-house
    pick: complexity
    tiers: [[claude-haiku-4-5], [claude-sonnet-4-5]]
    group: anthropic-only
budgets:
  callers:
    - {caller: batch, monthly_usd: 0, action: model_override, model_override: cheap, override_at: 1.0}
"#;
    let infermux = Infermux::start(&config(&openai, &anthropic, extra)).await;
    let url = infermux.url("/v1/chat/completions");

    // Only the declared virtual models exist.
    let models = get(&infermux.url("/v1/models"), &[]).await.json();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"cheap") && ids.contains(&"in-house"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"economy"), "{ids:?}");

    // A budget override naming a virtual model resolves it.
    let reply = post_json(
        &url,
        &[("x-infermux-caller", "batch")],
        chat("gpt-4o", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-model-override"), Some("cheap"));
    assert_eq!(reply.header("x-infermux-virtual-model"), Some("cheap"));
    assert_eq!(
        reply.header("x-infermux-model"),
        Some(cheapest_by_list(&["gpt-4o-mini", "claude-haiku-4-5"]).as_str())
    );

    // A virtual model limited to a group routes within it, and says so.
    let reply = post_json(&url, &[], chat("in-house", json!({}))).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("anthropic"));
    assert_eq!(
        reply.header("x-infermux-route-group"),
        Some("anthropic-only")
    );
    assert_eq!(reply.header("x-infermux-tier"), Some("0"));
}

#[tokio::test]
async fn a_hard_stop_reservation_prices_a_virtual_model_at_its_dearest_member() {
    let (openai, anthropic) = (MockServer::openai().await, MockServer::anthropic().await);
    let extra =
        "budgets:\n  callers:\n    - {caller: capped, monthly_usd: 0.01, action: hard_stop}\n";
    let infermux = Infermux::start(&config(&openai, &anthropic, extra)).await;
    // 10,000 output tokens at the dearest member's output price ($15/M, claude-sonnet-4-5)
    // is $0.15, over the $0.01 budget: the reservation lowers max_tokens, although the
    // request resolves to a much cheaper model.
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("x-infermux-caller", "capped")],
        chat("economy", json!({"max_tokens": 10_000})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let clamped: u64 = reply
        .header("x-infermux-max-tokens-clamped")
        .expect("clamped to the budget")
        .parse()
        .expect("a number");
    assert!(clamped < 1_000, "{clamped}");
    assert_eq!(
        reply.header("x-infermux-model"),
        Some(cheapest_by_list(&MODELS).as_str())
    );
    assert_eq!(openai.requests()[0].json()["max_tokens"], clamped);
}
