//! The most output tokens a model may be asked for.
//!
//! Translations need it twice: a target that requires an output limit (Anthropic) is sent the
//! model's maximum when the client set none, and a client's limit above the target's maximum
//! (Claude Code asks 32000 or 128000; gpt-4o-mini refuses more than 16384) is clamped to it.
//! The maximum itself comes from the model catalog, a parameter here.

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
    fn limits_are_clamped_and_defaulted() {
        assert_eq!(output_limit(Some(32000), Some(16384), None), Some(16384));
        assert_eq!(output_limit(Some(100), Some(16384), None), Some(100));
        assert_eq!(output_limit(None, Some(64000), Some(4096)), Some(64000));
        assert_eq!(output_limit(None, None, Some(4096)), Some(4096));
        assert_eq!(output_limit(Some(7), None, None), Some(7));
    }
}
