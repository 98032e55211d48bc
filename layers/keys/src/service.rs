//! [`Keys`]: checks the client's key, charges its caller, and holds its per-key spend.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::SystemTime,
};

use http::Response;
use infermux_budget::{BudgetStoreUnavailable, WorstCase};
use infermux_core::{
    Admission, BoxError, Caller, InferRequest, KeyHold, Money, Month, Reservation, SharedClock,
    SpendStore,
};
use tower::Service;

use crate::{
    CapWindow, KEY_PREFIX, KeyBudgetExceeded, KeyRateLimited, KeyRing, MAX_KEY_SERIES,
    ModelNotAllowed, ResponseFuture,
};

/// What every [`Keys`] service of one layer shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) ring: Arc<KeyRing>,
    pub(crate) store: Arc<dyn SpendStore>,
    pub(crate) clock: SharedClock,
    pub(crate) worst_case: WorstCase,
    pub(crate) required: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("ring", &self.ring)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

/// The key account of key `id` for the month: its spend there is the key's monthly spend.
pub fn month_account(id: &str) -> Caller {
    Caller::new(id)
}

/// The key account of key `id` for the UTC day of `now`.
pub fn day_account(id: &str, now: SystemTime) -> Caller {
    let day = humantime::format_rfc3339_seconds(now).to_string();
    Caller::new(format!("{id}@{}", &day[..10]))
}

/// Checks client keys before `S`; built by [`KeyLayer`](crate::KeyLayer).
#[derive(Clone, Debug)]
pub struct Keys<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Keys<S> {
    pub(crate) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<InferRequest> for Keys<S>
where
    S: Service<InferRequest, Response = Response<B>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: InferRequest) -> Self::Future {
        let keyless = request.client_key.as_ref().is_none_or(|key| {
            // A placeholder while no key exists at all: nothing to look up.
            self.shared.ring.is_empty() && !key.expose().starts_with(KEY_PREFIX)
        });
        if keyless && !self.shared.required {
            // No key, none required: the caller header decides.
            return ResponseFuture::direct(self.inner.call(request));
        }
        // The ready service goes into the future; this one is a fresh clone to be polled.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::admitting(Box::pin(check_and_call(
            self.shared.clone(),
            inner,
            request,
        )))
    }
}

async fn check_and_call<S, B>(
    shared: Arc<Shared>,
    mut inner: S,
    mut request: InferRequest,
) -> Result<Response<B>, BoxError>
where
    S: Service<InferRequest, Response = Response<B>, Error = BoxError>,
{
    // The secret goes no further than this check.
    let presented = request.client_key.take();
    let Some(entry) = shared
        .ring
        .identify(presented.as_ref().map(|key| key.expose()), shared.required)?
    else {
        // No key (or a placeholder credential) while keys are optional.
        return inner.call(request).await;
    };
    drop(presented);
    let record = &entry.record;
    request.caller = entry.caller.clone();
    let model = request.body.model();
    if !entry.allows(model) {
        return Err(ModelNotAllowed::new(record.name.as_str(), model).into());
    }
    if let Some(limiter) = &entry.limiter
        && let Err(not_until) = limiter.check()
    {
        use governor::clock::Clock as _;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        metrics::counter!("infermux_key_rate_limited_total", "key" => label(&shared.ring, &record.name))
            .increment(1);
        return Err(
            KeyRateLimited::new(record.name.as_str(), record.rpm.unwrap_or(0), wait).into(),
        );
    }
    let now = shared.clock.now();
    let month = Month::of(now);
    let worst = shared.worst_case.total(&request);
    let monthly = hold(
        &shared,
        month_account(&record.id),
        month,
        worst,
        entry
            .monthly
            .map(|cap| (cap, CapWindow::Monthly, record.name.as_str())),
    )
    .await?;
    let daily = match hold(
        &shared,
        day_account(&record.id, now),
        month,
        worst,
        entry
            .daily
            .map(|cap| (cap, CapWindow::Daily, record.name.as_str())),
    )
    .await
    {
        Ok(daily) => daily,
        Err(error) => {
            release(&shared.store, &monthly);
            return Err(error);
        }
    };
    let key = KeyHold::new(
        record.id.as_str(),
        record.name.as_str(),
        entry.caller.clone(),
        shared.store.clone(),
        vec![monthly, daily],
    );
    request.key = Some(key.clone());
    let guard = ReleaseOnDrop(Some(key));
    let mut response = inner.call(request).await?;
    // From here the cost layer settles the key's hold when the cost is known.
    if let Some(key) = guard.disarm() {
        // The edge logs who the request was charged to.
        response.extensions_mut().insert(key);
    }
    Ok(response)
}

/// Reserves `worst` in `account` against the cap, if any: the worst case, else (below the
/// cap) what is left, so that no concurrent request is admitted beside it.
async fn hold(
    shared: &Shared,
    account: Caller,
    month: Month,
    worst: Money,
    cap: Option<(Money, CapWindow, &str)>,
) -> Result<Reservation, BoxError> {
    let Some((cap, window, name)) = cap else {
        // No cap: nothing to hold, but the hold still records the key's spend.
        return Ok(Reservation::new(account, month, Money::ZERO));
    };
    let reserve = |amount: Money| {
        let reserved = shared.store.reserve(&account, month, amount, Some(cap));
        async move {
            reserved.await.map_err(|error| {
                tracing::error!(key = name, %error,
                    "the key spend store is unavailable; refusing the capped key's request");
                BudgetStoreUnavailable::new(error)
            })
        }
    };
    let spent = match reserve(worst).await? {
        Admission::Admitted { .. } => return Ok(Reservation::new(account, month, worst)),
        Admission::Refused { spent } => spent,
    };
    let left = cap.saturating_sub(spent);
    if left > Money::ZERO && left < worst {
        match reserve(left).await? {
            Admission::Admitted { .. } => return Ok(Reservation::new(account, month, left)),
            Admission::Refused { spent: now } => {
                return Err(KeyBudgetExceeded::new(window, name, cap, now).into());
            }
        }
    }
    metrics::counter!("infermux_key_budget_rejections_total", "key" => label(&shared.ring, name))
        .increment(1);
    Err(KeyBudgetExceeded::new(window, name, cap, spent).into())
}

fn release(store: &Arc<dyn SpendStore>, reservation: &Reservation) {
    let Some(amount) = reservation.claim() else {
        return;
    };
    let released = store.release(reservation.caller(), reservation.month(), amount);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            if let Err(error) = released.await {
                tracing::warn!(%error, "could not release a key's reservation");
            }
        });
    }
}

/// A key's metric label: its name, or `other` beyond [`MAX_KEY_SERIES`] keys.
fn label(ring: &KeyRing, name: &str) -> String {
    if ring.len() <= MAX_KEY_SERIES {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Releases the key's hold unless a response came back (whose cost settles it).
struct ReleaseOnDrop(Option<KeyHold>);

impl ReleaseOnDrop {
    fn disarm(mut self) -> Option<KeyHold> {
        self.0.take()
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some(key) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let released = key.release();
            runtime.spawn(async move {
                if let Err(error) = released.await {
                    tracing::warn!(%error, "could not release a key's reservation");
                }
            });
        }
    }
}
