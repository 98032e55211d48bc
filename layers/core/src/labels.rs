//! [`CallerLabels`]: a bounded set of caller names for metric labels.
//!
//! Callers are named by a client header, so a client can invent as many as it likes; every
//! distinct label value is a series the metrics registry keeps forever. Callers with a
//! configured budget (or key) always keep their name; of the others, the first `max` seen
//! keep theirs and every later one is counted as [`CallerLabels::OTHER`].

use std::{
    collections::HashSet,
    sync::{Arc, PoisonError, RwLock},
};

use crate::Caller;

/// Which callers' names may appear as metric label values; see the module docs.
#[derive(Clone, Debug)]
pub struct CallerLabels {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pinned: HashSet<Caller>,
    max: usize,
    admitted: RwLock<HashSet<Caller>>,
}

impl CallerLabels {
    /// The label of callers beyond the bound.
    pub const OTHER: &'static str = "other";

    /// Keeps the names of `pinned` callers and of at most `max` others.
    pub fn new(max: usize, pinned: impl IntoIterator<Item = Caller>) -> Self {
        Self {
            inner: Arc::new(Inner {
                pinned: pinned.into_iter().collect(),
                max,
                admitted: RwLock::new(HashSet::new()),
            }),
        }
    }

    /// No bound: every caller keeps its name (for tests and trusted callers).
    pub fn unbounded() -> Self {
        Self::new(usize::MAX, [])
    }

    /// The label value for `caller`: its own name, or [`Self::OTHER`].
    pub fn label(&self, caller: &Caller) -> Caller {
        let inner = &*self.inner;
        if inner.pinned.contains(caller) {
            return caller.clone();
        }
        {
            let admitted = inner
                .admitted
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if admitted.contains(caller) {
                return caller.clone();
            }
            if admitted.len() >= inner.max {
                return Caller::new(Self::OTHER);
            }
        }
        let mut admitted = inner
            .admitted
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if admitted.contains(caller) || admitted.len() < inner.max {
            admitted.insert(caller.clone());
            caller.clone()
        } else {
            Caller::new(Self::OTHER)
        }
    }
}

impl Default for CallerLabels {
    fn default() -> Self {
        Self::unbounded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_beyond_the_bound_are_other_and_pinned_callers_keep_their_name() {
        let labels = CallerLabels::new(2, [Caller::new("free-tier")]);
        let label = |name: &str| labels.label(&Caller::new(name)).to_string();
        assert_eq!(label("a"), "a");
        assert_eq!(label("b"), "b");
        assert_eq!(label("c"), "other");
        assert_eq!(label("a"), "a", "an admitted caller keeps its name");
        assert_eq!(
            label("free-tier"),
            "free-tier",
            "budgeted callers always do"
        );
        let distinct: HashSet<String> = (0..300).map(|i| label(&format!("x{i}"))).collect();
        assert_eq!(distinct.len(), 1);
    }
}
