//! Where clients put their key: `Authorization: Bearer <key>` (the OpenAI SDKs) or
//! `x-api-key: <key>` (the Anthropic SDKs).

use http::{HeaderMap, header};
use infermux_core::ClientKey;

/// The Anthropic SDKs' key header.
const X_API_KEY: header::HeaderName = header::HeaderName::from_static("x-api-key");

/// The key a request presents, if any: an infermux key (`imx_...`) from either header first,
/// else the `Authorization` bearer token, else `x-api-key` (some clients send a placeholder
/// in one header and the key in the other).
pub fn presented(headers: &HeaderMap) -> Option<ClientKey> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        });
    let api_key = headers
        .get(X_API_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let ours = |k: &&str| k.starts_with(crate::KEY_PREFIX);
    bearer
        .filter(ours)
        .or(api_key.filter(ours))
        .or(bearer)
        .or(api_key)
        .filter(|k| !k.is_empty())
        .map(ClientKey::new)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens_and_x_api_key_are_read() {
        let mut headers = HeaderMap::new();
        assert!(presented(&headers).is_none());
        headers.insert("x-api-key", HeaderValue::from_static("imx_b"));
        assert_eq!(
            presented(&headers)
                .map(|k| k.expose().to_owned())
                .as_deref(),
            Some("imx_b")
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer imx_a"),
        );
        assert_eq!(
            presented(&headers)
                .map(|k| k.expose().to_owned())
                .as_deref(),
            Some("imx_a")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(
            presented(&headers)
                .map(|k| k.expose().to_owned())
                .as_deref(),
            Some("imx_b")
        );
    }
}
