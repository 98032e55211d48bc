//! Ollama answers decoded into the hub: a complete chat answer, and NDJSON streams split at an
//! arbitrary point.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = infermux_wire::ollama::decode_chat(data, "chatcmpl-fuzz", 0);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut translator = infermux_wire::ollama::NdjsonTranslator::new("chatcmpl-fuzz".to_owned(), 0, true);
    let _ = translator.push(&data[..split]);
    let _ = translator.push(&data[split..]);
    let _ = translator.finish();
});
