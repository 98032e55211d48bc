//! One request's bill: who pays, what was reserved, and how to record the cost.

use std::sync::Arc;

use infermux_core::{
    Caller, KeyHold, LedgerEntry, Money, Price, PriceTable, RequestId, Reservation, Served,
    Settled, SettledSlot, SharedClock, SpendStore, StoreFuture, TokenCounter, TokenEstimate, Usage,
};

/// What every [`Cost`](crate::Cost) service of one layer shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SpendStore>,
    pub(crate) prices: PriceTable,
    pub(crate) clock: SharedClock,
    pub(crate) counter: Arc<dyn TokenCounter>,
    pub(crate) metrics: crate::metrics::CostMetrics,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prices", &self.prices)
            .field("clock", &self.clock)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// The accounting of one request, from the call until its cost is recorded.
///
/// Settling or dropping it is the end of the request's accounting: a bill dropped without a
/// cost (the request failed, or no provider produced its response) releases the request's
/// budget reservation.
#[derive(Debug)]
pub(crate) struct Bill {
    pub(crate) shared: Arc<Shared>,
    pub(crate) request_id: RequestId,
    pub(crate) caller: Caller,
    pub(crate) group: Option<Arc<str>>,
    pub(crate) estimate: TokenEstimate,
    pub(crate) reservation: Option<Reservation>,
    /// The client's API key and the spend it holds: charged the same entry as the caller.
    pub(crate) key: Option<KeyHold>,
    /// Where the settled cost is left for the layers above (the request log).
    pub(crate) slot: SettledSlot,
    /// The strategy that ordered the candidates.
    pub(crate) strategy: Option<infermux_core::Strategy>,
}

impl Bill {
    /// The price of the model that served the response, `None` when unpriced.
    pub(crate) fn price(&self, served: &Served) -> Option<Price> {
        self.shared
            .prices
            .price(&served.provider, &served.upstream_model)
    }

    /// The pre-send estimate: the prompt at the input price.
    pub(crate) fn estimate(&self, price: Option<&Price>) -> Money {
        price.map_or(Money::ZERO, |p| p.prompt_cost(self.estimate.prompt_tokens))
    }

    /// Tokens of `text` as `model` counts them.
    pub(crate) fn count(&self, model: &str, text: &str) -> u64 {
        self.shared.counter.count(model, text)
    }

    /// Records `usage` of the response `served` produced (`estimated` when infermux counted
    /// it); returns its cost and the store's settlement, which completes once the entry is
    /// durable.
    pub(crate) fn settle(
        mut self,
        served: &Served,
        usage: Usage,
        estimated: bool,
    ) -> (Money, StoreFuture<()>) {
        let price = self.price(served);
        let cost = price.map_or(Money::ZERO, |p| p.cost(&usage));
        self.slot.set(Settled {
            usage,
            cost,
            estimated,
        });
        let entry = LedgerEntry {
            request_id: self.request_id.clone(),
            at: self.shared.clock.now(),
            caller: self.caller.clone(),
            group: self.group.clone(),
            provider: served.provider.clone(),
            model: served.upstream_model.clone(),
            usage,
            cost,
            priced: price.is_some(),
        };
        self.shared.metrics.record(&entry);
        let store = self.shared.store.clone();
        let month = entry.month();
        let (mut reserved, mut other_month) = (Money::ZERO, None);
        if let Some(reservation) = self.reservation.take()
            && let Some(amount) = reservation.claim()
        {
            // A request admitted on the last day of a month and finished on the first of the
            // next is spent in the new month; its reservation is held in the old one.
            if reservation.month() == month {
                reserved = amount;
            } else {
                other_month = Some((reservation, amount));
            }
        }
        let key = self.key.take().map(|key| key.settle(&entry));
        let settled = store.settle(entry, reserved);
        let settled: StoreFuture<()> = match key {
            None => settled,
            Some(key) => Box::pin(async move {
                let (caller, key) = tokio::join!(settled, key);
                caller.and(key)
            }),
        };
        let settle: StoreFuture<()> = match other_month {
            None => settled,
            Some((reservation, amount)) => Box::pin(async move {
                settled.await?;
                store
                    .release(reservation.caller(), reservation.month(), amount)
                    .await
            }),
        };
        (cost, settle)
    }
}

impl Drop for Bill {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let released = key.release();
            runtime.spawn(async move {
                if let Err(error) = released.await {
                    tracing::warn!(%error, "could not release a key's reservation");
                }
            });
        }
        let Some(reservation) = self.reservation.take() else {
            return;
        };
        let Some(amount) = reservation.claim() else {
            return;
        };
        let released = self
            .shared
            .store
            .release(reservation.caller(), reservation.month(), amount);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = released.await {
                    tracing::warn!(%error, "could not release a budget reservation");
                }
            });
        }
    }
}

/// Counts a token per four bytes of text (rounded up): the counter used when none is given.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApproxCounter;

impl TokenCounter for ApproxCounter {
    fn count(&self, _model: &str, text: &str) -> u64 {
        (text.len() as u64).div_ceil(4)
    }
}

/// Spawns `settle` to completion, logging a failure.
pub(crate) fn spawn_settle(settle: StoreFuture<()>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move { log_settled(settle.await) });
    }
}

/// Logs a failed settlement: the cost was counted in memory but may not be durable.
pub(crate) fn log_settled(result: Result<(), infermux_core::StoreError>) {
    if let Err(error) = result {
        tracing::error!(%error, "a request's cost could not be recorded durably");
    }
}

#[cfg(test)]
mod tests {
    use infermux_budget::MemoryStore;
    use infermux_core::{Month, SystemClock};

    use super::*;

    #[tokio::test]
    async fn reasoning_tokens_are_billed_once_as_the_output_they_are_part_of() {
        let store = Arc::new(MemoryStore::new());
        let o3 = Price::per_million(2.0, 8.0, Some(0.5), None).expect("price");
        let bill = Bill {
            shared: Arc::new(Shared {
                store: store.clone(),
                prices: PriceTable::default().with_price("openai".into(), "o3", o3),
                clock: Arc::new(SystemClock),
                counter: Arc::new(ApproxCounter),
                metrics: crate::metrics::CostMetrics::default(),
            }),
            request_id: "r".into(),
            caller: "a".into(),
            group: None,
            estimate: TokenEstimate::default(),
            reservation: None,
            key: None,
            slot: SettledSlot::new(),
            strategy: None,
        };
        let served = Served {
            provider: "openai".into(),
            upstream_model: "o3".into(),
        };
        // OpenAI counts reasoning inside completion_tokens: 50 output tokens, 40 of them
        // reasoning; 100 prompt tokens, 60 of them cached.
        let usage = Usage {
            prompt_tokens: 100,
            cached_prompt_tokens: 60,
            completion_tokens: 50,
            reasoning_tokens: 40,
            ..Usage::default()
        };
        let (cost, settle) = bill.settle(&served, usage, false);
        settle.await.expect("settled");
        // 40 × $2 + 60 × $0.50 + 50 × $8 = 80 + 30 + 400 = 510 µ$
        assert_eq!(cost.to_plain_decimal(), "0.00051");
        let month = Month::of(std::time::SystemTime::now());
        assert_eq!(store.spent(&"a".into(), month).await, Ok(cost));
    }
}
