//! The `keys:` section: client API keys declared in the config file.
//!
//! ```yaml
//! keys:
//!   required: false
//!   list:
//!     - name: acme-prod
//!       sha256: "<hex SHA-256 of the key>"   # or key: "${ACME_KEY}"
//!       caller: acme
//!       monthly_usd: 50.00
//!       daily_usd: 5.00
//!       models: [gpt-4o-mini, economy, auto]
//!       rpm: 600
//!       expires: "2027-01-01T00:00:00Z"
//! ```
//! A `key:` given in the file is hashed here and forgotten: only its SHA-256 travels on.

use std::time::SystemTime;

use serde::Deserialize;

use super::{error::Issue, locate::key_path};

/// `keys` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileKeys {
    required: Option<bool>,
    list: Option<Vec<FileKey>>,
}

/// An entry of `keys.list` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    name: String,
    sha256: Option<String>,
    key: Option<String>,
    caller: Option<String>,
    monthly_usd: Option<f64>,
    daily_usd: Option<f64>,
    models: Option<Vec<String>>,
    rpm: Option<u32>,
    expires: Option<String>,
}

/// Client API keys (`keys`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeysConfig {
    /// Whether every proxy request must present a valid key (default `false`).
    pub required: bool,
    /// The keys declared in the file; more are made over the management API.
    pub list: Vec<KeyConfig>,
}

/// One declared key (an entry of `keys.list`).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyConfig {
    /// Its name, unique; reports and error messages show it.
    pub name: String,
    /// The SHA-256 of the key, 64 lower-case hex digits (from `sha256`, or `key` hashed).
    pub sha256: String,
    /// The caller its spend is charged to (default: its name).
    pub caller: String,
    /// Monthly cap in USD.
    pub monthly_usd: Option<f64>,
    /// Daily (UTC) cap in USD.
    pub daily_usd: Option<f64>,
    /// The requested model names it may use (virtual names too); `None`: any.
    pub models: Option<Vec<String>>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// When it stops working.
    pub expires: Option<SystemTime>,
}

/// Checks `keys` and hashes any `key:` given in clear.
pub(super) fn validate(file: Option<FileKeys>) -> Result<KeysConfig, Issue> {
    let file = file.unwrap_or_default();
    let mut list: Vec<KeyConfig> = Vec::new();
    for (i, key) in file.list.unwrap_or_default().into_iter().enumerate() {
        let path = format!("keys.list[{i}]");
        let entry = validate_key(&path, key)?;
        if list.iter().any(|k| k.name == entry.name) {
            return Err(Issue::new(
                key_path(&path, "name"),
                format!("duplicate key name \"{}\"", entry.name),
                "give each key its own name",
            ));
        }
        if list.iter().any(|k| k.sha256 == entry.sha256) {
            return Err(Issue::new(
                path,
                format!("the key \"{}\" is the same as an earlier one", entry.name),
                "give each client its own key",
            ));
        }
        list.push(entry);
    }
    Ok(KeysConfig {
        required: file.required.unwrap_or(false),
        list,
    })
}

fn validate_key(path: &str, key: FileKey) -> Result<KeyConfig, Issue> {
    let name = key.name.trim().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Issue::new(
            key_path(path, "name"),
            "the key name is empty or has spaces or characters a header cannot carry",
            "name the key in printable ASCII without spaces, such as \"acme-prod\"",
        ));
    }
    let sha256 = match (
        key.sha256.filter(|s| !s.trim().is_empty()),
        key.key.filter(|k| !k.is_empty()),
    ) {
        (Some(hex), None) => match infermux_keys::KeyHash::from_hex(&hex) {
            Some(hash) => hash.to_hex(),
            None => {
                return Err(Issue::new(
                    key_path(path, "sha256"),
                    "the sha256 is not 64 hex digits",
                    "write the key's SHA-256 in hex; `infermux keys hash` prints it",
                ));
            }
        },
        (None, Some(secret)) => infermux_keys::KeyHash::of(&secret).to_hex(),
        (Some(_), Some(_)) => {
            return Err(Issue::new(
                path,
                "the key has both `sha256` and `key`",
                "keep one: `sha256` (preferred; the key stays out of the file) or `key: \"${ENV}\"`",
            ));
        }
        (None, None) => {
            return Err(Issue::new(
                path,
                format!("the key \"{name}\" has neither `sha256` nor `key` (or it is empty)"),
                "add `sha256: <hex>` (from `infermux keys hash`) or `key: \"${ENV_VAR}\"`",
            ));
        }
    };
    let usd = |field: &str, value: Option<f64>| -> Result<Option<f64>, Issue> {
        match value {
            Some(v) if !(v.is_finite() && v >= 0.0) => Err(Issue::new(
                key_path(path, field),
                format!("the cap {v} is negative or not a number"),
                "give the cap in USD, 0 or more, such as 50.00",
            )),
            other => Ok(other),
        }
    };
    let monthly_usd = usd("monthly_usd", key.monthly_usd)?;
    let daily_usd = usd("daily_usd", key.daily_usd)?;
    if key.rpm == Some(0) {
        return Err(Issue::new(
            key_path(path, "rpm"),
            "rpm 0 refuses every request",
            "give a positive number of requests per minute, or remove `rpm`",
        ));
    }
    let models = match key.models {
        Some(models) if models.iter().any(|m| m.trim().is_empty()) => {
            return Err(Issue::new(
                key_path(path, "models"),
                "a model name in the list is empty",
                "list the model names clients request, such as [gpt-4o-mini, auto]",
            ));
        }
        other => other,
    };
    let expires = key
        .expires
        .map(|text| {
            humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
                Issue::new(
                    key_path(path, "expires"),
                    format!("`{text}` is not a time: {e}"),
                    "write an RFC 3339 time in UTC, such as \"2027-01-01T00:00:00Z\"",
                )
            })
        })
        .transpose()?;
    let caller = key
        .caller
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| name.clone());
    Ok(KeyConfig {
        name,
        sha256,
        caller,
        monthly_usd,
        daily_usd,
        models,
        rpm: key.rpm,
        expires,
    })
}

