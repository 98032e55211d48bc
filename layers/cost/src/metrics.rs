//! The cost metrics, recorded once per settled request.

use infermux_core::LedgerEntry;

/// Records `entry` in the Prometheus metrics:
///
/// * `infermux_request_cost_usd{provider,model,caller,group}` — the cost of each request
///   (its `_sum` is the spend in USD, its `_count` the requests);
/// * `infermux_tokens_total{provider,model,caller,group,type}` — `type` is `prompt`,
///   `completion` or `cached` (prompt tokens read from a cache, part of `prompt`);
/// * `infermux_unpriced_requests_total{provider,model}` — requests served by a model with
///   no known price, recorded at $0.
pub(crate) fn record(entry: &LedgerEntry) {
    let provider = entry.provider.to_string();
    let model = entry.model.to_string();
    let caller = entry.caller.to_string();
    let group = entry.group.as_deref().unwrap_or_default().to_owned();
    metrics::histogram!("infermux_request_cost_usd",
        "provider" => provider.clone(), "model" => model.clone(),
        "caller" => caller.clone(), "group" => group.clone())
    .record(entry.cost.as_usd_f64());
    let usage = &entry.usage;
    for (kind, tokens) in [
        ("prompt", usage.prompt_tokens),
        ("completion", usage.completion_tokens),
        ("cached", usage.cached_prompt_tokens),
    ] {
        metrics::counter!("infermux_tokens_total",
            "provider" => provider.clone(), "model" => model.clone(),
            "caller" => caller.clone(), "group" => group.clone(), "type" => kind)
        .increment(tokens);
    }
    if !entry.priced {
        metrics::counter!("infermux_unpriced_requests_total",
            "provider" => provider, "model" => model)
        .increment(1);
    }
}
