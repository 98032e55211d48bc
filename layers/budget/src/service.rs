//! [`Budget`]: admission, reservation and model override for callers with a budget.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Response};
use infermux_core::{
    Admission, BoxError, Caller, InferRequest, Money, Month, RequestBody, Reservation, SharedClock,
    SpendStore,
};
use tower::Service;

use crate::{
    BudgetAction, BudgetExceeded, BudgetPolicies, BudgetPolicy, BudgetStoreUnavailable,
    ResponseFuture, WorstCase, worst_case::WorstPrice,
};

/// Header naming the model a budget switched the request to.
pub const MODEL_OVERRIDE_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-model-override");
/// Header telling the client that its output tokens were lowered to fit its budget.
pub const MAX_TOKENS_CLAMPED_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-infermux-max-tokens-clamped");

/// Smaller reservations tried when the remaining budget cannot hold the worst case.
const CLAMP_ATTEMPTS: usize = 6;

/// What every [`Budget`] service of one layer shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn SpendStore>,
    pub(crate) clock: SharedClock,
    pub(crate) policies: BudgetPolicies,
    pub(crate) worst_case: WorstCase,
    /// Releases reservations dropped unsettled.
    pub(crate) release: Arc<crate::StoreRelease>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("clock", &self.clock)
            .field("policies", &self.policies)
            .field("worst_case", &self.worst_case)
            .finish_non_exhaustive()
    }
}

/// Enforces per-caller monthly budgets before `S`; built by [`BudgetLayer`](crate::BudgetLayer).
#[derive(Clone, Debug)]
pub struct Budget<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Budget<S> {
    pub(crate) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    infermux_core::inner_service_accessors!();
}

impl<S, B> Service<InferRequest> for Budget<S>
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
        let admits = self
            .shared
            .policies
            .get(&request.caller)
            .is_some_and(|p| *p.action() != BudgetAction::Alert);
        if !admits {
            // No budget, or alerts only (they fire as spend settles): nothing to do here.
            return ResponseFuture::direct(self.inner.call(request));
        }
        // The ready service goes into the future; this one is a fresh clone to be polled.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::admitting(Box::pin(admit_and_call(
            self.shared.clone(),
            inner,
            request,
        )))
    }
}

