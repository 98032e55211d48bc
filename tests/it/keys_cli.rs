//! `infermux keys`: hash a key for the config file, and make, list, rotate and revoke keys on a
//! running infermux through its management API and token.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use crate::common::{Infermux, chat, post_json};
use infermux_test_util::MockServer;
use serde_json::json;

async fn infermux_cmd(
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    stdin: &'static str,
) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_infermux"))
            .args(&args)
            .env_remove("INFERMUX_ADMIN_TOKEN")
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("infermux runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin written");
        child.wait_with_output().expect("output")
    })
    .await
    .expect("join")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn keys_hash_prints_the_sha256_that_the_config_file_takes() {
    let out = infermux_cmd(args(&["keys", "hash"]), vec![], "abc\n").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let empty = infermux_cmd(args(&["keys", "hash"]), vec![], "").await;
    assert_eq!(empty.status.code(), Some(1));
}

#[tokio::test]
async fn keys_create_list_rotate_and_revoke_use_the_management_api_and_its_token() {
    let mock = MockServer::openai().await;
    let yaml = format!(
        r#"
management_token: "admin-token"
providers:
  - {{name: openai, type: openai, api_key: sk-test, base_url: "{}", models: [gpt-4o-mini]}}
"#,
        mock.base_url()
    );
    let infermux = Infermux::start(&yaml).await;
    let url = infermux.management_url("");
    let target = |extra: &[&str]| {
        let mut all = args(&["keys"]);
        all.extend(args(extra));
        all.extend(["--url".to_owned(), url.clone()]);
        all
    };
    let token = vec![("INFERMUX_ADMIN_TOKEN", "admin-token".to_owned())];

    // Without the token the management API refuses, and so does the command.
    let refused = infermux_cmd(target(&["list"]), vec![], "").await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));

    let created = infermux_cmd(
        target(&[
            "create",
            "--name",
            "cli-key",
            "--caller",
            "acme",
            "--monthly-usd",
            "5",
            "--models",
            "gpt-4o-mini,auto",
        ]),
        token.clone(),
        "",
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    let key = made["key"].as_str().expect("key").to_owned();
    let id = made["id"].as_str().expect("id").to_owned();
    assert_eq!(made["models"], json!(["gpt-4o-mini", "auto"]));
    let auth = format!("Bearer {key}");
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("authorization", &auth)],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let listed = infermux_cmd(target(&["list", "--token", "admin-token"]), vec![], "").await;
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains(&id) && !listed.contains(&key), "{listed}");

    let rotated = infermux_cmd(target(&["rotate", &id, "--grace", "0s"]), token.clone(), "").await;
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let rotated: serde_json::Value = serde_json::from_slice(&rotated.stdout).expect("json");
    let new_auth = format!("Bearer {}", rotated["key"].as_str().expect("key"));
    let old = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("authorization", &auth)],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(old.status, 401);

    let revoked = infermux_cmd(target(&["revoke", &id]), token, "").await;
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let after = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("authorization", &new_auth)],
        chat("gpt-4o-mini", json!({})),
    )
    .await;
    assert_eq!(after.status, 401);
}
