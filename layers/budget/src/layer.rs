//! [`BudgetLayer`]: the recipe for [`Budget`] services.

use std::sync::Arc;

use infermux_core::{SharedClock, SpendStore};
use tokio_util::task::TaskTracker;
use tower::Layer;

use crate::{Budget, BudgetPolicies, WorstCase, service::Shared};

/// Enforces per-caller monthly budgets in front of the routing layers; see the crate docs.
#[derive(Clone, Debug)]
pub struct BudgetLayer {
    shared: Arc<Shared>,
}

impl BudgetLayer {
    /// Budgets `policies` against spend in `store`, dated by `clock`, reserving each
    /// `hard_stop` request's `worst_case`.
    pub fn new(
        store: Arc<dyn SpendStore>,
        clock: SharedClock,
        policies: BudgetPolicies,
        worst_case: WorstCase,
    ) -> Self {
        let release = Arc::new(crate::StoreRelease::new(store.clone(), TaskTracker::new()));
        Self {
            shared: Arc::new(Shared {
                store,
                clock,
                policies,
                worst_case,
                release,
            }),
        }
    }

    /// Releases dropped reservations on tasks of `tasks`, which graceful shutdown awaits.
    #[must_use]
    pub fn with_settlements(self, tasks: TaskTracker) -> Self {
        let Shared {
            store,
            clock,
            policies,
            worst_case,
            ..
        } = &*self.shared;
        Self {
            shared: Arc::new(Shared {
                store: store.clone(),
                clock: clock.clone(),
                policies: policies.clone(),
                worst_case: worst_case.clone(),
                release: Arc::new(crate::StoreRelease::new(store.clone(), tasks)),
            }),
        }
    }
}

impl<S> Layer<S> for BudgetLayer {
    type Service = Budget<S>;

    fn layer(&self, inner: S) -> Budget<S> {
        Budget::from_shared(inner, self.shared.clone())
    }
}
