//! What each caller's budget is and what happens when it is reached.

use std::sync::Arc;

// Looked up for every request of a budgeted caller: foldhash, not SipHash. The keys are the
// configured callers, so a client's names cannot grow it.
use hashbrown::HashMap;

use infermux_core::{Caller, Money};

/// What happens when a caller reaches its budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetAction {
    /// Requests are refused with 429 `budget_exceeded` before any provider is called, once
    /// settled spend plus in-flight reservations reaches the budget.
    HardStop,
    /// Requests go on; crossing each alert threshold is reported once.
    Alert,
    /// From `from` on, requests are sent with `model` instead of the requested model.
    ModelOverride {
        /// The model requests are switched to.
        model: Arc<str>,
        /// The spend at which the switch starts.
        from: Money,
    },
}

/// A fraction of a budget at which an alert fires, and the amount it stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertThreshold {
    /// The fraction of the budget (`0.5`, `1.0`).
    pub fraction: f64,
    /// `fraction` × budget.
    pub amount: Money,
}

/// One caller's monthly budget.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetPolicy {
    budget: Money,
    action: BudgetAction,
    alerts: Vec<AlertThreshold>,
}

impl BudgetPolicy {
    /// A hard cap of `budget` per month.
    pub fn hard_stop(budget: Money) -> Self {
        Self {
            budget,
            action: BudgetAction::HardStop,
            alerts: Vec::new(),
        }
    }

    /// Alerts when spend crosses each of `fractions` of `budget` (`[1.0]`: the budget itself).
    pub fn alert(budget: Money, fractions: &[f64]) -> Self {
        let mut alerts: Vec<AlertThreshold> = fractions
            .iter()
            .map(|&fraction| AlertThreshold {
                fraction,
                amount: fraction_of(budget, fraction),
            })
            .collect();
        alerts.sort_by_key(|a| a.amount);
        alerts.dedup_by_key(|a| a.amount);
        Self {
            budget,
            action: BudgetAction::Alert,
            alerts,
        }
    }

    /// Switches requests to `model` once spend reaches `fraction` of `budget`.
    pub fn model_override(budget: Money, model: impl Into<Arc<str>>, fraction: f64) -> Self {
        Self {
            budget,
            action: BudgetAction::ModelOverride {
                model: model.into(),
                from: fraction_of(budget, fraction),
            },
            alerts: Vec::new(),
        }
    }

    /// The monthly budget.
    pub fn budget(&self) -> Money {
        self.budget
    }

    /// What happens when it is reached.
    pub fn action(&self) -> &BudgetAction {
        &self.action
    }

    /// The alert thresholds, lowest first (empty unless the action is [`BudgetAction::Alert`]).
    pub fn alerts(&self) -> &[AlertThreshold] {
        &self.alerts
    }
}

/// `fraction` × `amount`, exact to the millionth of the fraction.
fn fraction_of(amount: Money, fraction: f64) -> Money {
    let ppm = (fraction.max(0.0) * 1_000_000.0).round() as u128;
    let picos = u128::from(amount.picos()) * ppm / 1_000_000;
    Money::from_picos(u64::try_from(picos).unwrap_or(u64::MAX))
}

/// Every caller's budget; callers without one are not limited.
#[derive(Clone, Debug, Default)]
pub struct BudgetPolicies {
    by_caller: Arc<HashMap<Caller, BudgetPolicy>>,
}

impl BudgetPolicies {
    /// The budgets of `callers`.
    pub fn new(callers: impl IntoIterator<Item = (Caller, BudgetPolicy)>) -> Self {
        Self {
            by_caller: Arc::new(callers.into_iter().collect()),
        }
    }

    /// The budget of `caller`, if it has one.
    pub fn get(&self, caller: &Caller) -> Option<&BudgetPolicy> {
        self.by_caller.get(caller)
    }

    /// Every caller with a budget.
    pub fn iter(&self) -> impl Iterator<Item = (&Caller, &BudgetPolicy)> {
        self.by_caller.iter()
    }

    /// Whether no caller has a budget.
    pub fn is_empty(&self) -> bool {
        self.by_caller.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_of_a_budget_are_exact() {
        let budget = Money::from_usd(50.0).expect("valid");
        let policy = BudgetPolicy::model_override(budget, "gpt-4o-mini", 0.9);
        assert_eq!(
            policy.action(),
            &BudgetAction::ModelOverride {
                model: "gpt-4o-mini".into(),
                from: Money::from_usd(45.0).expect("valid"),
            }
        );
        let alerts = BudgetPolicy::alert(Money::from_picos(1_000_000), &[1.0, 0.5, 0.5]);
        let amounts: Vec<u64> = alerts.alerts().iter().map(|a| a.amount.picos()).collect();
        assert_eq!(amounts, [500_000, 1_000_000]);
    }
}
