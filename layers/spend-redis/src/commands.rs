//! One function per store operation against Redis, each a single round trip.

use std::{collections::BTreeMap, sync::Arc, time::SystemTime};

use infermux_core::{
    Caller, CallerTotals, Hour, HourTotals, LedgerEntry, Money, Month, ProviderName, SpendSummary,
    WasteByProvider, WasteReason, WasteTotals,
};
use redis::{RedisResult, aio::ConnectionManager};

use crate::{
    keys::{self, MonthKeys},
    scripts,
};

/// One reservation: whose, in which month, how much, and the name of its hold marker.
#[derive(Clone, Debug)]
pub(crate) struct Reservation {
    /// Whose.
    pub(crate) caller: Caller,
    /// Of which month.
    pub(crate) month: Month,
    /// How much.
    pub(crate) amount: Money,
    /// Unique among the reservations of the fleet.
    pub(crate) id: String,
}

/// Reserves unless the cap forbids it: (admitted, settled spend).
pub(crate) async fn reserve(
    mut conn: ConnectionManager,
    ns: &str,
    reservation: &Reservation,
    cap: Option<Money>,
    hold_ttl: u64,
    now: SystemTime,
) -> RedisResult<(bool, Money)> {
    let keys = MonthKeys::new(ns, reservation.month);
    let cap = cap.map(|cap| cap.picos().to_string()).unwrap_or_default();
    let (admitted, spent): (i64, u64) = scripts::RESERVE
        .key(keys.key("caller:cost"))
        .key(keys.key("reserved"))
        .key(keys.hold(&reservation.id))
        .arg(reservation.caller.as_str())
        .arg(reservation.amount.picos())
        .arg(cap)
        .arg(keys::month_ttl(reservation.month, now))
        .arg(hold_ttl)
        .invoke_async(&mut conn)
        .await?;
    Ok((admitted == 1, Money::from_picos(spent)))
}

/// Cancels a reservation whose reply was lost, if it landed.
pub(crate) async fn cancel(
    mut conn: ConnectionManager,
    ns: &str,
    reservation: &Reservation,
) -> RedisResult<()> {
    let keys = MonthKeys::new(ns, reservation.month);
    let _cancelled: i64 = scripts::CANCEL
        .key(keys.hold(&reservation.id))
        .key(keys.key("reserved"))
        .arg(reservation.caller.as_str())
        .invoke_async(&mut conn)
        .await?;
    Ok(())
}

/// Releases `amount` of `caller`'s reservations in `month`.
pub(crate) async fn release(
    mut conn: ConnectionManager,
    ns: &str,
    caller: &Caller,
    month: Month,
    amount: Money,
) -> RedisResult<()> {
    scripts::RELEASE
        .key(MonthKeys::new(ns, month).key("reserved"))
        .arg(caller.as_str())
        .arg(amount.picos())
        .invoke_async(&mut conn)
        .await
}

/// Records `entry` once per request id and releases `release` of its caller's reservations.
/// `replay` marks a retry of a settlement that may already have landed. Returns whether the
/// entry was counted now, and the caller's settled spend in the entry's month after it.
pub(crate) async fn settle(
    mut conn: ConnectionManager,
    ns: &str,
    entry: &LedgerEntry,
    release: Money,
    replay: bool,
    marker_ttl: u64,
    now: SystemTime,
) -> RedisResult<(bool, Money)> {
    let month = entry.month();
    let keys = MonthKeys::new(ns, month);
    let (counted, spent): (i64, u64) = scripts::SETTLE
        .key(keys.settled(entry.request_id.as_str(), entry.at))
        .key(keys.key("reserved"))
        .key(keys.key("totals"))
        .key(keys.key("provider"))
        .key(keys.key("model"))
        .key(keys.key("group"))
        .key(keys.key("caller:cost"))
        .key(keys.key("caller:requests"))
        .key(keys.key("caller:prompt"))
        .key(keys.key("caller:completion"))
        .key(keys.key("caller:cached"))
        .key(keys.hour(Hour::of(entry.at)))
        .key(keys.key("waste:cost"))
        .key(keys.key("waste:requests"))
        .key(keys.key("caller:estimated"))
        .arg(entry.caller.as_str())
        .arg(release.picos())
        .arg(if replay { "1" } else { "0" })
        .arg(entry.provider.as_str())
        .arg(&*entry.model)
        .arg(entry.group.as_deref().unwrap_or_default())
        .arg(entry.cost.picos())
        .arg(entry.usage.prompt_tokens)
        .arg(entry.usage.completion_tokens)
        .arg(entry.usage.cached_prompt_tokens)
        .arg(if entry.priced { "1" } else { "0" })
        .arg(keys::month_ttl(month, now))
        .arg(keys::hour_ttl(Hour::of(entry.at), now))
        .arg(marker_ttl)
        .arg(if entry.estimated { "1" } else { "0" })
        .arg(
            entry
                .waste
                .map(|reason| format!("{reason}:{}", entry.provider))
                .unwrap_or_default(),
        )
        .invoke_async(&mut conn)
        .await?;
    Ok((counted == 1, Money::from_picos(spent)))
}

