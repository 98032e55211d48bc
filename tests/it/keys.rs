//! Client API keys (`keys:` and the keys API) over HTTP: a key binds its caller, unknown,
//! revoked and expired keys get 401, allow-lists 403, `rpm` 429 with `Retry-After`, per-key
//! caps 429 `key_budget_exceeded` that hold under concurrency, rotation with a grace period,
//! and keys that survive a restart in the state file as hashes only.

use std::time::Duration;

use crate::common::{Infermux, Reply, chat, get, post_json, send};
use http::Method;
use infermux_core::Money;
use infermux_test_util::MockServer;
use serde_json::json;

/// One "hi" with `max_tokens: 1` costs 8 × $0.15/M + 1 × $0.60/M = $0.0000018.
const HI: Money = Money::from_picos(1_800_000);

/// An OpenAI provider on `mock` serving gpt-4o-mini and gpt-4o, plus `rest` of the config.
fn config(mock: &MockServer, rest: &str) -> String {
    format!(
        r#"
providers:
  - name: openai
    type: openai
    api_key: "sk-test"
    base_url: "{}"
    models: [gpt-4o-mini, gpt-4o]
{rest}
"#,
        mock.base_url()
    )
}

async fn ask(infermux: &Infermux, headers: &[(&str, &str)], model: &str) -> Reply {
    post_json(
        &infermux.url("/v1/chat/completions"),
        headers,
        chat(model, json!({"max_tokens": 1})),
    )
    .await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-error"), Some(code));
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["type"], "infermux_error");
}

