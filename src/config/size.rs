//! Humane byte sizes in the file: `32MiB`, `1MB`, `512KiB`, or a plain number of bytes.
//!
//! Only whole numbers: `1.5MiB` is refused rather than rounded.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The advice given with every bad size.
const EXAMPLE: &str =
    "write a number of bytes with an optional unit, such as \"32MiB\", \"512KiB\" or \"1MB\"";

/// Units, matched without case. `KiB` and friends are powers of 1024, `KB` of 1000.
const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
];

/// A size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteSize(pub(super) u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

/// Parses `32MiB`, `512 KiB` or `1048576`; on failure, says what is wrong.
fn message(value: &str, why: &str) -> String {
    format!("invalid size \"{value}\" ({why}); {EXAMPLE}")
}

/// What is wrong with `value` as a size, if anything (see `duration::explain`).
pub(super) fn explain(value: &str) -> Option<String> {
    parse(value).err().map(|e| message(value, &e))
}

fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let Some(&(_, multiplier)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        // The unit is not quoted: it may be part of an expanded ${VAR}.
        return Err("unknown unit; use B, KB, MB, GB, KiB, MiB or GiB".to_owned());
    };
    let whole: u64 = number
        .parse()
        .map_err(|_| "a size is a whole number followed by an optional unit".to_owned())?;
    whole
        .checked_mul(multiplier)
        .ok_or_else(|| "the size is too large".to_owned())
}

struct ByteSizeVisitor;

impl Visitor<'_> for ByteSizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as \"32MiB\"")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ByteSize, E> {
        u64::try_from(value)
            .map(ByteSize)
            .map_err(|_| E::custom(format!("invalid size {value} (negative); {EXAMPLE}")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ByteSize, E> {
        Err(E::custom(format!(
            "invalid size {value} (not a whole number of bytes); {EXAMPLE}"
        )))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ByteSize, E> {
        parse(value)
            .map(ByteSize)
            .map_err(|e| E::custom(message(value, &e)))
    }
}

#[cfg(test)]
mod tests {
    use super::{ByteSize, parse};

    #[test]
    fn humane_sizes_parse() {
        assert_eq!(parse("32MiB"), Ok(32 * 1024 * 1024));
        assert_eq!(parse("1MB"), Ok(1_000_000));
        assert_eq!(parse("512KiB"), Ok(512 * 1024));
        assert_eq!(parse("512 kib"), Ok(512 * 1024));
        assert_eq!(parse("100"), Ok(100));
        assert_eq!(parse("100B"), Ok(100));
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert!(
            parse("12 parsecs")
                .expect_err("an error")
                .contains("unknown unit")
        );
        assert!(parse("MiB").is_err());
        assert!(parse("1.5KiB").is_err());
        assert!(parse("99999999999GiB").is_err());
    }

    #[test]
    fn sizes_deserialize_from_numbers_and_strings() {
        assert_eq!(
            serde_saphyr::from_str::<ByteSize>("1048576").ok(),
            Some(ByteSize(1 << 20))
        );
        assert_eq!(
            serde_saphyr::from_str::<ByteSize>("\"32MiB\"").ok(),
            Some(ByteSize(32 << 20))
        );
        let err = serde_saphyr::from_str::<ByteSize>("-5")
            .expect_err("an error")
            .to_string();
        assert!(err.contains("negative"), "{err}");
        let err = serde_saphyr::from_str::<ByteSize>("32 parsecs")
            .expect_err("an error")
            .to_string();
        assert!(err.contains("\"32MiB\""), "{err}");
    }
}
