//! The `cors:` section: which browser origins may call the proxy API.
//!
//! ```yaml
//! cors:
//!   allowed_origins: ["https://app.example.com", "http://localhost:3000"]   # or ["*"]
//! ```
//! Default: none, so browsers get no `Access-Control-Allow-*` headers; preflights are still
//! answered `204`.

use serde::Deserialize;

use super::error::Issue;

/// `cors` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCors {
    allowed_origins: Option<Vec<String>>,
}

/// Browser access to the proxy API (`cors`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// The origins (`scheme://host[:port]`) allowed to call the proxy API from a browser;
    /// `["*"]` allows any. Empty (the default): none.
    pub allowed_origins: Vec<String>,
}

impl CorsConfig {
    /// Whether any origin is allowed (`["*"]`).
    pub fn allows_any(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

/// Checks `cors`: each origin is `*` alone, or `scheme://host[:port]` without a path.
pub(super) fn validate(file: Option<FileCors>) -> Result<CorsConfig, Issue> {
    let origins = file.and_then(|f| f.allowed_origins).unwrap_or_default();
    for (i, origin) in origins.iter().enumerate() {
        let path = format!("cors.allowed_origins[{i}]");
        if origin == "*" {
            if origins.len() > 1 {
                return Err(Issue::new(
                    path,
                    "`*` allows every origin, so listing others beside it means nothing",
                    "keep either [\"*\"] or the list of origins",
                ));
            }
            continue;
        }
        let well_formed = origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains('/')
                && rest.chars().all(|c| c.is_ascii_graphic())
        });
        if !well_formed {
            return Err(Issue::new(
                path,
                format!("`{origin}` is not an origin"),
                "write scheme://host[:port] with no path or trailing slash, such as \"https://app.example.com\"",
            ));
        }
    }
    Ok(CorsConfig {
        allowed_origins: origins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(origins: &[&str]) -> Result<CorsConfig, Issue> {
        validate(Some(FileCors {
            allowed_origins: Some(origins.iter().map(|o| (*o).to_owned()).collect()),
        }))
    }

    #[test]
    fn origins_are_checked() {
        assert!(check(&["*"]).expect("any").allows_any());
        assert!(check(&["https://a.example", "http://localhost:3000"]).is_ok());
        assert!(check(&["https://a.example/"]).is_err());
        assert!(check(&["a.example"]).is_err());
        assert!(check(&["*", "https://a.example"]).is_err());
        assert_eq!(validate(None).expect("default"), CorsConfig::default());
    }
}