async fn make_key(infermux: &Infermux, body: serde_json::Value) -> serde_json::Value {
    let reply = post_json(&infermux.management_url("/_infermux/keys"), &[], body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

async fn caller_spend(infermux: &Infermux) -> serde_json::Value {
    get(&infermux.management_url("/_infermux/costs/by-caller"), &[])
        .await
        .json()
}

#[tokio::test]
async fn a_key_charges_its_caller_whatever_header_the_client_writes() {
    let mock = MockServer::openai().await;
    let yaml = config(
        &mock,
        r#"
budgets:
  callers:
    - {caller: victim, monthly_usd: 0.000001, action: hard_stop}
keys:
  list:
    - {name: acme-prod, key: "${ACME_KEY}", caller: acme}
"#,
    );
    let infermux = Infermux::start_with_env(&yaml, &[("ACME_KEY", "acme-secret-1")]).await;
    let auth = bearer("acme-secret-1");
    let reply = ask(
        &infermux,
        &[("authorization", &auth), ("x-infermux-caller", "victim")],
        "gpt-4o-mini",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The Anthropic SDKs' header works the same.
    let reply = ask(&infermux, &[("x-api-key", "acme-secret-1")], "gpt-4o-mini").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let callers = caller_spend(&infermux).await;
    let names: Vec<&str> = callers["callers"]
        .as_array()
        .expect("callers")
        .iter()
        .filter(|c| c["requests"].as_u64() > Some(0))
        .map(|c| c["caller"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["acme"], "{callers}");
    // Without a key (keys optional) the header still names the caller; placeholders too.
    let reply = ask(&infermux, &[("x-infermux-caller", "bob")], "gpt-4o-mini").await;
    assert_eq!(reply.status, 200);
    let reply = ask(
        &infermux,
        &[
            ("authorization", "Bearer sk-placeholder"),
            ("x-infermux-caller", "bob"),
        ],
        "gpt-4o-mini",
    )
    .await;
    assert_eq!(reply.status, 200);
    let by_key = get(&infermux.management_url("/_infermux/costs/by-key"), &[])
        .await
        .json();
    let row = &by_key["keys"][0];
    assert_eq!(row["name"], "acme-prod", "{by_key}");
    assert_eq!(row["caller"], "acme");
    assert_eq!(row["requests"], 2);
    assert_eq!(row["total_usd"].as_f64(), Some(HI.times(2).as_usd_f64()));
    // Nothing reached the provider with the client's key.
    for request in mock.requests() {
        assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    }
}

#[tokio::test]
async fn missing_unknown_revoked_and_expired_keys_get_401() {
    let mock = MockServer::openai().await;
    let yaml = config(
        &mock,
        r#"
keys:
  required: true
  list:
    - {name: old, key: "old-secret", caller: acme, expires: "2020-01-01T00:00:00Z"}
    - {name: live, key: "live-secret", caller: acme}
"#,
    );
    let infermux = Infermux::start(&yaml).await;
    let missing = ask(&infermux, &[("x-infermux-caller", "acme")], "gpt-4o-mini").await;
    assert_error(&missing, 401, "invalid_api_key");
    let made_up = format!("imx_{}", "A".repeat(43));
    for key in [made_up.as_str(), "sk-placeholder", "old-secret"] {
        let reply = ask(&infermux, &[("authorization", &bearer(key))], "gpt-4o-mini").await;
        assert_error(&reply, 401, "invalid_api_key");
        assert!(
            !reply.text().contains(key),
            "the key is echoed: {}",
            reply.text()
        );
    }
    let made = make_key(&infermux, json!({"name": "temp", "caller": "acme"})).await;
    let key = made["key"].as_str().expect("key").to_owned();
    let auth = bearer(&key);
    assert_eq!(
        ask(&infermux, &[("authorization", &auth)], "gpt-4o-mini")
            .await
            .status,
        200
    );
    let id = made["id"].as_str().expect("id");
    let revoked = send(
        Method::DELETE,
        &infermux.management_url(&format!("/_infermux/keys/{id}")),
        &[],
        "",
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["revoked"], true);
    let reply = ask(&infermux, &[("authorization", &auth)], "gpt-4o-mini").await;
    assert_error(&reply, 401, "invalid_api_key");
    let live = ask(
        &infermux,
        &[("authorization", "Bearer live-secret")],
        "gpt-4o-mini",
    )
    .await;
    assert_eq!(live.status, 200);
    // Load balancers' probes need no key; the model list does, when keys are required.
    assert_eq!(get(&infermux.url("/healthz"), &[]).await.status, 200);
    assert_error(
        &get(&infermux.url("/v1/models"), &[]).await,
        401,
        "invalid_api_key",
    );
    let listed = get(
        &infermux.url("/v1/models"),
        &[("authorization", "Bearer live-secret")],
    )
    .await;
    assert_eq!(listed.status, 200);
}

#[tokio::test]
async fn an_allow_list_refuses_and_hides_other_models_and_rpm_answers_429_with_retry_after() {
    let mock = MockServer::openai().await;
    let yaml = config(
        &mock,
        r#"
keys:
  list:
    - {name: cheap, key: "cheap-secret", models: [gpt-4o-mini, auto]}
    - {name: slow, key: "slow-secret", rpm: 2}
"#,
    );
    let infermux = Infermux::start(&yaml).await;
    let cheap = [("authorization", "Bearer cheap-secret")];
    assert_eq!(ask(&infermux, &cheap, "gpt-4o-mini").await.status, 200);
    let refused = ask(&infermux, &cheap, "gpt-4o").await;
    assert_error(&refused, 403, "model_not_allowed");
    assert!(refused.text().contains("cheap"), "{}", refused.text());
    // The model list shows a key only what its allow-list permits.
    let ids = |reply: &Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let url = infermux.url("/v1/models");
    let everything = ids(&get(&url, &[]).await);
    assert!(everything.iter().any(|id| id == "gpt-4o"), "{everything:?}");
    let unlisted = ids(&get(&url, &[("authorization", "Bearer slow-secret")]).await);
    assert_eq!(unlisted, everything);
    let shown = ids(&get(&url, &[("x-api-key", "cheap-secret")]).await);
    assert!(shown.contains(&"gpt-4o-mini".to_owned()), "{shown:?}");
    assert!(
        shown.iter().all(|id| id == "gpt-4o-mini" || id == "auto"),
        "{shown:?}"
    );
    let hidden = get(
        &infermux.url("/v1/models/gpt-4o"),
        &[("authorization", "Bearer cheap-secret")],
    )
    .await;
    assert_error(&hidden, 404, "model_not_found");
    assert_eq!(
        get(&infermux.url("/v1/models/gpt-4o"), &[]).await.status,
        200
    );
    assert_error(
        &get(&url, &[("authorization", "Bearer imx_NotAKeyOfOurs")]).await,
        401,
        "invalid_api_key",
    );
    let before = mock.requests().len();
    let slow = [("x-api-key", "slow-secret")];
    assert_eq!(ask(&infermux, &slow, "gpt-4o").await.status, 200);
    assert_eq!(ask(&infermux, &slow, "gpt-4o").await.status, 200);
    let limited = ask(&infermux, &slow, "gpt-4o").await;
    assert_error(&limited, 429, "rate_limited");
    let wait: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        mock.requests().len(),
        before + 2,
        "refusals never reach a provider"
    );
}

#[tokio::test]
async fn a_monthly_cap_refuses_at_the_cap_with_the_contract_message() {
    let mock = MockServer::openai().await;
    // $0.00001 holds five requests of $0.0000018; the sixth takes what is left.
    let yaml = config(
        &mock,
        r#"
keys:
  list:
    - {name: acme-prod, key: "acme-secret", caller: acme, monthly_usd: 0.00001}
    - {name: daily, key: "daily-secret", caller: acme, daily_usd: 0.0000036}
"#,
    );
    let infermux = Infermux::start(&yaml).await;
    let auth = [("authorization", "Bearer acme-secret")];
    for _ in 0..6 {
        assert_eq!(ask(&infermux, &auth, "gpt-4o-mini").await.status, 200);
    }
    let refused = ask(&infermux, &auth, "gpt-4o-mini").await;
    assert_error(&refused, 429, "key_budget_exceeded");
    assert_eq!(
        refused.json()["error"]["message"],
        format!(
            "monthly budget of $0.00001 for key acme-prod exceeded; current spend: {}",
            HI.times(6).to_dollars()
        )
    );
    let daily = [("authorization", "Bearer daily-secret")];
    for _ in 0..2 {
        assert_eq!(ask(&infermux, &daily, "gpt-4o-mini").await.status, 200);
    }
    let refused = ask(&infermux, &daily, "gpt-4o-mini").await;
    assert_error(&refused, 429, "key_budget_exceeded");
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with(
                "daily budget of $0.0000036 for key daily exceeded; current spend: $0.0000036"
            ),
        "{}",
        refused.text()
    );
    let keys = get(&infermux.management_url("/_infermux/keys"), &[])
        .await
        .json();
    let acme = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["name"] == "acme-prod")
        .expect("acme-prod listed");
    assert_eq!(acme["spent_usd"].as_f64(), Some(HI.times(6).as_usd_f64()));
    assert_eq!(acme["remaining_usd"].as_f64(), Some(0.0));
    assert_eq!(acme["source"], "config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_requests_on_a_capped_key_do_not_overshoot() {
    let mock = MockServer::openai().await;
    mock.set_fault(infermux_test_util::Fault::Latency(Duration::from_millis(
        20,
    )));
    // 20 requests fit the cap exactly.
    let cap = HI.times(20);
    let yaml = config(
        &mock,
        &format!(
            "keys:\n  list:\n    - {{name: burst, key: \"burst-secret\", monthly_usd: {}}}\n",
            cap.to_plain_decimal()
        ),
    );
    let infermux = std::sync::Arc::new(Infermux::start(&yaml).await);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let infermux = infermux.clone();
            tokio::spawn(async move {
                ask(
                    &infermux,
                    &[("authorization", "Bearer burst-secret")],
                    "gpt-4o-mini",
                )
                .await
                .status
                .as_u16()
            })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        match task.await.expect("join") {
            200 => served += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    let by_key = get(&infermux.management_url("/_infermux/costs/by-key"), &[])
        .await
        .json();
    let spent = &by_key["keys"][0]["total_usd"];
    // Every admitted request held its worst case ($0.0000018, its exact cost): the cap holds
    // to the pico-dollar, and exactly the requests that fit were served.
    assert_eq!(served, 20, "{by_key}");
    assert_eq!(spent.as_f64(), Some(cap.as_usd_f64()));
}

#[tokio::test]
async fn keys_made_over_the_api_rotate_with_grace_and_survive_a_restart_as_hashes_only() {
    let mock = MockServer::openai().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("budgets.json");
    let yaml = config(
        &mock,
        &format!(
            "budgets:\n  state_file: \"{}\"\nkeys:\n  list:\n    - {{name: fixed, key: \"fixed-secret\"}}\n",
            state.display()
        ),
    );
    let infermux = Infermux::start(&yaml).await;
    let made = make_key(
        &infermux,
        json!({"name": "acme-prod", "caller": "acme", "monthly_usd": 50, "models": ["gpt-4o-mini", "auto"]}),
    )
    .await;
    let key = made["key"].as_str().expect("key").to_owned();
    assert_eq!(key.len(), 47, "{key}");
    assert!(key.starts_with("imx_") && key[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(made["prefix"], key[..8]);
    assert!(made["id"].as_str().expect("id").starts_with("key_"));
    assert_eq!(made["monthly_usd"].as_f64(), Some(50.0));
    let id = made["id"].as_str().expect("id").to_owned();
    let auth = bearer(&key);
    assert_eq!(
        ask(&infermux, &[("authorization", &auth)], "gpt-4o-mini")
            .await
            .status,
        200
    );

    let one = get(
        &infermux.management_url(&format!("/_infermux/keys/{id}")),
        &[],
    )
    .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["spent_usd"].as_f64(), Some(HI.as_usd_f64()));
    assert!(
        one.json().get("key").is_none(),
        "a key is shown only when made"
    );
    // Config keys cannot be changed over the API.
    let conflict = send(
        Method::DELETE,
        &infermux.management_url("/_infermux/keys/key_fixed"),
        &[],
        "",
    )
    .await;
    assert_eq!(conflict.status, 409, "{}", conflict.text());

    // Rotation: the new key works, and the old one for the grace period.
    let rotated = post_json(
        &infermux.management_url(&format!("/_infermux/keys/{id}/rotate")),
        &[],
        json!({"grace": "1h"}),
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text());
    let new_key = rotated.json()["key"].as_str().expect("key").to_owned();
    assert_ne!(new_key, key);
    assert_eq!(rotated.json()["id"], id.as_str());
    let new_auth = bearer(&new_key);
    assert_eq!(
        ask(&infermux, &[("authorization", &new_auth)], "gpt-4o-mini")
            .await
            .status,
        200
    );
    assert_eq!(
        ask(&infermux, &[("authorization", &auth)], "gpt-4o-mini")
            .await
            .status,
        200
    );
    infermux.stop().await;

    // After a restart the key still works, its spend is still there, and no file holds it.
    let infermux = Infermux::start(&yaml).await;
    assert_eq!(
        ask(&infermux, &[("authorization", &new_auth)], "gpt-4o-mini")
            .await
            .status,
        200
    );
    let one = get(
        &infermux.management_url(&format!("/_infermux/keys/{id}")),
        &[],
    )
    .await;
    assert_eq!(
        one.json()["spent_usd"].as_f64(),
        Some(HI.times(4).as_usd_f64())
    );
    // A rotation without grace ends the old key at once.
    let rotated = post_json(
        &infermux.management_url(&format!("/_infermux/keys/{id}/rotate")),
        &[],
        json!({"grace": "0s"}),
    )
    .await;
    assert_eq!(rotated.status, 201);
    let reply = ask(&infermux, &[("authorization", &new_auth)], "gpt-4o-mini").await;
    assert_error(&reply, 401, "invalid_api_key");
    let newest = rotated.json()["key"].as_str().expect("key").to_owned();
    infermux.stop().await;
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for secret in [&key, &new_key, &newest] {
            for piece in secret.as_bytes().windows(12) {
                let piece = std::str::from_utf8(piece).expect("ascii");
                assert!(
                    !text.contains(piece),
                    "{} holds part of a key",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn the_callers_own_budget_still_applies_to_its_keys() {
    let mock = MockServer::openai().await;
    let yaml = config(
        &mock,
        &format!(
            r#"
budgets:
  callers:
    - {{caller: acme, monthly_usd: {}, action: hard_stop}}
keys:
  list:
    - {{name: generous, key: "generous-secret", caller: acme, monthly_usd: 100}}
"#,
            HI.times(2).to_plain_decimal()
        ),
    );
    let infermux = Infermux::start(&yaml).await;
    let auth = [("authorization", "Bearer generous-secret")];
    for _ in 0..2 {
        assert_eq!(ask(&infermux, &auth, "gpt-4o-mini").await.status, 200);
    }
    let refused = ask(&infermux, &auth, "gpt-4o-mini").await;
    assert_error(&refused, 429, "budget_exceeded");
    // The refused request released the key's hold: the key is charged what was served.
    let by_key = get(&infermux.management_url("/_infermux/costs/by-key"), &[])
        .await
        .json();
    assert_eq!(by_key["keys"][0]["requests"], 2, "{by_key}");
    let keys = get(
        &infermux.management_url("/_infermux/keys/key_generous"),
        &[],
    )
    .await
    .json();
    assert_eq!(keys["spent_usd"].as_f64(), Some(HI.times(2).as_usd_f64()));
}

#[tokio::test]
async fn a_failed_request_releases_what_it_held_of_the_keys_cap() {
    let mock = MockServer::openai().await;
    let yaml = config(
        &mock,
        &format!(
            "keys:\n  list:\n    - {{name: one, key: \"one-secret\", monthly_usd: {}}}\n",
            HI.to_plain_decimal()
        ),
    );
    let infermux = Infermux::start(&yaml).await;
    let auth = [("authorization", "Bearer one-secret")];
    mock.set_fault(infermux_test_util::Fault::DropConnection);
    let failed = ask(&infermux, &auth, "gpt-4o-mini").await;
    assert_eq!(failed.status, 502, "{}", failed.text());
    mock.clear_fault();
    // Had the failure kept its hold, the whole cap would still be held.
    let reply = ask(&infermux, &auth, "gpt-4o-mini").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let refused = ask(&infermux, &auth, "gpt-4o-mini").await;
    assert_error(&refused, 429, "key_budget_exceeded");
}
