//! Anthropic answers decoded into the hub: a complete message, and stream events.
#![no_main]

use infermux_wire::{ChunkDecoder, anthropic::StreamTranslator};
use libfuzzer_sys::fuzz_target;
use sse_stream::Sse;

fuzz_target!(|data: &[u8]| {
    let _ = infermux_wire::anthropic::decode_response(data, 0);
    let text = String::from_utf8_lossy(data);
    let mut translator = StreamTranslator::new(0, true);
    for part in text.split("\n\n") {
        let (event, data) = part.split_once('\n').unwrap_or(("", part));
        let _ = translator.feed(Sse {
            event: Some(event.to_owned()),
            data: Some(data.to_owned()),
            ..Sse::default()
        });
    }
    let _ = translator.finish();
});
