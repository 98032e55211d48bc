//! [`SettledSlot`]: where the cost layer leaves a response's priced usage for the layers
//! above it (the request log) to read once the response has ended.

use std::sync::{Arc, OnceLock};

use crate::{Money, Strategy, Usage};

/// A response's accounting, once the cost layer has settled it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// The tokens charged.
    pub usage: Usage,
    /// Their exact cost, the same amount the ledger recorded.
    pub cost: Money,
    /// Whether the usage was counted by infermux (the provider reported none, or the stream
    /// ended early) rather than reported by the provider.
    pub estimated: bool,
}

/// A shared, write-once [`Settled`]: the cost layer puts one in the extensions of every
/// response a provider served and fills it when the cost is known (at once for a complete
/// body, at the end or drop of a stream).
#[derive(Clone, Debug, Default)]
pub struct SettledSlot(Arc<OnceLock<Settled>>);

impl SettledSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the settlement; the first record wins.
    pub fn set(&self, settled: Settled) {
        let _ = self.0.set(settled);
    }

    /// The settlement, once recorded.
    pub fn get(&self) -> Option<Settled> {
        self.0.get().copied()
    }
}

/// How a served request was routed: the cost layer puts it in the extensions of every
/// response that came back from below the routing layers, for the request log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routed {
    /// The route group that matched, if any.
    pub group: Option<Arc<str>>,
    /// The strategy that ordered the candidates.
    pub strategy: Option<Strategy>,
}
