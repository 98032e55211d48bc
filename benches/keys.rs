//! The overhead of the key layer, against an identity service behind the cost layer.
//!
//! - `keys/cost_only`: the cost layer alone (pricing and settling a served response).
//! - `keys/no_key`: [`KeyLayer`] for a request without a key (keys optional): a pass-through.
//! - `keys/capped_key`: a key with monthly and daily caps: SHA-256 of the presented key, the
//!   table lookup, worst-case pricing, two atomic reservations in the in-memory store, and
//!   (through [`CostLayer`]) the settlement of both key accounts beside the caller's.
//!
//! Run with `cargo bench --bench keys`. Results: `docs/PERFORMANCE.md`, "API keys".

use std::{hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use http::Response;
use infermux::core::{
    BoxError, ClientKey, InferBody, InferRequest, ModelCatalog, Price, PriceTable, ProviderModels,
    RequestBody, Served, SpendStore, SystemClock, Usage, chat::ChatRequest,
};
use infermux::layers::keys::{KeyHash, KeyLayer, KeyRecord, KeyRing, KeySecret, MemoryRecords};
use infermux_budget::{MemoryStore, WorstCase};
use infermux_cost::CostLayer;
use tower::{Layer, Service, ServiceExt, service_fn};

const KEY: &str = "imx_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

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

fn request(key: bool) -> InferRequest {
    let chat: ChatRequest = serde_json::from_str(
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":256}"#,
    )
    .expect("chat");
    let mut request = InferRequest::new(RequestBody::Chat(chat), "anonymous".into(), "r".into());
    request.estimate.prompt_tokens = 8;
    if key {
        request.client_key = Some(ClientKey::new(KEY));
    }
    request
}

fn prices() -> PriceTable {
    PriceTable::default().with_price(
        "openai".into(),
        "gpt-4o-mini",
        Price::per_million(0.15, 0.60, None, None).expect("price"),
    )
}

fn bench<S>(c: &mut Criterion, name: &str, key: bool, service: S)
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
            async move { black_box(service.oneshot(request(key)).await.expect("served")) }
        });
    });
}

fn keys(c: &mut Criterion) {
    let record = KeyRecord {
        id: "key_bench".into(),
        name: "bench".into(),
        caller: "bench".into(),
        secrets: vec![KeySecret {
            sha256: KeyHash::of(KEY).to_hex(),
            prefix: String::new(),
            until: None,
        }],
        // A million dollars a month and a day: never reached.
        monthly_picos: Some(1_000_000_000_000_000_000),
        daily_picos: Some(1_000_000_000_000_000_000),
        models: None,
        rpm: None,
        created: 0,
        expires: None,
        revoked: None,
        configured: true,
    };
    let ring = Arc::new(KeyRing::new(
        vec![record],
        Arc::new(MemoryRecords::new()),
        Arc::new(SystemClock),
    ));
    let catalog = ModelCatalog::new(vec![ProviderModels {
        provider: "openai".into(),
        models: vec!["gpt-4o-mini".into()],
        aliases: vec![],
    }]);
    let key_store: Arc<dyn SpendStore> = Arc::new(MemoryStore::new());
    let keys = KeyLayer::new(
        ring,
        key_store,
        Arc::new(SystemClock),
        WorstCase::new(catalog, prices()),
    );
    let cost = CostLayer::new(
        Arc::new(MemoryStore::new()),
        prices(),
        Arc::new(SystemClock),
    );
    bench(c, "keys/cost_only", false, cost.layer(service_fn(provider)));
    bench(
        c,
        "keys/no_key",
        false,
        keys.layer(cost.layer(service_fn(provider))),
    );
    bench(
        c,
        "keys/capped_key",
        true,
        keys.layer(cost.layer(service_fn(provider))),
    );
}

criterion_group!(benches, keys);
criterion_main!(benches);
