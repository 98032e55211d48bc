//! The key layer alone: a mock inner service, an in-memory key store and a settable clock.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::Response;
use infermux_budget::{MemoryStore, WorstCase};
use infermux_core::{
    BoxError, ClientKey, Clock, InferRequest, ModelCatalog, Money, Month, Price, PriceTable,
    ProviderModels, RequestBody, SpendStore, chat::ChatRequest,
};
use tower::{Layer, ServiceExt, service_fn};

use crate::{
    InvalidApiKey, KeyBudgetExceeded, KeyHash, KeyLayer, KeyRecord, KeyRing, KeySecret,
    MemoryRecords, NewKey, Refusal, month_account,
};

/// A clock tests move by hand.
#[derive(Debug, Default)]
struct Manual(AtomicU64);

impl Manual {
    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

impl Clock for Manual {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_773_446_400 + self.0.load(Ordering::SeqCst))
    }
}

fn configured(name: &str, secret: &str, monthly: Option<u64>) -> KeyRecord {
    KeyRecord {
        id: format!("key_{name}"),
        name: name.into(),
        caller: name.into(),
        secrets: vec![KeySecret {
            sha256: KeyHash::of(secret).to_hex(),
            prefix: String::new(),
            until: None,
        }],
        monthly_picos: monthly,
        daily_picos: None,
        models: None,
        rpm: None,
        created: 0,
        expires: None,
        revoked: None,
        configured: true,
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

fn request(key: &str) -> InferRequest {
    let chat: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1
    }))
    .expect("chat");
    let mut request = InferRequest::new(RequestBody::Chat(chat), "header".into(), "r".into());
    request.estimate.prompt_tokens = 8;
    request.client_key = Some(ClientKey::new(key));
    request
}

#[tokio::test]
async fn a_rotated_key_works_through_its_grace_and_a_revoked_one_stops_at_once() {
    let clock = Arc::new(Manual::default());
    let ring = KeyRing::new(vec![], Arc::new(MemoryRecords::new()), clock.clone());
    let (record, old) = ring
        .create(NewKey {
            name: "acme".into(),
            ..NewKey::default()
        })
        .await
        .expect("made");
    assert_eq!(ring.check(&old).expect("works").record.id, record.id);
    let (_, new) = ring
        .rotate(&record.id, Duration::from_secs(60))
        .await
        .expect("rotated");
    assert!(ring.check(&old).is_ok() && ring.check(&new).is_ok());
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        ring.check(&old).expect_err("grace over"),
        InvalidApiKey::new(Refusal::Revoked)
    );
    assert!(ring.check(&new).is_ok());
    ring.revoke(&record.id).await.expect("revoked");
    assert_eq!(
        ring.check(&new).expect_err("revoked"),
        InvalidApiKey::new(Refusal::Revoked)
    );
    assert_eq!(
        ring.check("imx_unknown").expect_err("unknown"),
        InvalidApiKey::new(Refusal::Unknown)
    );
}

#[tokio::test]
async fn the_hold_travels_on_the_request_and_a_failure_releases_it() {
    let clock = Arc::new(Manual::default());
    // $0.0000018: one request's worst case.
    let ring = Arc::new(KeyRing::new(
        vec![configured("acme", "s", Some(1_800_000))],
        Arc::new(MemoryRecords::new()),
        clock.clone(),
    ));
    let store = Arc::new(MemoryStore::new());
    let layer = KeyLayer::new(ring, store.clone(), clock.clone(), worst_case());
    let seen = service_fn(|request: InferRequest| async move {
        let key = request.key.expect("a key hold");
        Ok::<_, BoxError>(Response::new((request.caller, key.id().to_owned())))
    });
    let held = layer
        .layer(seen)
        .oneshot(request("s"))
        .await
        .expect("admitted");
    assert_eq!(
        held.body().0.as_str(),
        "acme",
        "the key's caller, not the header's"
    );
    assert_eq!(held.body().1, "key_acme");
    // The hold was never settled (no cost layer here) and still counts against the cap.
    let refused = layer
        .layer(service_fn(|_: InferRequest| async {
            Ok::<_, BoxError>(Response::new(()))
        }))
        .oneshot(request("s"))
        .await
        .expect_err("held");
    assert!(refused.is::<KeyBudgetExceeded>(), "{refused}");

    let store = Arc::new(MemoryStore::new());
    let ring = Arc::new(KeyRing::new(
        vec![configured("acme", "s", Some(1_800_000))],
        Arc::new(MemoryRecords::new()),
        clock.clone(),
    ));
    let layer = KeyLayer::new(ring, store.clone(), clock.clone(), worst_case());
    let failing =
        service_fn(|_: InferRequest| async { Err::<Response<()>, BoxError>("down".into()) });
    assert!(layer.layer(failing).oneshot(request("s")).await.is_err());
    tokio::task::yield_now().await;
    let month = Month::of(clock.now());
    let admission = store
        .reserve(
            &month_account("key_acme"),
            month,
            Money::from_picos(1_800_000),
            Some(Money::from_picos(1_800_000)),
        )
        .await
        .expect("store");
    assert!(
        matches!(admission, infermux_core::Admission::Admitted { .. }),
        "the failed request released its hold"
    );
}
