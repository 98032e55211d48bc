//! [`BudgetLayer`]: the recipe for [`Budget`] services.

use std::sync::Arc;

use infermux_core::{SharedClock, SpendStore};
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
        Self {
            shared: Arc::new(Shared {
                store,
                clock,
                policies,
                worst_case,
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
