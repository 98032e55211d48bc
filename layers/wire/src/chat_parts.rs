//! Pieces of an OpenAI chat request that every translation to another API reads the same way.

use serde_json::{Map, Value};

/// Parses a tool call's JSON-encoded `arguments` into the object Anthropic and Ollama want;
/// an empty string is an empty object. The error says what is wrong, to follow the field name.
pub fn tool_arguments(arguments: &str) -> Result<Map<String, Value>, &'static str> {
    if arguments.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(arguments) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("is not a JSON object"),
        Err(_) => Err("is not valid JSON"),
    }
}

/// Whether `url` is a `data:` URL (of any encoding).
pub fn is_data_url(url: &str) -> bool {
    url.get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
}

/// Splits a `data:<mime>;base64,<data>` URL into its media type and base64 data.
pub fn base64_data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.get(5..).filter(|_| is_data_url(url))?.split_once(',')?;
    let (params, encoding) = meta.rsplit_once(';')?;
    if !encoding.eq_ignore_ascii_case("base64") {
        return None;
    }
    let media_type = params.split(';').next()?;
    (!media_type.is_empty()).then_some((media_type, data))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tool_arguments_must_be_a_json_object() {
        assert_eq!(tool_arguments("").map(Value::Object), Ok(json!({})));
        assert_eq!(
            tool_arguments(r#"{"a":1}"#).map(Value::Object),
            Ok(json!({"a": 1}))
        );
        assert_eq!(tool_arguments("[1]"), Err("is not a JSON object"));
        assert_eq!(tool_arguments("{oops"), Err("is not valid JSON"));
    }

    #[test]
    fn base64_data_urls_give_media_type_and_data() {
        assert_eq!(
            base64_data_url("data:image/png;base64,iVBO"),
            Some(("image/png", "iVBO"))
        );
        assert_eq!(
            base64_data_url("DATA:image/png;charset=x;BASE64,iVBO"),
            Some(("image/png", "iVBO"))
        );
        assert_eq!(base64_data_url("data:image/png,rawbytes"), None);
        assert_eq!(base64_data_url("https://example.com/a.png"), None);
        assert!(is_data_url("data:image/png,raw") && !is_data_url("https://x"));
    }
}
