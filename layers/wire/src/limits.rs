//! The most output tokens a model may be asked for.
//!
//! Translations need it twice: a target that requires an output limit (Anthropic) is sent the
//! model's maximum when the client set none, and a client's limit above the target's maximum
//! (Claude Code asks 32000 or 128000; gpt-4o-mini refuses more than 16384) is clamped to it.
//! This is one small lookup so that a model catalog can take its place at its one call site.

/// The output maximum of `model` when known: the Claude 4.5 and 5 families 64000, Claude 3.x
/// 8192 (3.5/3.7 Sonnet) or 4096, gpt-4o and gpt-4o-mini 16384, gpt-4.1 32768, the o-series and
/// gpt-5 100000 / 128000.
pub fn max_output_tokens(model: &str) -> Option<u64> {
    let m = model.to_ascii_lowercase();
    let starts = |p: &str| m.starts_with(p);
    let max = if starts("claude-3-5") || starts("claude-3-7") {
        8192
    } else if starts("claude-3") {
        4096
    } else if starts("claude-opus-4-0") || starts("claude-opus-4-1") || m == "claude-opus-4" {
        32000
    } else if starts("claude") {
        64000
    } else if starts("gpt-4o") || starts("chatgpt-4o") {
        16384
    } else if starts("gpt-4.1") {
        32768
    } else if starts("gpt-5") {
        128000
    } else if starts("o1") || starts("o3") || starts("o4") {
        100000
    } else {
        return None;
    };
    Some(max)
}

/// The limit to send: the client's, clamped to the model's maximum `max` when one is known;
/// the maximum (or `fallback`) when the client set none.
pub fn output_limit(
    requested: Option<u64>,
    max: Option<u64>,
    fallback: Option<u64>,
) -> Option<u64> {
    match (requested, max) {
        (Some(r), Some(max)) => Some(r.min(max)),
        (Some(r), None) => Some(r),
        (None, Some(max)) => Some(max),
        (None, None) => fallback,
    }
}

/// Whether `model` reasons (takes `reasoning_effort`): the o-series and gpt-5 on OpenAI.
pub fn reasons(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| m.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_have_their_maximum() {
        assert_eq!(max_output_tokens("claude-opus-5-5"), Some(64000));
        assert_eq!(max_output_tokens("gpt-4o-mini"), Some(16384));
        assert_eq!(max_output_tokens("llama3.2"), None);
    }

    #[test]
    fn limits_are_clamped_and_defaulted() {
        assert_eq!(
            output_limit(Some(32000), max_output_tokens("gpt-4o-mini"), None),
            Some(16384)
        );
        assert_eq!(
            output_limit(Some(100), max_output_tokens("gpt-4o-mini"), None),
            Some(100)
        );
        assert_eq!(
            output_limit(None, max_output_tokens("claude-sonnet-4-5"), Some(4096)),
            Some(64000)
        );
        assert_eq!(
            output_limit(None, max_output_tokens("mystery"), Some(4096)),
            Some(4096)
        );
        assert_eq!(
            output_limit(Some(7), max_output_tokens("mystery"), None),
            Some(7)
        );
    }
}
