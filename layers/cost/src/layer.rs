//! [`CostLayer`]: the recipe for [`Cost`] services.

use std::sync::Arc;

use infermux_core::{CallerLabels, PriceTable, SharedClock, SpendStore, TokenCounter};
use tower::Layer;

use crate::{ApproxCounter, Cost, bill::Shared, metrics::CostMetrics};

/// Prices every response's usage and records it in the spend ledger; see the crate docs.
#[derive(Clone, Debug)]
pub struct CostLayer {
    shared: Arc<Shared>,
}

impl CostLayer {
    /// Records costs priced by `prices` into `store`, dated by `clock`. Aborted streams are
    /// counted with [`ApproxCounter`] until [`with_token_counter`](Self::with_token_counter)
    /// gives a tokenizer.
    pub fn new(store: Arc<dyn SpendStore>, prices: PriceTable, clock: SharedClock) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                prices,
                clock,
                counter: Arc::new(ApproxCounter),
                metrics: CostMetrics::default(),
            }),
        }
    }

    /// Counts the text of aborted streams with `counter`.
    #[must_use]
    pub fn with_token_counter(self, counter: Arc<dyn TokenCounter>) -> Self {
        let callers = self.shared.metrics.callers().clone();
        self.rebuilt(counter, callers)
    }

    /// Bounds the `caller` label of the cost metrics with `callers` (unbounded by default).
    #[must_use]
    pub fn with_caller_labels(self, callers: CallerLabels) -> Self {
        let counter = self.shared.counter.clone();
        self.rebuilt(counter, callers)
    }

    fn rebuilt(&self, counter: Arc<dyn TokenCounter>, callers: CallerLabels) -> Self {
        let Shared {
            store,
            prices,
            clock,
            ..
        } = &*self.shared;
        Self {
            shared: Arc::new(Shared {
                store: store.clone(),
                prices: prices.clone(),
                clock: clock.clone(),
                counter,
                metrics: CostMetrics::new(callers),
            }),
        }
    }
}

impl<S> Layer<S> for CostLayer {
    type Service = Cost<S>;

    fn layer(&self, inner: S) -> Cost<S> {
        Cost::from_shared(inner, self.shared.clone())
    }
}
