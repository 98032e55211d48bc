//! Why the budget layer refused a request.
//!
//! Refusals are errors, not responses: the edge of the stack renders every error in one
//! place, and these two carry what it needs (the 429 `budget_exceeded` message, the 503
//! `budget_store_unavailable` cause).

use std::fmt;

use infermux_core::{Money, StoreError};

/// A `hard_stop` caller is at or over its monthly budget (spend plus in-flight reservations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetExceeded {
    budget: Money,
    spent: Money,
}

impl BudgetExceeded {
    /// The caller's budget is `budget` and it has spent `spent` this month.
    pub const fn new(budget: Money, spent: Money) -> Self {
        Self { budget, spent }
    }

    /// The monthly budget.
    pub const fn budget(&self) -> Money {
        self.budget
    }

    /// The settled spend this month.
    pub const fn spent(&self) -> Money {
        self.spent
    }
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "monthly budget of {} exceeded; current spend: {}",
            self.budget.to_dollars(),
            self.spent.to_dollars()
        )
    }
}

impl std::error::Error for BudgetExceeded {}

/// The spend store cannot answer (Redis down, state file unwritable), so a `hard_stop`
/// caller is refused rather than admitted against spend that cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStoreUnavailable {
    source: StoreError,
}

impl BudgetStoreUnavailable {
    /// The store failed with `source`.
    pub const fn new(source: StoreError) -> Self {
        Self { source }
    }
}

impl fmt::Display for BudgetStoreUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's own message (paths, addresses) stays in the logs.
        f.write_str(
            "the budget store is unavailable, so requests of budgeted callers are refused; see the infermux logs",
        )
    }
}

impl std::error::Error for BudgetStoreUnavailable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_shows_both_amounts_in_dollars() {
        let err = BudgetExceeded::new(
            Money::from_usd(0.000001).expect("valid"),
            Money::from_picos(1_800_000),
        );
        assert_eq!(
            err.to_string(),
            "monthly budget of $0.000001 exceeded; current spend: $0.0000018"
        );
    }
}