async fn admit_and_call<S, B>(
    shared: Arc<Shared>,
    mut inner: S,
    mut request: InferRequest,
) -> Result<Response<B>, BoxError>
where
    S: Service<InferRequest, Response = Response<B>, Error = BoxError>,
{
    let Some(policy) = shared.policies.get(&request.caller).cloned() else {
        return inner.call(request).await;
    };
    let month = Month::of(shared.clock.now());
    let mut headers = Vec::new();
    match policy.action() {
        BudgetAction::HardStop => {
            let admitted = admit(&shared, &policy, &request, month).await?;
            if let Some(tokens) = admitted.clamped_to {
                clamp(&mut request, tokens);
                headers.push((MAX_TOKENS_CLAMPED_HEADER, HeaderValue::from(tokens)));
            }
            // An owned guard: settled by the cost layer, or released when its last copy is
            // dropped unsettled (a failure, a cancelled request, no cost layer below).
            request.budget = Some(admitted.reservation);
        }
        BudgetAction::ModelOverride { model, from } => {
            match shared.store.spent(&request.caller, month).await {
                Ok(spent) if spent >= *from => {
                    override_model(&mut request, model);
                    metrics::counter!("infermux_budget_overrides_total",
                        "caller" => request.caller.to_string())
                    .increment(1);
                    if let Ok(value) = HeaderValue::from_str(model) {
                        headers.push((MODEL_OVERRIDE_HEADER, value));
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::error!(
                    caller = %request.caller, %error,
                    "budget store unavailable; serving the requested model"
                ),
            }
        }
        BudgetAction::Alert => {}
    }
    let mut response = inner.call(request).await?;
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// An admitted `hard_stop` request.
struct Admitted {
    reservation: Reservation,
    clamped_to: Option<u64>,
}

/// Reserves the request's worst case, or a smaller `max_tokens` that the remaining budget
/// can hold, or, below the cap, whatever is left; refuses at or over the cap.
async fn admit(
    shared: &Shared,
    policy: &BudgetPolicy,
    request: &InferRequest,
    month: Month,
) -> Result<Admitted, BoxError> {
    let caller = &request.caller;
    let budget = policy.budget();
    let worst = shared.worst_case.price(request);
    let reserve = |amount: Money| async move {
        shared
            .store
            .reserve(caller, month, amount, Some(budget))
            .await
            .map_err(|error| {
                tracing::error!(caller = %caller, %error,
                    "budget store unavailable; refusing the hard_stop caller's request");
                BudgetStoreUnavailable::new(error)
            })
    };
    let admitted = |amount, clamped_to| Admitted {
        reservation: Reservation::guarded(caller.clone(), month, amount, shared.release.clone()),
        clamped_to,
    };
    let spent = match reserve(worst.total()).await? {
        Admission::Admitted { .. } => return Ok(admitted(worst.total(), None)),
        Admission::Refused { spent } => spent,
    };
    // Try smaller reservations, each a whole number of output tokens fewer.
    let mut room = budget.saturating_sub(spent);
    for _ in 0..CLAMP_ATTEMPTS {
        let Some(tokens) = tokens_within(&worst, room) else {
            break;
        };
        let amount = worst.with_output(tokens);
        match reserve(amount).await? {
            Admission::Admitted { .. } => return Ok(admitted(amount, Some(tokens))),
            Admission::Refused { spent } if spent >= budget => break,
            Admission::Refused { .. } => room = Money::from_picos(amount.picos() / 2),
        }
    }
    // Below the cap, yet too little left for even this request's prompt: it is served (a
    // caller is refused only at or over the cap), holding everything that is left so that
    // no concurrent request is admitted beside it. It may overshoot by its own cost.
    let left = budget.saturating_sub(spent);
    if left > Money::ZERO
        && let Admission::Admitted { .. } = reserve(left).await?
    {
        return Ok(admitted(left, None));
    }
    refuse(caller, budget, spent)
}

/// The most output tokens, fewer than the worst case's, whose reservation fits in `room`.
fn tokens_within(worst: &WorstPrice, room: Money) -> Option<u64> {
    if worst.output == Money::ZERO || room <= worst.prompt {
        return None;
    }
    let tokens = (room.saturating_sub(worst.prompt).picos() / worst.output.picos())
        .min(worst.output_tokens.saturating_sub(1));
    (tokens > 0).then_some(tokens)
}

fn refuse(caller: &Caller, budget: Money, spent: Money) -> Result<Admitted, BoxError> {
    metrics::counter!("infermux_budget_rejections_total", "caller" => caller.to_string())
        .increment(1);
    Err(BudgetExceeded::new(budget, spent).into())
}

fn clamp(request: &mut InferRequest, tokens: u64) {
    if let RequestBody::Chat(chat) = &mut request.body {
        if chat.max_completion_tokens.is_some() {
            chat.max_completion_tokens = Some(tokens);
        } else {
            chat.max_tokens = Some(tokens);
        }
    }
    request.estimate.max_completion_tokens = Some(tokens);
}

fn override_model(request: &mut InferRequest, model: &str) {
    match &mut request.body {
        RequestBody::Chat(chat) => model.clone_into(&mut chat.model),
        RequestBody::Embeddings(embeddings) => model.clone_into(&mut embeddings.model),
    }
}

#[cfg(test)]
mod tests {
    use infermux_core::{
        Hour, HourTotals, LedgerEntry, ModelCatalog, Price, PriceTable, ProviderModels,
        SpendSummary, StoreError, StoreFuture, SystemClock, chat::ChatRequest,
    };
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;
    use crate::{BudgetLayer, MemoryStore};

    /// A store whose every operation fails, like Redis down or a full disk.
    #[derive(Debug)]
    struct Down;

    fn down<T: Send + 'static>() -> StoreFuture<T> {
        Box::pin(std::future::ready(Err(StoreError::Unavailable(
            "down".into(),
        ))))
    }

    impl SpendStore for Down {
        fn reserve(
            &self,
            _: &Caller,
            _: Month,
            _: Money,
            _: Option<Money>,
        ) -> StoreFuture<Admission> {
            down()
        }
        fn settle(&self, _: LedgerEntry, _: Money) -> StoreFuture<()> {
            down()
        }
        fn release(&self, _: &Caller, _: Month, _: Money) -> StoreFuture<()> {
            down()
        }
        fn spent(&self, _: &Caller, _: Month) -> StoreFuture<Money> {
            down()
        }
        fn summary(&self, _: Month) -> StoreFuture<SpendSummary> {
            down()
        }
        fn hourly(&self, _: Hour, _: u32) -> StoreFuture<Vec<HourTotals>> {
            down()
        }
    }

    fn worst_case() -> WorstCase {
        let catalog = ModelCatalog::new(vec![ProviderModels {
            provider: "openai".into(),
            models: vec!["gpt-4o-mini".into()],
            aliases: vec![],
        }]);
        let prices = PriceTable::default().with_price(
            "openai".into(),
            "gpt-4o-mini",
            Price::per_million(0.15, 0.60, None, None).expect("price"),
        );
        WorstCase::new(catalog, prices)
    }

    fn request(caller: &str, max_tokens: u64) -> InferRequest {
        let chat: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": max_tokens
        }))
        .expect("chat");
        let mut request = InferRequest::new(RequestBody::Chat(chat), caller.into(), "r".into());
        request.estimate.prompt_tokens = 8;
        request
    }

    fn policies() -> BudgetPolicies {
        BudgetPolicies::new([(
            "capped".into(),
            BudgetPolicy::hard_stop(Money::from_picos(1_800_000)),
        )])
    }

    /// Answers with the reservation the request carried, holding it as the cost layer does
    /// until the response's cost is known: it is released when the response is dropped.
    async fn seen(request: InferRequest) -> Result<Response<Option<Reservation>>, BoxError> {
        Ok(Response::new(request.budget))
    }

    fn held(response: &Response<Option<Reservation>>) -> Option<Money> {
        response.body().as_ref().map(Reservation::amount)
    }

    #[tokio::test]
    async fn a_budget_smaller_than_one_prompt_serves_one_request_then_refuses() {
        // $0.000001 cannot hold the 8-token prompt ($0.0000012), but nothing is spent yet.
        let tiny = BudgetPolicies::new([(
            "tiny".into(),
            BudgetPolicy::hard_stop(Money::from_picos(1_000_000)),
        )]);
        let layer = BudgetLayer::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            tiny,
            worst_case(),
        );
        let served = layer
            .layer(service_fn(seen))
            .oneshot(request("tiny", 1))
            .await
            .expect("below the cap, served");
        // It holds all that is left, so nothing else is admitted beside it.
        assert_eq!(held(&served), Some(Money::from_picos(1_000_000)));
        let refused = layer
            .layer(service_fn(seen))
            .oneshot(request("tiny", 1))
            .await;
        assert!(refused.expect_err("at the cap").is::<BudgetExceeded>());
    }

    #[tokio::test]
    async fn a_store_that_is_down_refuses_hard_stop_callers_and_serves_the_rest() {
        let layer = BudgetLayer::new(
            Arc::new(Down),
            Arc::new(SystemClock),
            policies(),
            worst_case(),
        );
        let service = layer.layer(service_fn(seen));
        let refused = service.clone().oneshot(request("capped", 1)).await;
        let error = refused.expect_err("refused");
        assert!(error.is::<BudgetStoreUnavailable>(), "{error}");
        let served = service
            .oneshot(request("unbudgeted", 1))
            .await
            .expect("served");
        assert_eq!(held(&served), None);
    }

    #[tokio::test]
    async fn the_reservation_travels_on_the_request_and_a_failure_releases_it() {
        let store = Arc::new(MemoryStore::new());
        let layer = BudgetLayer::new(
            store.clone(),
            Arc::new(SystemClock),
            policies(),
            worst_case(),
        );
        let served = layer
            .layer(service_fn(seen))
            .oneshot(request("capped", 1))
            .await
            .expect("served");
        // 8 × $0.15/M + 1 × $0.60/M: the whole budget is held until the cost is settled.
        assert_eq!(held(&served), Some(Money::from_picos(1_800_000)));
        let blocked = layer
            .layer(service_fn(seen))
            .oneshot(request("capped", 1))
            .await;
        assert!(blocked.expect_err("held").is::<BudgetExceeded>());

        let store = Arc::new(MemoryStore::new());
        let layer = BudgetLayer::new(store, Arc::new(SystemClock), policies(), worst_case());
        let failing = service_fn(|_: InferRequest| async {
            Err::<Response<()>, BoxError>("provider down".into())
        });
        assert!(
            layer
                .layer(failing)
                .oneshot(request("capped", 1))
                .await
                .is_err()
        );
        tokio::task::yield_now().await;
        let again = layer
            .layer(service_fn(seen))
            .oneshot(request("capped", 1))
            .await;
        assert!(again.is_ok(), "the failed request released its reservation");
    }
}
