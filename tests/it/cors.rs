//! CORS on the proxy port: every `OPTIONS` is answered `204`; `Access-Control-Allow-*` headers
//! only for the origins in `cors.allowed_origins` (none by default, `["*"]` for any).

use crate::common;

use crate::common::{Infermux, chat, send};
use http::Method;

async fn with_cors(cors: &str) -> Infermux {
    Infermux::start(&format!(
        "providers:\n  - {{name: mock, type: mock, models: [mock-chat]}}\n{cors}"
    ))
    .await
}

async fn preflight(infermux: &Infermux, path: &str, origin: &str) -> common::Reply {
    send(
        Method::OPTIONS,
        &infermux.url(path),
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type,x-stainless-os",
            ),
        ],
        "",
    )
    .await
}

const PATHS: [&str; 5] = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/models/mock-chat",
    "/v1/embeddings",
];

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let infermux = with_cors("").await;
    for path in PATHS {
        let reply = preflight(&infermux, path, "https://app.example").await;
        assert_eq!(reply.status, 204, "{path}");
        assert!(reply.body.is_empty());
        let cors: Vec<&str> = reply
            .headers
            .keys()
            .map(http::HeaderName::as_str)
            .filter(|h| h.starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{path}: {cors:?}");
    }
}

#[tokio::test]
async fn listed_origins_get_the_allow_headers_and_others_do_not() {
    let infermux = with_cors(
        "cors:\n  allowed_origins: [\"https://app.example\", \"http://localhost:3000\"]\n",
    )
    .await;
    for path in PATHS {
        let reply = preflight(&infermux, path, "https://app.example").await;
        assert_eq!(reply.status, 204, "{path}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        let methods = reply.header("access-control-allow-methods").unwrap_or("");
        assert!(methods.contains("POST"), "{methods}");
        let headers = reply.header("access-control-allow-headers").unwrap_or("");
        assert!(headers.contains("authorization"), "{headers}");
        assert!(headers.contains("x-stainless-os"), "{headers}");

        let other = preflight(&infermux, path, "https://evil.example").await;
        assert_eq!(other.status, 204);
        assert!(other.header("access-control-allow-origin").is_none());
        assert!(other.header("access-control-allow-methods").is_none());
    }
    // The answer itself carries the origin and exposes infermux's headers.
    let body = chat("mock-chat", serde_json::json!({})).to_string();
    let reply = send(
        Method::POST,
        &infermux.url("/v1/chat/completions"),
        &[
            ("origin", "http://localhost:3000"),
            ("content-type", "application/json"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let exposed = reply.header("access-control-expose-headers").unwrap_or("");
    assert!(exposed.contains("x-infermux-cost"), "{exposed}");
    // Without an Origin (SDKs, curl) nothing changes.
    let reply = send(
        Method::POST,
        &infermux.url("/v1/chat/completions"),
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_star_allows_every_origin() {
    let infermux = with_cors("cors: {allowed_origins: [\"*\"]}\n").await;
    let reply = preflight(&infermux, "/v1/responses", "https://anything.example").await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
}
