//! Failed attempts that a provider billed.
//!
//! Some failures still cost money: a provider that answers 5xx or 429 with a `usage` object in
//! its error body, an answer that reports its usage but is not a valid response of the
//! provider's API (infermux rejects it and fails over), a stream that reported usage and broke
//! before anything reached the client. The [`ProviderError`] of such an attempt carries the
//! usage ([`ProviderError::billed`]); dispatch hands each one to the request's
//! [`AttemptBilling`](infermux_core::AttemptBilling) callback, which the cost layer set, so it
//! is charged to the caller and reported as waste even though no response of it ever reaches
//! the cost layer.

use infermux_core::{BilledAttempt, Candidate, InferRequest, Usage, WasteReason};
use infermux_wire::{openai, passthrough};

use super::{ProviderError, WireFormat};

/// The usage a provider reported in `body` (an error answer, or an answer that did not
/// decode), read in the shape of its wire format; `None` when it reported none.
pub(crate) fn usage_in(wire: WireFormat, body: &[u8]) -> Option<Usage> {
    let usage = match wire {
        WireFormat::Anthropic => passthrough::response_usage(body),
        WireFormat::OpenAi | WireFormat::Ollama => openai::decode_usage(body).ok(),
    };
    usage.filter(|u| u.prompt_tokens > 0 || u.completion_tokens > 0)
}

/// Marks `error` as billed with the usage in `body`, when the provider reported some.
pub(crate) fn mark(
    error: ProviderError,
    wire: WireFormat,
    body: &[u8],
    reason: WasteReason,
) -> ProviderError {
    match usage_in(wire, body) {
        Some(usage) => error.with_billed(usage, reason),
        None => error,
    }
}

/// Hands a failed attempt the provider billed to the request's billing callback, if any.
pub(crate) fn charge(
    request: &InferRequest,
    candidate: &Candidate,
    attempt: usize,
    error: &ProviderError,
) {
    let (Some((usage, reason)), Some(billing)) = (error.billed(), &request.billed_attempts) else {
        return;
    };
    tracing::info!(
        request_id = %request.request_id,
        provider = %candidate.provider,
        reason = reason.as_str(),
        "the failed attempt was billed by the provider; charging it as waste",
    );
    billing.charge(
        request,
        BilledAttempt {
            provider: candidate.provider.clone(),
            upstream_model: candidate.upstream_model.clone(),
            usage,
            reason,
            attempt,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_read_from_error_bodies_in_each_wire_shape() {
        let openai_body = br#"{"error":{"message":"overloaded"},"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;
        let usage = usage_in(WireFormat::OpenAi, openai_body).expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (12, 3));
        let anthropic_body = br#"{"type":"message","content":7,"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":2}}"#;
        let usage = usage_in(WireFormat::Anthropic, anthropic_body).expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (15, 2));
        assert_eq!(usage.cached_prompt_tokens, 5);
    }

    #[test]
    fn bodies_without_usage_bill_nothing() {
        for body in [
            &br#"{"error":{"message":"overloaded"}}"#[..],
            br#"{"usage":{"prompt_tokens":0,"completion_tokens":0}}"#,
            b"<html>bad gateway</html>",
            b"",
        ] {
            assert_eq!(usage_in(WireFormat::OpenAi, body), None);
            assert_eq!(usage_in(WireFormat::Anthropic, body), None);
        }
    }
}
