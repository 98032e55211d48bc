//! Humane durations in the file: `500ms`, `10s`, `2m`, `1h 30m`.

use std::fmt;
use std::time::Duration;

use humantime::DurationError;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The advice given with every bad duration.
const EXAMPLE: &str = "write a number with a unit, such as \"500ms\", \"10s\" or \"2m\"";

/// A duration written as a humane string (parsed by `humantime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Humane(pub(super) Duration);

impl<'de> Deserialize<'de> for Humane {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(HumaneVisitor)
    }
}

/// What is wrong, without quoting any part of the value: serde-saphyr redacts an expanded
/// `${VAR}` when the whole value is quoted, but not a piece of it.
fn why(e: &DurationError) -> &'static str {
    match e {
        DurationError::UnknownUnit { unit, .. } if unit.is_empty() => "no unit",
        DurationError::UnknownUnit { .. } => "unknown unit; use ms, s, m or h",
        DurationError::NumberOverflow => "too large",
        DurationError::Empty => "empty",
        DurationError::InvalidCharacter(_) | DurationError::NumberExpected(_) => {
            "not a number followed by a unit"
        }
    }
}

fn message(value: &str, e: &DurationError) -> String {
    format!("invalid duration \"{value}\" ({}); {EXAMPLE}", why(e))
}

/// What is wrong with `value` as a duration, if anything; for values written without
/// `${...}`, whose explanation serde-saphyr withholds once a file interpolates anything.
pub(super) fn explain(value: &str) -> Option<String> {
    humantime::parse_duration(value.trim())
        .err()
        .map(|e| message(value, &e))
}

struct HumaneVisitor;

impl Visitor<'_> for HumaneVisitor {
    type Value = Humane;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"10s\"")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Humane, E> {
        humantime::parse_duration(value.trim())
            .map(Humane)
            .map_err(|e| E::custom(message(value, &e)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Humane;

    fn parse(yaml: &str) -> Result<Humane, String> {
        serde_saphyr::from_str::<Humane>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn humane_strings_parse() {
        assert_eq!(parse("500ms"), Ok(Humane(Duration::from_millis(500))));
        assert_eq!(parse("10s"), Ok(Humane(Duration::from_secs(10))));
        assert_eq!(parse("\"2m\""), Ok(Humane(Duration::from_secs(120))));
        assert_eq!(parse("1h 30m"), Ok(Humane(Duration::from_secs(5400))));
        assert_eq!(parse("0s"), Ok(Humane(Duration::ZERO)));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        let err = parse("10 parsecs").expect_err("an error");
        assert!(
            err.contains("invalid duration \"10 parsecs\" (unknown unit"),
            "{err}"
        );
        assert!(err.contains("\"10s\""), "{err}");
        let err = parse("10").expect_err("an error");
        assert!(err.contains("(no unit)"), "{err}");
        assert!(err.contains("\"10s\""), "{err}");
    }
}
