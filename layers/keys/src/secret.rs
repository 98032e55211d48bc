//! Making keys and hashing them: the only place a key's secret is handled.
//!
//! A key infermux makes is `imx_` followed by 43 base62 characters (about 256 random bits),
//! drawn from the system's random source by rejection sampling (bytes of 248 and over are
//! dropped, so each symbol is equally likely). Only the SHA-256 of a key is ever kept; at
//! 256 random bits no salt is needed.

use std::fmt;

use ring::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use subtle::ConstantTimeEq;

/// The prefix of every key infermux makes.
pub const KEY_PREFIX: &str = "imx_";

/// Base62 characters after the prefix.
pub const KEY_SYMBOLS: usize = 43;

/// Characters of a key shown where it must be recognised (its display form).
pub const DISPLAY_CHARS: usize = 8;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The SHA-256 of a key: what is stored and compared.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of `key`.
    pub fn of(key: &str) -> Self {
        let digest = digest::digest(&digest::SHA256, key.as_bytes());
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            bytes[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
        }
        Some(Self(bytes))
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Compares in constant time.
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", &self.to_hex()[..12])
    }
}

/// A new key: `imx_` + 43 base62 characters from the system's random source.
pub fn generate() -> Result<String, ring::error::Unspecified> {
    let rng = SystemRandom::new();
    let mut key = String::with_capacity(KEY_PREFIX.len() + KEY_SYMBOLS);
    key.push_str(KEY_PREFIX);
    let mut buffer = [0u8; 64];
    while key.len() < KEY_PREFIX.len() + KEY_SYMBOLS {
        rng.fill(&mut buffer)?;
        for &byte in &buffer {
            // 248 = 4 × 62: the bytes below it map evenly onto the 62 symbols.
            if byte < 248 && key.len() < KEY_PREFIX.len() + KEY_SYMBOLS {
                key.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(key)
}

/// A key's display form: its first [`DISPLAY_CHARS`] characters.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_CHARS).collect()
}

/// A random id for a key made over the API: `key_` + 16 base62 characters.
pub fn new_id() -> Result<String, ring::error::Unspecified> {
    let key = generate()?;
    Ok(format!(
        "key_{}",
        &key[KEY_PREFIX.len()..KEY_PREFIX.len() + 16]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_prefix_and_43_base62_characters_and_differ() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert_eq!(a.len(), 47);
        assert!(a.starts_with("imx_"));
        assert!(a[4..].bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(display_prefix(&a), a[..8]);
    }

    #[test]
    fn hashes_round_trip_through_hex_and_match_the_known_digest() {
        let hash = KeyHash::of("abc");
        assert_eq!(
            hash.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let parsed = KeyHash::from_hex(&hash.to_hex().to_uppercase()).expect("hex");
        assert!(parsed.matches(&hash));
        assert!(!KeyHash::of("abd").matches(&hash));
        assert!(KeyHash::from_hex("zz").is_none());
    }
}