/// The settled spend of `caller` in `month`.
pub(crate) async fn spent(
    mut conn: ConnectionManager,
    ns: &str,
    caller: &Caller,
    month: Month,
) -> RedisResult<Money> {
    let spent: Option<u64> = redis::cmd("HGET")
        .arg(MonthKeys::new(ns, month).key("caller:cost"))
        .arg(caller.as_str())
        .query_async(&mut conn)
        .await?;
    Ok(Money::from_picos(spent.unwrap_or_default()))
}

/// One counter hash read whole.
type Counters = BTreeMap<String, u64>;

/// The month's ledger, read in one MULTI/EXEC so that its breakdowns add up.
pub(crate) async fn summary(
    mut conn: ConnectionManager,
    ns: &str,
    month: Month,
) -> RedisResult<SpendSummary> {
    let keys = MonthKeys::new(ns, month);
    let mut pipe = redis::pipe();
    pipe.atomic();
    for name in [
        "totals",
        "provider",
        "model",
        "group",
        "caller:cost",
        "caller:requests",
        "caller:prompt",
        "caller:completion",
        "caller:cached",
        "waste:cost",
        "waste:requests",
        "caller:estimated",
    ] {
        pipe.hgetall(keys.key(name));
    }
    #[allow(clippy::type_complexity)]
    let (
        totals,
        provider,
        model,
        group,
        cost,
        requests,
        prompt,
        completion,
        cached,
        waste_cost,
        waste_requests,
        caller_estimated,
    ): (
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
        Counters,
    ) = pipe.query_async(&mut conn).await?;

    let mut callers: BTreeMap<Caller, CallerTotals> = BTreeMap::new();
    for (name, requests) in requests {
        let field = |counters: &Counters| counters.get(&name).copied().unwrap_or_default();
        let totals = CallerTotals {
            cost: Money::from_picos(field(&cost)),
            requests,
            prompt_tokens: field(&prompt),
            completion_tokens: field(&completion),
            cached_prompt_tokens: field(&cached),
            estimated: Money::from_picos(field(&caller_estimated)),
        };
        callers.insert(Caller::new(name), totals);
    }
    let money = |counters: Counters| -> BTreeMap<Arc<str>, Money> {
        counters
            .into_iter()
            .map(|(name, picos)| (Arc::from(name), Money::from_picos(picos)))
            .collect()
    };
    Ok(SpendSummary {
        total: Money::from_picos(totals.get("cost").copied().unwrap_or_default()),
        requests: totals.get("requests").copied().unwrap_or_default(),
        unpriced_requests: totals.get("unpriced").copied().unwrap_or_default(),
        by_provider: provider
            .into_iter()
            .map(|(name, picos)| (ProviderName::new(name), Money::from_picos(picos)))
            .collect(),
        by_model: money(model),
        by_group: money(group),
        callers,
        estimated: Money::from_picos(totals.get("estimated_cost").copied().unwrap_or_default()),
        estimated_requests: totals
            .get("estimated_requests")
            .copied()
            .unwrap_or_default(),
        waste: waste(waste_cost, &waste_requests),
    })
}

/// The waste hashes (fields `reason:provider`) by provider and reason; a reason this version
/// does not know is left out.
fn waste(cost: Counters, requests: &Counters) -> WasteByProvider {
    let mut out = WasteByProvider::new();
    for (field, picos) in cost {
        let Some((reason, provider)) = field.split_once(':') else {
            continue;
        };
        let Some(reason) = WasteReason::parse(reason) else {
            continue;
        };
        let totals = WasteTotals {
            requests: requests.get(&field).copied().unwrap_or_default(),
            cost: Money::from_picos(picos),
        };
        out.entry(ProviderName::new(provider))
            .or_default()
            .insert(reason, totals);
    }
    out
}

/// Spend per hour for `hours` hours from `first`, oldest first.
pub(crate) async fn hourly(
    mut conn: ConnectionManager,
    ns: &str,
    first: Hour,
    hours: u32,
) -> RedisResult<Vec<HourTotals>> {
    if hours == 0 {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for offset in 0..u64::from(hours) {
        pipe.cmd("HMGET")
            .arg(keys::hour_key(ns, Hour(first.0 + offset)))
            .arg("cost")
            .arg("requests");
    }
    let buckets: Vec<(Option<u64>, Option<u64>)> = pipe.query_async(&mut conn).await?;
    Ok(buckets
        .into_iter()
        .map(|(cost, requests)| HourTotals {
            cost: Money::from_picos(cost.unwrap_or_default()),
            requests: requests.unwrap_or_default(),
        })
        .collect())
}
