//! The scoring: how each strategy orders a request's candidates, and why.
//!
//! Plain code over plain inputs (prices, the provider board, the token estimate), so every
//! ordering rule is unit-tested without a service around it.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use infermux_core::{
    Candidate, CircuitState, Price, PriceTable, ProviderBoard, RouteContext, Strategy,
};

use crate::{UnpricedModel, turns::Turns};

/// What to do with a candidate that is a hosted model without a price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unpriced {
    /// Keep it; `cost_weighted` ranks it last (`unpriced: warn`).
    #[default]
    Warn,
    /// Drop it; refuse the request when no priced candidate is left (`unpriced: reject`).
    Reject,
}

/// The outcome of ranking: the candidates in order (the first is the choice, the rest the
/// failover order) and one short line saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The candidates, best first.
    pub candidates: Vec<Candidate>,
    /// Why, for the `X-Infermux-Route-Reason` header.
    pub reason: String,
}

/// One candidate and what is known about it.
#[derive(Clone, Debug)]
struct Scored<'p> {
    candidate: Candidate,
    /// Not routable: health check failed or circuit open. Ranked after every routable one.
    unavailable: Option<&'static str>,
    /// The price, when it was looked up and found.
    price: Option<&'p Price>,
    latency: Option<Duration>,
}

/// Orders candidates by strategy, from prices, the live provider board and the prompt-token
/// estimate. Cheap to clone; round-robin state is shared between clones.
///
/// Rules common to every strategy: candidates that are not routable (failed health check or
/// open circuit) go after all routable ones, in the order the strategy gives them; ties keep
/// the incoming (declared) order.
#[derive(Clone, Debug)]
pub struct Ranker {
    prices: Arc<PriceTable>,
    board: ProviderBoard,
    unpriced: Unpriced,
    turns: Arc<Turns>,
}

impl Ranker {
    /// A ranker over `prices` and `board`, handling unpriced candidates per `unpriced`.
    pub fn new(prices: PriceTable, board: ProviderBoard, unpriced: Unpriced) -> Self {
        Self {
            prices: Arc::new(prices),
            board,
            unpriced,
            turns: Arc::new(Turns::new()),
        }
    }

    /// Orders `route.candidates` for a request for `model` with `prompt_tokens` by
    /// `route.strategy` (priority when unset). `overridden` says the strategy came from the
    /// client's `X-Infermux-Strategy` header, which the reason then mentions.
    pub fn decide(
        &self,
        model: &str,
        route: &RouteContext,
        prompt_tokens: u64,
        overridden: bool,
    ) -> Result<Decision, UnpricedModel> {
        let strategy = route.strategy.unwrap_or(Strategy::Priority);
        // Prices matter to cost_weighted and to dropping unpriced candidates; skip the
        // lookups otherwise.
        let priced = strategy == Strategy::CostWeighted || self.unpriced == Unpriced::Reject;
        let mut scored = self.score(&route.candidates, priced);
        if self.unpriced == Unpriced::Reject {
            let (priced, unpriced): (Vec<_>, Vec<_>) =
                scored.into_iter().partition(|s| s.price.is_some());
            if priced.is_empty() && !unpriced.is_empty() {
                let unpriced = unpriced.into_iter().map(|s| s.candidate).collect();
                return Err(UnpricedModel::new(model, unpriced));
            }
            scored = priced;
        }
        let mut reason = String::with_capacity(96);
        reason.push_str(strategy.as_str());
        reason.push_str(": ");
        match strategy {
            Strategy::Priority => priority(&mut scored, &mut reason),
            Strategy::RoundRobin => {
                let key = route.group.as_deref().unwrap_or(model);
                round_robin(&mut scored, self.turns.next(key), &mut reason);
            }
            Strategy::LeastLatency => least_latency(&mut scored, &mut reason),
            Strategy::CostWeighted => cost_weighted(&mut scored, prompt_tokens, &mut reason),
        }
        if overridden {
            reason.push_str(" (X-Infermux-Strategy)");
        }
        Ok(Decision {
            candidates: scored.into_iter().map(|s| s.candidate).collect(),
            reason,
        })
    }