#[cfg(test)]
mod tests {
    const PROVIDERS: &str = "providers:\n  - {name: m, type: mock, models: [gpt-4o-mini]}\n";

    fn parse(keys: &str) -> Result<super::KeysConfig, crate::config::ConfigError> {
        let env = |name: &str| (name == "ACME_KEY").then(|| "abc".to_owned());
        crate::config::parse(&format!("{PROVIDERS}{keys}"), "t.yml", &env).map(|c| c.keys)
    }

    #[test]
    fn a_key_from_the_environment_is_kept_only_as_its_hash() {
        let keys = parse(
            "keys:\n  required: true\n  list:\n    - {name: acme, key: \"${ACME_KEY}\", monthly_usd: 5, rpm: 10, expires: \"2027-01-01T00:00:00Z\"}\n",
        )
        .expect("valid");
        assert!(keys.required);
        let key = &keys.list[0];
        assert_eq!(
            key.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(key.caller, "acme", "the caller defaults to the name");
        assert_eq!(key.monthly_usd, Some(5.0));
        assert!(!format!("{keys:?}").contains("\"abc\""));
        let env = |name: &str| (name == "ACME_KEY").then(|| "secret-abc".to_owned());
        let yaml =
            format!("{PROVIDERS}keys:\n  list:\n    - {{name: acme, key: \"${{ACME_KEY}}\"}}\n");
        let summary = crate::config::parse(&yaml, "t.yml", &env)
            .expect("valid")
            .summary();
        assert!(
            summary.contains("keys: optional, 1 in the file: acme"),
            "{summary}"
        );
        assert!(!summary.contains("secret-abc"), "{summary}");
    }

    #[test]
    fn bad_keys_are_refused_with_the_field_named() {
        for (yaml, path, words) in [
            (
                "    - {name: a, sha256: \"xyz\"}\n",
                "keys.list[0].sha256",
                "64 hex",
            ),
            ("    - {name: a}\n", "keys.list[0]", "neither"),
            (
                "    - {name: a, key: x, sha256: \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}\n",
                "keys.list[0]",
                "both",
            ),
            (
                "    - {name: a, key: x}\n    - {name: a, key: y}\n",
                "keys.list[1].name",
                "duplicate",
            ),
            (
                "    - {name: a, key: x, monthly_usd: -1}\n",
                "keys.list[0].monthly_usd",
                "negative",
            ),
            (
                "    - {name: a, key: x, rpm: 0}\n",
                "keys.list[0].rpm",
                "rpm 0",
            ),
            (
                "    - {name: a, key: x, expires: soon}\n",
                "keys.list[0].expires",
                "not a time",
            ),
        ] {
            let error = parse(&format!("keys:\n  list:\n{yaml}")).expect_err(yaml);
            assert_eq!(error.path(), path, "{error}");
            assert!(error.to_string().contains(words), "{error}");
        }
        let unknown =
            parse("keys:\n  list:\n    - {name: a, key: x, monthly: 5}\n").expect_err("unknown");
        assert!(unknown.to_string().contains("monthly_usd"), "{unknown}");
    }
}
