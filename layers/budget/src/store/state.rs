//! The spend ledger in memory: month summaries, hourly buckets, and open reservations.
//!
//! Both stores of this crate keep their numbers in one [`SpendState`] behind a mutex; every
//! operation is a short, synchronous update, so no lock is ever held across an `.await`.

use std::collections::BTreeMap;

// Open reservations are looked up twice per request: foldhash, not SipHash.
use hashbrown::HashMap;

use infermux_core::{Admission, Caller, Hour, HourTotals, LedgerEntry, Money, Month, SpendSummary};

/// Hours of hourly buckets kept: 35 days, so that a 31-day time series is always complete.
pub(crate) const RETAINED_HOURS: u64 = 35 * 24;

/// Months of summaries kept (the current one and the eleven before it).
const RETAINED_MONTHS: usize = 12;

/// Every number a spend store keeps.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpendState {
    /// Settled spend per month, summed every way the reports show it.
    pub(crate) months: BTreeMap<Month, SpendSummary>,
    /// Settled spend per hour.
    pub(crate) hours: BTreeMap<Hour, HourTotals>,
    /// Budget held by requests in flight, per caller and month. Never persisted: a restart
    /// ends every request that held one.
    reserved: HashMap<(Caller, Month), Money>,
}

impl SpendState {
    /// Reserves `amount` unless settled spend plus reservations is at or over `cap`, or
    /// `amount` would take it over.
    pub(crate) fn reserve(
        &mut self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> Admission {
        let spent = self.spent(caller, month);
        let key = (caller.clone(), month);
        let held = self.reserved.get(&key).copied().unwrap_or_default();
        if let Some(cap) = cap {
            let committed = spent.saturating_add(held);
            if committed >= cap || committed.saturating_add(amount) > cap {
                return Admission::Refused { spent };
            }
        }
        if amount > Money::ZERO {
            self.reserved.insert(key, held.saturating_add(amount));
        }
        Admission::Admitted { spent }
    }

    /// Releases `amount` of `caller`'s reservations in `month`.
    pub(crate) fn release(&mut self, caller: &Caller, month: Month, amount: Money) {
        if amount == Money::ZERO {
            return;
        }
        let key = (caller.clone(), month);
        if let Some(held) = self.reserved.get_mut(&key) {
            *held = held.saturating_sub(amount);
            if *held == Money::ZERO {
                self.reserved.remove(&key);
            }
        }
    }

    /// Adds `entry` to its month and hour.
    pub(crate) fn apply(&mut self, entry: &LedgerEntry) {
        let summary = self.months.entry(entry.month()).or_default();
        summary.total = summary.total.saturating_add(entry.cost);
        summary.requests += 1;
        if !entry.priced {
            summary.unpriced_requests += 1;
        }
        add(&mut summary.by_provider, entry.provider.clone(), entry.cost);
        add(&mut summary.by_model, entry.model.clone(), entry.cost);
        if let Some(group) = &entry.group {
            add(&mut summary.by_group, group.clone(), entry.cost);
        }
        if entry.estimated {
            summary.estimated = summary.estimated.saturating_add(entry.cost);
            summary.estimated_requests += 1;
        }
        if let Some(reason) = entry.waste {
            let by_reason = summary.waste.entry(entry.provider.clone()).or_default();
            by_reason.entry(reason).or_default().add(entry.cost);
        }
        let caller = summary.callers.entry(entry.caller.clone()).or_default();
        caller.cost = caller.cost.saturating_add(entry.cost);
        caller.requests += 1;
        caller.prompt_tokens += entry.usage.prompt_tokens;
        caller.completion_tokens += entry.usage.completion_tokens;
        caller.cached_prompt_tokens += entry.usage.cached_prompt_tokens;
        if entry.estimated {
            caller.estimated = caller.estimated.saturating_add(entry.cost);
        }
        while self.months.len() > RETAINED_MONTHS {
            self.months.pop_first();
        }

        let hour = Hour::of(entry.at);
        let bucket = self.hours.entry(hour).or_default();
        bucket.cost = bucket.cost.saturating_add(entry.cost);
        bucket.requests += 1;
        let oldest_kept = Hour(self.latest_hour().0.saturating_sub(RETAINED_HOURS));
        while self
            .hours
            .first_key_value()
            .is_some_and(|(h, _)| *h < oldest_kept)
        {
            self.hours.pop_first();
        }
    }

    /// The caller's settled spend in `month`.
    pub(crate) fn spent(&self, caller: &Caller, month: Month) -> Money {
        self.months
            .get(&month)
            .and_then(|m| m.callers.get(caller))
            .map(|c| c.cost)
            .unwrap_or_default()
    }

    /// The month's ledger, summed.
    pub(crate) fn summary(&self, month: Month) -> SpendSummary {
        self.months.get(&month).cloned().unwrap_or_default()
    }

    /// `hours` hourly totals from `first` on.
    pub(crate) fn hourly(&self, first: Hour, hours: u32) -> Vec<HourTotals> {
        (0..u64::from(hours))
            .map(|i| {
                self.hours
                    .get(&Hour(first.0 + i))
                    .copied()
                    .unwrap_or_default()
            })
            .collect()
    }

    fn latest_hour(&self) -> Hour {
        self.hours
            .last_key_value()
            .map_or(Hour(0), |(hour, _)| *hour)
    }
}

fn add<K: Ord>(map: &mut BTreeMap<K, Money>, key: K, cost: Money) {
    let slot = map.entry(key).or_default();
    *slot = slot.saturating_add(cost);
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::{Duration, SystemTime};

    use infermux_core::Usage;

    use super::*;

    pub(crate) fn at(rfc3339: &str) -> SystemTime {
        humantime::parse_rfc3339(rfc3339).expect("valid time")
    }

    pub(crate) fn entry(caller: &str, cost: u64, when: SystemTime) -> LedgerEntry {
        LedgerEntry {
            request_id: format!("r-{cost}").as_str().into(),
            at: when,
            caller: caller.into(),
            group: Some("fast".into()),
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            usage: Usage {
                prompt_tokens: 8,
                completion_tokens: 1,
                ..Usage::default()
            },
            cost: Money::from_picos(cost),
            priced: true,
            estimated: false,
            waste: None,
        }
    }

    #[test]
    fn reservations_count_against_the_cap_until_released() {
        let mut state = SpendState::default();
        let month = Month::of(at("2026-03-14T10:00:00Z"));
        let cap = Some(Money::from_picos(100));
        let a: Caller = "a".into();
        assert!(matches!(
            state.reserve(&a, month, Money::from_picos(60), cap),
            Admission::Admitted { .. }
        ));
        // 60 held + 50 > 100: refused; 40 fits exactly.
        assert!(matches!(
            state.reserve(&a, month, Money::from_picos(50), cap),
            Admission::Refused { .. }
        ));
        assert!(matches!(
            state.reserve(&a, month, Money::from_picos(40), cap),
            Admission::Admitted { .. }
        ));
        // At the cap, even nothing is refused.
        assert!(matches!(
            state.reserve(&a, month, Money::ZERO, cap),
            Admission::Refused { .. }
        ));
        state.release(&a, month, Money::from_picos(60));
        assert!(matches!(
            state.reserve(&a, month, Money::from_picos(60), cap),
            Admission::Admitted { spent } if spent == Money::ZERO
        ));
    }

    #[test]
    fn months_are_separate_and_hours_bucket_by_start() {
        let mut state = SpendState::default();
        let march = at("2026-03-31T23:30:00Z");
        state.apply(&entry("a", 5, march));
        state.apply(&entry("a", 7, march + Duration::from_secs(1800)));
        let m = Month::of(march);
        let april = Month::of(march + Duration::from_secs(1800));
        assert_eq!(state.spent(&"a".into(), m), Money::from_picos(5));
        assert_eq!(state.spent(&"a".into(), april), Money::from_picos(7));
        let hours = state.hourly(Hour::of(march), 2);
        assert_eq!(hours[0].cost, Money::from_picos(5));
        assert_eq!(hours[1].cost, Money::from_picos(7));
    }

    #[test]
    fn old_hours_are_dropped_after_35_days() {
        let mut state = SpendState::default();
        let start = at("2026-01-01T00:00:00Z");
        state.apply(&entry("a", 1, start));
        state.apply(&entry(
            "a",
            1,
            start + Duration::from_secs(3600 * RETAINED_HOURS),
        ));
        assert_eq!(state.hours.len(), 2);
        state.apply(&entry(
            "a",
            1,
            start + Duration::from_secs(3600 * (RETAINED_HOURS + 1)),
        ));
        assert_eq!(state.hours.len(), 2);
    }
}
