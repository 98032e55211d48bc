//! A passed-through chat chunk read in one search: never a panic, and on any valid JSON the
//! same error and usage facts as one search per member name.
#![no_main]

use infermux_core::StreamText;
use infermux_wire::{chat_chunk::ChatChunk, scan::keys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chunk = ChatChunk::scan(data);
    let mut text = StreamText::default();
    chunk.append_text(&mut text);
    let _ = text.decode();
    if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
        assert_eq!(chunk.has_error(), keys::ERROR.first_value(data).is_some());
        assert_eq!(chunk.has_usage_object(), keys::USAGE.has_object(data));
    }
});
