//! The overhead of budget admission, against an identity service.
//!
//! - `budget/identity`: the inner service alone (a priced, served response).
//! - `budget/no_budget`: [`BudgetLayer`] for a caller without a budget (a map lookup).
//! - `budget/hard_stop`: a `hard_stop` caller: worst-case pricing, an atomic reservation in
//!   the in-memory store, and (through [`CostLayer`]) the settlement that releases it.
//! - `budget/hard_stop_cost_only`: the same without the budget layer, so the difference of
//!   the two is admission alone.
//!
//! Run with `cargo bench --bench budget`. Results: `docs/PERFORMANCE.md`, "Cost and budgets".

use std::{hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use http::Response;
use infermux::core::{
    BoxError, InferBody, InferRequest, ModelCatalog, Money, Price, PriceTable, ProviderModels,
    RequestBody, Served, SpendStore, SystemClock, Usage, chat::ChatRequest,
};
use infermux_budget::{BudgetLayer, BudgetPolicies, BudgetPolicy, MemoryStore, WorstCase};
use infermux_cost::CostLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

async fn provider(_: InferRequest) -> Result<Response<InferBody>, BoxError> {
    let usage = Usage {
        prompt_tokens: 8,
        completion_tokens: 1,
        ..Usage::default()
    };
    let mut response = Response::new(InferBody::full_with_usage("{}", usage));
    response.extensions_mut().insert(Served {
        provider: "openai".into(),
        upstream_model: "gpt-4o-mini".into(),
    });
    Ok(response)
}

fn request(caller: &str) -> InferRequest {
    let chat: ChatRequest = serde_json::from_str(
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":256}"#,
    )
    .expect("chat");
    let mut request = InferRequest::new(RequestBody::Chat(chat), caller.into(), "r".into());
    request.estimate.prompt_tokens = 8;
    request
}

fn prices() -> PriceTable {
    PriceTable::default().with_price(
        "openai".into(),
        "gpt-4o-mini",
        Price::per_million(0.15, 0.60, None, None).expect("price"),
    )
}

fn bench<S>(c: &mut Criterion, name: &str, caller: &'static str, service: S)
where
    S: Service<InferRequest, Response = Response<InferBody>, Error = BoxError> + Clone,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    c.bench_function(name, |b| {
        b.to_async(&rt).iter(|| {
            let service = service.clone();
            async move { black_box(service.oneshot(request(caller)).await.expect("served")) }
        });
    });
}

fn budget(c: &mut Criterion) {
    let store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
    let catalog = ModelCatalog::new(vec![ProviderModels {
        provider: "openai".into(),
        models: vec!["gpt-4o-mini".into()],
        aliases: vec![],
    }]);
    let policies = BudgetPolicies::new([(
        "capped".into(),
        BudgetPolicy::hard_stop(Money::from_usd(1_000_000.0).expect("amount")),
    )]);
    let budget = BudgetLayer::new(
        store.clone(),
        Arc::new(SystemClock),
        policies,
        WorstCase::new(catalog, prices()),
    );
    let cost = CostLayer::new(store, prices(), Arc::new(SystemClock));
    bench(c, "budget/identity", "capped", service_fn(provider));
    bench(
        c,
        "budget/no_budget",
        "free",
        budget.layer(service_fn(provider)),
    );
    bench(
        c,
        "budget/hard_stop_cost_only",
        "capped",
        cost.layer(service_fn(provider)),
    );
    bench(
        c,
        "budget/hard_stop",
        "capped",
        budget.layer(cost.layer(service_fn(provider))),
    );
}

criterion_group!(benches, budget);
criterion_main!(benches);
