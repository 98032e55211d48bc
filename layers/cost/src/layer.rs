//! [`CostLayer`]: the recipe for [`Cost`] services.

use std::sync::Arc;

use infermux_core::{PriceTable, SharedClock, SpendStore, TokenCounter};
use tokio_util::task::TaskTracker;
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
                tasks: TaskTracker::new(),
                waste: Arc::default(),
            }),
        }
    }

    /// Runs settlements on tasks of `tasks`, which graceful shutdown awaits.
    #[must_use]
    pub fn with_settlements(self, tasks: TaskTracker) -> Self {
        let shared = &*self.shared;
        Self {
            shared: Arc::new(Shared {
                store: shared.store.clone(),
                prices: shared.prices.clone(),
                clock: shared.clock.clone(),
                counter: shared.counter.clone(),
                metrics: CostMetrics::default(),
                tasks,
                waste: shared.waste.clone(),
            }),
        }
    }

    /// Counts wasted spend (billed work that bought no delivered answer) in `waste`.
    #[must_use]
    pub fn with_waste(self, waste: Arc<crate::WasteLedger>) -> Self {
        let shared = &*self.shared;
        Self {
            shared: Arc::new(Shared {
                store: shared.store.clone(),
                prices: shared.prices.clone(),
                clock: shared.clock.clone(),
                counter: shared.counter.clone(),
                metrics: CostMetrics::default(),
                tasks: shared.tasks.clone(),
                waste,
            }),
        }
    }

    /// Counts the text of aborted streams with `counter`.
    #[must_use]
    pub fn with_token_counter(self, counter: Arc<dyn TokenCounter>) -> Self {
        let Shared {
            store,
            prices,
            clock,
            tasks,
            waste,
            ..
        } = &*self.shared;
        Self {
            shared: Arc::new(Shared {
                store: store.clone(),
                prices: prices.clone(),
                clock: clock.clone(),
                counter,
                metrics: CostMetrics::default(),
                tasks: tasks.clone(),
                waste: waste.clone(),
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
