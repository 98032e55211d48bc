//! The `/v1/messages` request decoder: any body is decoded or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = infermux_wire::messages::decode_request(data, true);
    let _ = infermux_wire::messages::decode_request(data, false);
});
