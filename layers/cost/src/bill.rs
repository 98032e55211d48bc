//! One request's bill: who pays, what was reserved, and how to record the cost.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use infermux_core::{
    Caller, DeferredCount, KeyHold, LedgerEntry, Money, Price, PriceTable, RequestId, Reservation,
    Served, Settled, SettledSlot, SharedClock, SpendStore, StoreFuture, Strategy, TokenCounter,
    TokenEstimate, Usage, UsageSlot,
};

/// What every [`Cost`](crate::Cost) service of one layer shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SpendStore>,
    pub(crate) prices: PriceTable,
    pub(crate) clock: SharedClock,
    pub(crate) counter: Arc<dyn TokenCounter>,
    pub(crate) metrics: crate::metrics::CostMetrics,
    /// Where settlements run, detached from the client's connection; graceful shutdown
    /// waits for them.
    pub(crate) tasks: tokio_util::task::TaskTracker,
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
    /// The prompt's count, when ingress left it to be made if needed.
    pub(crate) deferred_count: Option<DeferredCount>,
    pub(crate) reservation: Option<Reservation>,
    /// The client's API key and the spend it holds: charged the same entry as the caller.
    pub(crate) key: Option<KeyHold>,
    /// Where the settled cost is left for the layers above (the request log).
    pub(crate) slot: SettledSlot,
    /// The strategy that ordered the candidates.
    pub(crate) strategy: Option<Strategy>,
}

impl Bill {
    /// The price of the model that served the response, `None` when unpriced.
    pub(crate) fn price(&self, served: &Served) -> Option<&Price> {
        self.shared
            .prices
            .price(&served.provider, &served.upstream_model)
    }

    /// The pre-send estimate: the prompt at the input price.
    pub(crate) fn estimate(&self, price: Option<&Price>) -> Money {
        price.map_or(Money::ZERO, |p| p.prompt_cost(self.estimate.prompt_tokens))
    }

    /// Settles a response whose usage the provider did not report, or reported only in part
    /// (a stream that ended early): the prompt as counted at ingress (or as reported), and
    /// the generated `text` counted here, off the runtime's workers when it is large. The
    /// usage charged is also put in `out`. Marked estimated.
    pub(crate) fn settle_counted(
        self,
        served: Served,
        partial: Option<Usage>,
        text: String,
        out: Option<UsageSlot>,
        waste: Option<crate::WasteReason>,
    ) -> Settling {
        let counter = self.shared.counter.clone();
        let tasks = self.shared.tasks.clone();
        let task = async move {
            let counted = count(counter, served.upstream_model.clone(), text).await;
            let usage = counted_usage(partial, self.estimate.prompt_tokens, counted);
            if let Some(out) = out {
                out.set(usage);
            }
            let (_, settle) = self.settle_as(&served, usage, true, waste);
            settle.await;
        };
        Settling::new(
            &tasks,
            Box::pin(async move {
                task.await;
                Ok(())
            }),
        )
    }

    /// The prompt tokens of the request: the estimate ingress counted, or the count it left
    /// to be made, made now on the blocking pool.
    pub(crate) async fn prompt_tokens(&self) -> u64 {
        let Some(deferred) = self.deferred_count.clone() else {
            return self.estimate.prompt_tokens;
        };
        tokio::task::spawn_blocking(move || deferred.count())
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%error, "counting a prompt failed; charging its output only");
                0
            })
    }

    /// Whether the settlement's writes are grouped with those made after it in the same turn
    /// of the runtime (see [`SpendStore::groups_writes`]): its caller's store or its key's.
    pub(crate) fn groups_writes(&self) -> bool {
        self.shared.store.groups_writes() || self.key.as_ref().is_some_and(KeyHold::groups_writes)
    }

    /// Records `usage` of the response `served` produced (`estimated` when infermux counted
    /// it because the provider did not report it); returns its cost and the settlement.
    ///
    /// The settlement runs on its own task, detached from the caller: dropping the returned
    /// [`Settling`] (the client went away, the drain timed out) never loses the spend.
    pub(crate) fn settle(
        self,
        served: &Served,
        usage: Usage,
        estimated: bool,
    ) -> (Money, Settling) {
        self.settle_as(served, usage, estimated, None)
    }

    /// [`settle`](Self::settle), marking the spend as `waste` when it bought no answer the
    /// client received.
    pub(crate) fn settle_as(
        mut self,
        served: &Served,
        usage: Usage,
        estimated: bool,
        waste: Option<crate::WasteReason>,
    ) -> (Money, Settling) {
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
            estimated,
            waste,
        };
        self.shared.metrics.record(&entry, estimated);
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
        (cost, Settling::new(&self.shared.tasks, settle))
    }
}

/// A settlement in flight: completes once the cost is durable in the store.
///
/// It is first polled in place, so that a store which records the cost at once (the state
/// file's journal, memory) costs no task; a settlement that has to wait moves to a task of
/// the layer's tracker, and one dropped before it was polled is moved there too: dropping
/// this only stops waiting, never the settlement.
pub(crate) struct Settling {
    /// Not moved to a task (yet): the settlement and the tracker it would move to.
    in_place: Option<(StoreFuture<()>, tokio_util::task::TaskTracker)>,
    /// The task it moved to.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Settling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settling")
            .field("in_place", &self.in_place.is_some())
            .finish_non_exhaustive()
    }
}

