//! [`CostLayer`]: the recipe for [`Cost`] services.

use std::sync::Arc;

use infermux_core::{CallerLabels, PriceTable, SharedClock, SpendStore, TokenCounter};
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
            }),
        }
    }

    /// Runs settlements on tasks of `tasks`, which graceful shutdown awaits.
    #[must_use]
    pub fn with_settlements(self, tasks: TaskTracker) -> Self {
        self.rebuilt(|parts| parts.tasks = tasks)
    }

    /// Counts the text of aborted streams with `counter`.
    #[must_use]
    pub fn with_token_counter(self, counter: Arc<dyn TokenCounter>) -> Self {
        self.rebuilt(|parts| parts.counter = counter)
    }

    /// Bounds the `caller` label of the cost metrics with `callers` (unbounded by default).
    #[must_use]
    pub fn with_caller_labels(self, callers: CallerLabels) -> Self {
        self.rebuilt(|parts| parts.callers = callers)
    }

    /// The same layer with `change` made to its parts (metrics registered afresh).
    fn rebuilt(&self, change: impl FnOnce(&mut Parts)) -> Self {
        let shared = &*self.shared;
        let mut parts = Parts {
            counter: shared.counter.clone(),
            callers: shared.metrics.callers().clone(),
            tasks: shared.tasks.clone(),
        };
        change(&mut parts);
        Self {
            shared: Arc::new(Shared {
                store: shared.store.clone(),
                prices: shared.prices.clone(),
                clock: shared.clock.clone(),
                counter: parts.counter,
                metrics: CostMetrics::new(parts.callers),
                tasks: parts.tasks,
            }),
        }
    }
}

/// What the `with_*` builders of [`CostLayer`] may replace.
struct Parts {
    counter: Arc<dyn TokenCounter>,
    callers: CallerLabels,
    tasks: TaskTracker,
}

impl<S> Layer<S> for CostLayer {
    type Service = Cost<S>;

    fn layer(&self, inner: S) -> Cost<S> {
        Cost::from_shared(inner, self.shared.clone())
    }
}
