//! The OpenAI-stream-to-Anthropic-events encoder, fed arbitrary bytes split at an arbitrary
//! point: it must end in `message_stop` or `error`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut encoder = infermux_wire::messages::StreamEncoder::new("m", 1);
    let mut out = Vec::new();
    encoder.feed(&data[..split], &mut out);
    encoder.feed(&data[split..], &mut out);
    encoder.finish(None, &mut out);
    let _ = infermux_wire::messages::encode_response(data, None);
    let _ = infermux_wire::messages::from_openai_error(400, data);
});
