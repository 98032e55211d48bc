//! Arbitrary requests to the proxy port: route, `X-Infermux-Caller` bytes and body bytes.
//! The edge and ingress refuse what is malformed with a 4xx; nothing panics or answers 500.
#![no_main]

#[path = "stack_once.rs"]
mod stack_once;

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;

const PATHS: &[(&str, &str)] = &[
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", "/chat/completions"),
    ("GET", "/v1/models"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = PATHS[usize::from(selector) % PATHS.len()];
    // Caller header bytes up to the first NUL, the body after it.
    let (caller, body) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut request = Request::new(Full::new(Bytes::copy_from_slice(body)));
    *request.method_mut() = Method::from_bytes(method.as_bytes()).expect("method");
    *request.uri_mut() = path.parse().expect("uri");
    request
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(value) = caller.and_then(|c| HeaderValue::from_bytes(c).ok()) {
        request.headers_mut().insert("x-infermux-caller", value);
    }
    let status = stack_once::exchange(stack_once::ONCE.proxy.clone(), request);
    assert!(status != 500, "a malformed request is not an internal error");
});