    fn score(&self, candidates: &[Candidate], priced: bool) -> Vec<Scored<'_>> {
        candidates
            .iter()
            .map(|candidate| {
                let status = self.board.get(&candidate.provider);
                let unavailable = status.and_then(|s| {
                    if s.is_routable() {
                        None
                    } else if s.circuit() == CircuitState::Open {
                        Some("circuit open")
                    } else {
                        Some("unhealthy")
                    }
                });
                Scored {
                    price: priced
                        .then(|| {
                            self.prices
                                .price(&candidate.provider, &candidate.upstream_model)
                        })
                        .flatten(),
                    latency: status.and_then(|s| s.latency_ewma()),
                    unavailable,
                    candidate: candidate.clone(),
                }
            })
            .collect()
    }
}

// === the four strategies ===

/// Declared order; unavailable providers last.
fn priority(scored: &mut [Scored<'_>], reason: &mut String) {
    scored.sort_by_key(|s| s.unavailable.is_some());
    describe(scored, reason, |_, _| " > ", |_, _| {});
}

/// Rotates the routable candidates by `turn`; unavailable providers last, in declared order.
fn round_robin(scored: &mut [Scored<'_>], turn: usize, reason: &mut String) {
    scored.sort_by_key(|s| s.unavailable.is_some());
    let healthy = scored.iter().filter(|s| s.unavailable.is_none()).count();
    if healthy > 0 {
        scored[..healthy].rotate_left(turn % healthy);
    }
    let _ = write!(
        reason,
        "turn {} of {healthy} healthy: ",
        turn % healthy.max(1) + 1
    );
    describe(scored, reason, |_, _| " > ", |_, _| {});
}

/// Untried providers first (they must be measured to be chosen), then the lowest moving
/// average of recent latency.
fn least_latency(scored: &mut [Scored<'_>], reason: &mut String) {
    // Stable: ties keep declared order. The keys are cheap, so they are not cached (which
    // would allocate a vector of them per request).
    scored.sort_by_key(|s| (s.unavailable.is_some(), s.latency.is_some(), s.latency));
    describe(
        scored,
        reason,
        |_, _| " < ",
        |s, out| match s.latency {
            Some(latency) => {
                let _ = write!(out, " {:.1}ms", latency.as_secs_f64() * 1000.0);
            }
            None => out.push_str(" untried"),
        },
    );
}

/// Lowest estimated cost (prompt tokens x input price of the model sent), so a $0 provider
/// always wins; unpriced providers after every priced one. Ties go to the lower per-token
/// input price, then declared order.
fn cost_weighted(scored: &mut [Scored<'_>], prompt_tokens: u64, reason: &mut String) {
    let cost = |s: &Scored<'_>| s.price.map(|p| p.prompt_cost(prompt_tokens));
    // Stable: ties keep declared order. A key is a multiplication: not worth a vector of
    // cached keys per request.
    scored.sort_by_key(|s| {
        (
            s.unavailable.is_some(),
            s.price.is_none(),
            cost(s),
            s.price.map(|p| p.input),
        )
    });
    let key = |s: &Scored<'_>| (s.unavailable.is_some(), cost(s));
    let separator = |a: &Scored<'_>, b: &Scored<'_>| if key(a) == key(b) { " = " } else { " < " };
    describe(scored, reason, separator, |s, out| match cost(s) {
        Some(cost) => {
            out.push_str(" $");
            cost.push_plain_decimal(out);
        }
        None => out.push_str(" unpriced"),
    });
}

// === the reason line ===

/// Candidates named in a route reason; the rest are counted, to keep the header short.
const MAX_LISTED: usize = 8;

/// Appends `name<detail>` for each of the first [`MAX_LISTED`] candidates, joined by what
/// `separator(previous, next)` says, marking unavailable ones.
fn describe(
    scored: &[Scored<'_>],
    reason: &mut String,
    separator: impl Fn(&Scored<'_>, &Scored<'_>) -> &'static str,
    detail: impl Fn(&Scored<'_>, &mut String),
) {
    for (i, s) in scored.iter().enumerate() {
        if i == MAX_LISTED {
            let _ = write!(reason, " ... +{} more", scored.len() - MAX_LISTED);
            return;
        }
        if i > 0 {
            reason.push_str(separator(&scored[i - 1], s));
        }
        reason.push_str(s.candidate.provider.as_str());
        detail(s, reason);
        if let Some(why) = s.unavailable {
            let _ = write!(reason, " ({why})");
        }
    }
}

#[cfg(test)]
#[path = "rank_tests.rs"]
mod tests;
