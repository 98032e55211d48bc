//! Settlement never depends on the client: a client killed while its cost is being recorded
//! still pays (with the state file and with Redis), and requests dropped at any point leave
//! no budget reservation behind.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt, stream};
use http::Response;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use infermux_budget::{
    BudgetLayer, BudgetPolicies, BudgetPolicy, FileStore, MemoryStore, WorstCase,
};
use infermux_core::{
    Admission, BoxError, Caller, Hour, HourTotals, InferBody, InferRequest, LedgerEntry,
    ModelCatalog, Money, Month, Price, PriceTable, ProviderModels, RequestBody, Served, SpendStore,
    SpendSummary, StoreFuture, SystemClock, Usage, UsageSlot, chat::ChatRequest,
};
use infermux_cost::CostLayer;
use infermux_spend_redis::{RedisSpendStore, RedisStoreOptions, UnavailablePolicy};
use tokio::sync::{Notify, Semaphore};
use tokio_util::task::TaskTracker;
use tower::{Layer, ServiceExt, service_fn};

/// A store whose settlements wait at a gate, to kill the client in the middle of one.
struct Gated {
    inner: Arc<dyn SpendStore>,
    entered: Arc<Notify>,
    gate: Arc<Semaphore>,
}

impl SpendStore for Gated {
    fn reserve(
        &self,
        caller: &Caller,
        month: Month,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreFuture<Admission> {
        self.inner.reserve(caller, month, amount, cap)
    }

    fn settle(&self, entry: LedgerEntry, reserved: Money) -> StoreFuture<()> {
        let (inner, gate) = (self.inner.clone(), self.gate.clone());
        self.entered.notify_one();
        Box::pin(async move {
            gate.acquire().await.expect("gate open").forget();
            inner.settle(entry, reserved).await
        })
    }

    fn release(&self, caller: &Caller, month: Month, reserved: Money) -> StoreFuture<()> {
        self.inner.release(caller, month, reserved)
    }

    fn spent(&self, caller: &Caller, month: Month) -> StoreFuture<Money> {
        self.inner.spent(caller, month)
    }

    fn summary(&self, month: Month) -> StoreFuture<SpendSummary> {
        self.inner.summary(month)
    }

    fn hourly(&self, first: Hour, hours: u32) -> StoreFuture<Vec<HourTotals>> {
        self.inner.hourly(first, hours)
    }

    fn flush(&self) -> StoreFuture<()> {
        self.inner.flush()
    }
}

fn prices() -> PriceTable {
    PriceTable::default().with_price(
        "openai".into(),
        "gpt-4o-mini",
        Price::per_million(0.15, 0.60, None, None).expect("price"),
    )
}

fn served<B>(mut response: Response<B>) -> Response<B> {
    response.extensions_mut().insert(Served {
        provider: "openai".into(),
        upstream_model: "gpt-4o-mini".into(),
    });
    response
}

fn request(stream: bool) -> InferRequest {
    let chat: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
        "stream": stream, "max_tokens": 16
    }))
    .expect("chat");
    let mut request = InferRequest::new(RequestBody::Chat(chat), "capped".into(), "r".into());
    request.estimate.prompt_tokens = 8;
    request
}

/// The provider's bill for 8 prompt and 2 completion tokens of gpt-4o-mini: $0.15 and
/// $0.60 per million.
const USAGE: Usage = Usage::new(8, 2);
const COST: Money = Money::from_picos(8 * 150_000 + 2 * 600_000);

fn month() -> Month {
    Month::of(SystemTime::now())
}

/// A caller `capped` with a $1 hard_stop budget.
fn budget(store: Arc<dyn SpendStore>, tasks: &TaskTracker) -> BudgetLayer {
    let catalog = ModelCatalog::new(vec![ProviderModels {
        provider: "openai".into(),
        models: vec!["gpt-4o-mini".into()],
        aliases: vec![],
    }]);
    let policies = BudgetPolicies::new([(
        "capped".into(),
        BudgetPolicy::hard_stop(Money::from_picos(1_000_000_000_000)),
    )]);
    BudgetLayer::new(
        store,
        Arc::new(SystemClock),
        policies,
        WorstCase::new(catalog, prices()),
    )
    .with_settlements(tasks.clone())
}

/// Holds no reservation: the whole room left under the cap can be reserved (then released).
async fn no_reservation_left(store: &dyn SpendStore) {
    let cap = Money::from_picos(1_000_000_000_000);
    let caller: Caller = "capped".into();
    let room = cap.saturating_sub(store.spent(&caller, month()).await.expect("spent"));
    let admission = store
        .reserve(&caller, month(), room, Some(cap))
        .await
        .expect("reserve");
    assert!(
        matches!(admission, Admission::Admitted { .. }),
        "a reservation was left behind: {admission:?}"
    );
    store
        .release(&caller, month(), room)
        .await
        .expect("release");
}

