//! Arbitrary query strings on the management API's report endpoints: each answers 200, 400
//! or 404, never 500 and never a panic.
#![no_main]

#[path = "stack_once.rs"]
mod stack_once;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;

const PATHS: &[&str] = &[
    "/_infermux/costs",
    "/_infermux/costs/by-model",
    "/_infermux/costs/by-caller",
    "/_infermux/costs/by-group",
    "/_infermux/costs/timeseries",
    "/_infermux/providers",
    "/metrics",
    "/healthz",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, query)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let path = PATHS[usize::from(selector) % PATHS.len()];
    // Only what a client can put on the wire: a query that makes a valid URI.
    let Ok(uri) = format!("{path}?{query}").parse::<http::Uri>() else {
        return;
    };
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.uri_mut() = uri;
    let status = stack_once::exchange(stack_once::ONCE.management.clone(), request);
    assert!(
        matches!(status, 200 | 400 | 404),
        "{path}?{query} answered {status}"
    );
});