impl Settling {
    fn new(tasks: &tokio_util::task::TaskTracker, settle: StoreFuture<()>) -> Self {
        Self {
            in_place: Some((settle, tasks.clone())),
            task: None,
        }
    }

    /// Moves the settlement to a task, when there is a runtime to run it on.
    fn detach(&mut self) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current()
            && let Some((settle, tasks)) = self.in_place.take()
        {
            self.task = Some(tasks.spawn_on(async move { log_settled(settle.await) }, &runtime));
        }
    }
}

impl Future for Settling {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some((settle, _)) = this.in_place.as_mut() {
            if let Poll::Ready(result) = settle.as_mut().poll(cx) {
                log_settled(result);
                this.in_place = None;
                return Poll::Ready(());
            }
            this.detach();
        }
        if let Some(task) = this.task.as_mut() {
            // A task that panicked has nothing left to wait for.
            let _ = ready!(Pin::new(task).poll(cx));
            this.task = None;
        }
        if this.in_place.is_some() {
            // No runtime to move it to: it goes on being polled here.
            return Poll::Pending;
        }
        Poll::Ready(())
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        self.detach();
    }
}

impl Drop for Bill {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let released = key.release();
            self.shared.tasks.spawn_on(
                async move {
                    if let Err(error) = released.await {
                        tracing::warn!(%error, "could not release a key's reservation");
                    }
                },
                &runtime,
            );
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
            self.shared.tasks.spawn_on(
                async move {
                    if let Err(error) = released.await {
                        tracing::warn!(%error, "could not release a budget reservation");
                    }
                },
                &runtime,
            );
        }
    }
}

/// The usage charged when the provider's is missing or partial: what it reported, with the
/// prompt as counted at ingress when it reported none, and at least the `counted` output.
pub(crate) fn counted_usage(partial: Option<Usage>, prompt_estimate: u64, counted: u64) -> Usage {
    let partial = partial.unwrap_or_default();
    Usage {
        prompt_tokens: if partial.prompt_tokens > 0 {
            partial.prompt_tokens
        } else {
            prompt_estimate
        },
        completion_tokens: partial.completion_tokens.max(counted),
        ..partial
    }
}

/// Texts longer than this are counted on the blocking pool, never on a runtime worker: a
/// BPE tokenizer takes about 25 ms per MiB.
pub const INLINE_COUNT_LIMIT: usize = 16 * 1024;

/// Tokens of `text` for `model`: inline when short, on the blocking pool when long or when
/// the tokenizer is still to be loaded.
pub(crate) async fn count(counter: Arc<dyn TokenCounter>, model: Arc<str>, text: String) -> u64 {
    if text.len() <= INLINE_COUNT_LIMIT && counter.ready(&model) {
        return counter.count(&model, &text);
    }
    let fallback = ApproxCounter.count(&model, &text);
    tokio::task::spawn_blocking(move || counter.count(&model, &text))
        .await
        .unwrap_or(fallback)
}

/// Counts a token per four bytes of text (rounded up): the counter used when none is given.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApproxCounter;

impl TokenCounter for ApproxCounter {
    fn count(&self, _model: &str, text: &str) -> u64 {
        (text.len() as u64).div_ceil(4)
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
                tasks: tokio_util::task::TaskTracker::new(),
            }),
            request_id: "r".into(),
            caller: "a".into(),
            group: None,
            estimate: TokenEstimate::default(),
            deferred_count: None,
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
        settle.await;
        // 40 × $2 + 60 × $0.50 + 50 × $8 = 80 + 30 + 400 = 510 µ$
        assert_eq!(cost.to_plain_decimal(), "0.00051");
        let month = Month::of(std::time::SystemTime::now());
        assert_eq!(store.spent(&"a".into(), month).await, Ok(cost));
    }

    /// A settlement that finishes once `go` is sent, and counts itself in `done`.
    fn waiting(
        done: &Arc<std::sync::atomic::AtomicUsize>,
    ) -> (StoreFuture<()>, tokio::sync::oneshot::Sender<()>) {
        let (go, wait) = tokio::sync::oneshot::channel();
        let done = done.clone();
        let settle: StoreFuture<()> = Box::pin(async move {
            wait.await.ok();
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        (settle, go)
    }

    #[tokio::test]
    async fn a_settlement_that_finishes_at_once_needs_no_task() {
        let tasks = tokio_util::task::TaskTracker::new();
        let settling = Settling::new(&tasks, Box::pin(std::future::ready(Ok(()))));
        settling.await;
        assert!(tasks.is_empty(), "no task was spawned");
    }

    #[tokio::test]
    async fn a_waiting_settlement_moves_to_a_task_and_outlives_its_waiter() {
        let tasks = tokio_util::task::TaskTracker::new();
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // Polled once, then dropped (the client went away).
        let (settle, go) = waiting(&done);
        let mut settling = Settling::new(&tasks, settle);
        assert!(futures_util::poll!(&mut settling).is_pending());
        assert_eq!(tasks.len(), 1, "the rest runs on a task");
        drop(settling);
        // Never polled at all.
        let (settle, go_too) = waiting(&done);
        drop(Settling::new(&tasks, settle));
        assert_eq!(tasks.len(), 2);
        go.send(()).ok();
        go_too.send(()).ok();
        tasks.close();
        tasks.wait().await;
        assert_eq!(
            done.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "both ran"
        );
    }
}
