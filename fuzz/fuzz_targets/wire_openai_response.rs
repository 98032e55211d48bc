//! OpenAI answers: usage read from a complete body, and the stream filter over arbitrary events.
#![no_main]

use infermux_wire::{ChunkDecoder, openai::StreamFilter};
use libfuzzer_sys::fuzz_target;
use sse_stream::Sse;

fuzz_target!(|data: &[u8]| {
    let _ = infermux_wire::openai::decode_usage(data);
    let text = String::from_utf8_lossy(data);
    let mut filter = StreamFilter::new(false);
    for part in text.split("\n\n") {
        let _ = filter.feed(Sse {
            data: Some(part.to_owned()),
            ..Sse::default()
        });
    }
    let _ = filter.finish();
});
