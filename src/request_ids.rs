//! Fresh request ids: UUID v4 text, made without drawing random bits per request.

use infermux_core::RequestId;

/// A new request id in UUID v4 form, made from a random key drawn once per process and a
/// counter run through a bijective mix of 62 bits (the bits a v4 UUID keeps below its variant):
/// ids never repeat within a process (short of 2^62 of them) and differ between replicas,
/// without drawing random bits and formatting a `Uuid` through `Display` per request.
fn fresh_text() -> [u8; uuid::fmt::Hyphenated::LENGTH] {
    const BITS_62: u64 = (1 << 62) - 1;
    static KEY: std::sync::LazyLock<(u64, u64)> =
        std::sync::LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (high, low) = *KEY;
    // Xor-shifts and odd multipliers are bijections modulo 2^62.
    let mut x = n.wrapping_add(low) & BITS_62;
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9) & BITS_62;
    x ^= x >> 29;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb) & BITS_62;
    x ^= x >> 32;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&x.to_be_bytes());
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text);
    text
}

/// A fresh request id (see [`fresh_text`]).
pub(crate) fn fresh() -> RequestId {
    let text = fresh_text();
    RequestId::new(std::str::from_utf8(&text).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_request_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| fresh().as_str().to_owned()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let uuid = uuid::Uuid::parse_str(id).expect("uuid");
            assert_eq!(uuid.get_version_num(), 4, "{id}");
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }
}
