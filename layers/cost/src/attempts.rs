//! Failed attempts that their provider billed: charged to the request's caller and key, and
//! marked as waste.
//!
//! Dispatch fails over from an attempt that errored; when the provider reported usage for it
//! (an error answer with `usage`, an answer rejected after decoding, a stream that broke
//! before reaching the client), the provider bills it, so infermux charges it too. Such an
//! attempt never reaches this layer as a response: dispatch hands it to the
//! [`AttemptBilling`] callback built here, which prices it with its own provider's price and
//! records it as its own ledger entry (`<request id>.attempt-<n>`: counted once, even when
//! replayed), with [`LedgerEntry::waste`] set. The request's reservation stays with the
//! answer that is finally served.

use std::sync::Arc;

use infermux_core::{AttemptBilling, BilledAttempt, InferRequest, LedgerEntry, Money};

use crate::bill::{Shared, log_settled};

/// The billing callback of every request's failed attempts.
pub(crate) fn billing(shared: &Arc<Shared>) -> AttemptBilling {
    let shared = shared.clone();
    AttemptBilling::new(move |request: &InferRequest, attempt: BilledAttempt| {
        let price = shared
            .prices
            .price(&attempt.provider, &attempt.upstream_model);
        let cost = price.map_or(Money::ZERO, |p| p.cost(&attempt.usage));
        let entry = LedgerEntry {
            request_id: format!("{}.attempt-{}", request.request_id, attempt.attempt)
                .as_str()
                .into(),
            at: shared.clock.now(),
            caller: request.caller.clone(),
            group: request.route.group.clone(),
            provider: attempt.provider,
            model: attempt.upstream_model,
            usage: attempt.usage,
            cost,
            priced: price.is_some(),
            estimated: false,
            waste: Some(attempt.reason),
        };
        shared.metrics.record(&entry, false);
        let charged = request.key.as_ref().map(|key| key.charge(&entry));
        let settled = shared.store.settle(entry, Money::ZERO);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("no runtime to record a billed failed attempt on");
            return;
        };
        shared.tasks.spawn_on(
            async move {
                log_settled(settled.await);
                if let Some(charged) = charged {
                    log_settled(charged.await);
                }
            },
            &runtime,
        );
    })
}
