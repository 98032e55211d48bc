//! Passthrough: the `model` splice and the usage observer on arbitrary bytes. A splice that
//! succeeds must leave a body whose `model` is the new one.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    if let Some(out) = infermux_wire::passthrough::replace_model(&body, "claude-opus-4-5") {
        assert!(
            out.windows(17).any(|w| w == b"\"claude-opus-4-5\""),
            "the new model is in the body"
        );
    }
    let mut observer = infermux_wire::passthrough::UsageObserver::new();
    for piece in data.chunks(7) {
        observer.observe(piece);
    }
    let _ = observer.usage();
    let _ = infermux_wire::passthrough::response_usage(data);
});
