//! Errors in Anthropic's shape: `{"type":"error","error":{"type":...,"message":...}}`.

use serde_json::{Value, json};

/// Anthropic's error `type` for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 405 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

/// The JSON bytes of an Anthropic error body.
pub fn error_body(kind: &str, message: &str) -> Vec<u8> {
    json!({"type": "error", "error": {"type": kind, "message": message}})
        .to_string()
        .into_bytes()
}

/// An error body of any provider (OpenAI's `{"error":{"message"}}`, Ollama's `{"error": "..."}`,
/// plain text) re-shaped as Anthropic's, keeping its message; the type follows `status`.
pub fn from_openai_error(status: u16, body: &[u8]) -> Vec<u8> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let message = json
        .as_ref()
        .and_then(|v| {
            let error = v.get("error")?;
            error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("the provider answered HTTP {status}")
            } else {
                text.chars().take(500).collect()
            }
        });
    error_body(error_type(status), &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_keep_their_message() {
        let body: Value = serde_json::from_slice(&from_openai_error(
            404,
            br#"{"error":"model 'x' not found"}"#,
        ))
        .expect("json");
        assert_eq!(
            body,
            json!({"type": "error", "error": {"type": "not_found_error", "message": "model 'x' not found"}})
        );
        let body: Value = serde_json::from_slice(&from_openai_error(
            400,
            br#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
        ))
        .expect("json");
        assert_eq!(body["error"]["message"], "bad");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}
