//! [`StoreRelease`]: the owned-guard side of a reservation: releases it in the store when the
//! request that held it ends without a settlement.

use std::sync::Arc;

use infermux_core::{Caller, Money, Month, ReleaseHook, SpendStore};
use tokio_util::task::TaskTracker;

/// Releases dropped, unsettled reservations in `store`, on tasks of `tasks` so that graceful
/// shutdown waits for them.
pub struct StoreRelease {
    store: Arc<dyn SpendStore>,
    tasks: TaskTracker,
}

impl StoreRelease {
    /// Releases into `store`, tracked by `tasks`.
    pub fn new(store: Arc<dyn SpendStore>, tasks: TaskTracker) -> Self {
        Self { store, tasks }
    }
}

impl std::fmt::Debug for StoreRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreRelease")
            .field("tasks", &self.tasks)
            .finish_non_exhaustive()
    }
}

impl ReleaseHook for StoreRelease {
    fn release(&self, caller: &Caller, month: Month, amount: Money) {
        let released = self.store.release(caller, month, amount);
        let task = async move {
            if let Err(error) = released.await {
                tracing::warn!(%error, "could not release a budget reservation");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(self.tasks.spawn_on(task, &runtime)),
            Err(_) => tracing::warn!(
                %caller, "a budget reservation was dropped outside a runtime and is not released"
            ),
        }
    }
}
