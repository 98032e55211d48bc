//! [`KeyLayer`]: the recipe for [`Keys`] services.

use std::sync::Arc;

use infermux_budget::WorstCase;
use infermux_core::{SharedClock, SpendStore};
use tower::Layer;

use crate::{KeyRing, Keys, service::Shared};

/// Checks client keys before the budget layer; see the [crate] docs.
#[derive(Clone, Debug)]
pub struct KeyLayer {
    shared: Arc<Shared>,
}

impl KeyLayer {
    /// Checks keys against `ring`, holding per-key spend in `store` (the key accounts'
    /// store, apart from the callers' ledger) priced by `worst_case`, dated by `clock`.
    /// Keys are optional until [`required`](Self::required).
    pub fn new(
        ring: Arc<KeyRing>,
        store: Arc<dyn SpendStore>,
        clock: SharedClock,
        worst_case: WorstCase,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                ring,
                store,
                clock,
                worst_case,
                required: false,
            }),
        }
    }

    /// Whether a request without a key is refused (401 `invalid_api_key`).
    #[must_use]
    pub fn required(self, required: bool) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.shared);
        shared.required = required;
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> Layer<S> for KeyLayer {
    type Service = Keys<S>;

    fn layer(&self, inner: S) -> Keys<S> {
        Keys::from_shared(inner, self.shared.clone())
    }
}