/// Kills the client of a complete response while its settlement is held at the gate, then
/// of a stream; both spends are in `store` afterwards.
async fn kill_the_client_mid_settlement(store: Arc<dyn SpendStore>) {
    let tasks = TaskTracker::new();
    let (entered, gate) = (Arc::new(Notify::new()), Arc::new(Semaphore::new(0)));
    let gated: Arc<dyn SpendStore> = Arc::new(Gated {
        inner: store.clone(),
        entered: entered.clone(),
        gate: gate.clone(),
    });
    let provider = service_fn(|request: InferRequest| async move {
        let body = if request.body.is_stream() {
            let frames = stream::iter([
                r#"data: {"choices":[{"delta":{"content":"Hi"}}]}"#,
                "data: [DONE]",
            ])
            .map(|event| Ok::<_, BoxError>(Frame::data(Bytes::from(format!("{event}\n\n")))));
            InferBody::new(StreamBody::new(frames), UsageSlot::filled(USAGE))
        } else {
            InferBody::full_with_usage("{}", USAGE)
        };
        Ok::<_, BoxError>(served(Response::new(body)))
    });
    let service = budget(gated.clone(), &tasks).layer(
        CostLayer::new(gated, prices(), Arc::new(SystemClock))
            .with_settlements(tasks.clone())
            .layer(provider),
    );

    // A complete response: the client is killed while the response waits for durability.
    let client = tokio::spawn(service.clone().oneshot(request(false)));
    entered.notified().await;
    client.abort();
    assert!(client.await.expect_err("killed").is_cancelled());

    // A stream: the client drops the body while `[DONE]` waits for durability.
    let response = service.oneshot(request(true)).await.expect("stream");
    let client = tokio::spawn(async move {
        let mut body = response.into_body();
        while body.frame().await.is_some() {}
    });
    entered.notified().await;
    client.abort();
    assert!(client.await.expect_err("killed").is_cancelled());

    gate.add_permits(2);
    tasks.close();
    tasks.wait().await;
    let spent = store.spent(&"capped".into(), month()).await.expect("spent");
    assert_eq!(spent, COST.times(2));
    no_reservation_left(&*store).await;
}

#[tokio::test]
async fn a_client_killed_mid_settlement_still_pays_with_the_state_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("spend.json");
    {
        let store = Arc::new(FileStore::open(&path).expect("open"));
        kill_the_client_mid_settlement(store.clone()).await;
        store.flush().await.expect("flush");
    }
    // Durable: a new process reads the same spend.
    let reopened = FileStore::open(&path).expect("reopen");
    let spent = reopened.spent(&"capped".into(), month()).await;
    assert_eq!(spent, Ok(COST.times(2)));
}

#[tokio::test]
async fn a_client_killed_mid_settlement_still_pays_with_redis() {
    let redis = infermux_test_util::RedisServer::start().await;
    let options = RedisStoreOptions::new(UnavailablePolicy::FailClosed);
    let store =
        RedisSpendStore::open(&redis.url(), options, Arc::new(SystemClock)).expect("redis store");
    kill_the_client_mid_settlement(Arc::new(store)).await;
    // Another replica on the same Redis sees the spend.
    let options = RedisStoreOptions::new(UnavailablePolicy::FailClosed);
    let other =
        RedisSpendStore::open(&redis.url(), options, Arc::new(SystemClock)).expect("redis store");
    assert_eq!(
        other.spent(&"capped".into(), month()).await,
        Ok(COST.times(2))
    );
}

/// A deterministic stream of "random" numbers (xorshift), so a failure replays exactly.
struct Points(u64);

impl Points {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn a_hundred_requests_dropped_at_random_points_leave_no_reservation_behind() {
    let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
    let tasks = TaskTracker::new();
    let answered = Arc::new(AtomicU64::new(0));
    let counter = answered.clone();
    let provider = service_fn(move |request: InferRequest| {
        let answered = counter.clone();
        async move {
            // Points where a client can go away before the answer.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            let events = [
                r#"data: {"choices":[{"delta":{"content":"One"}}]}"#,
                r#"data: {"choices":[{"delta":{"content":" two"}}]}"#,
                r#"data: {"choices":[{"delta":{"content":" three"}}]}"#,
                "data: [DONE]",
            ];
            let frames = stream::iter(events).then(|event| async move {
                tokio::task::yield_now().await;
                Ok::<_, BoxError>(Frame::data(Bytes::from(format!("{event}\n\n"))))
            });
            let body = if request.body.is_stream() {
                InferBody::new(StreamBody::new(frames), UsageSlot::filled(USAGE))
            } else {
                InferBody::full_with_usage("{}", USAGE)
            };
            answered.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>(served(Response::new(body)))
        }
    });
    let service = budget(store.clone(), &tasks).layer(
        CostLayer::new(store.clone(), prices(), Arc::new(SystemClock))
            .with_settlements(tasks.clone())
            .layer(provider),
    );
    let mut points = Points(0x9e37_79b9_7f4a_7c15);
    for i in 0..100 {
        let mut request = request(points.below(2) == 0);
        request.request_id = format!("r{i}").as_str().into();
        let mut call = Box::pin(service.clone().oneshot(request));
        // Poll the call a random number of times; drop it if it has not answered by then.
        let mut response = None;
        for _ in 0..points.below(6) {
            if let Some(result) = call.as_mut().now_or_never() {
                response = Some(result.expect("served"));
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(call);
        // Read a random number of the body's frames, then drop it.
        if let Some(response) = response {
            let mut body = response.into_body();
            for _ in 0..points.below(6) {
                if body.frame().now_or_never().flatten().is_none() {
                    break;
                }
            }
        }
    }
    tasks.close();
    tasks.wait().await;
    no_reservation_left(&*store).await;
    // Every answer the provider gave was charged exactly once.
    let summary = store.summary(month()).await.expect("summary");
    assert_eq!(summary.requests, answered.load(Ordering::SeqCst));
    assert!(summary.requests > 0, "no request was answered");
}
