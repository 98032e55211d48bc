//! One infermux, assembled once per fuzzing process from a config with the built-in mock
//! provider and a budget, and a runtime to drive it.

// Each target uses part of it.
#![allow(dead_code)]

use std::sync::LazyLock;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use infermux::{Infermux, core::BoxError, management::Management};
use tower::{ServiceExt, util::BoxCloneSyncService};

const CONFIG: &str = r#"
listen: "127.0.0.1:0"
management_listen: "127.0.0.1:0"
max_request_body: 64KiB
providers:
  - {name: mock, type: mock, models: [m, e]}
budgets:
  callers:
    - {caller: capped, monthly_usd: 0.000001, action: hard_stop}
"#;

/// The proxy (behind its edge) as a boxed service.
pub type Proxy = BoxCloneSyncService<
    Request<Full<Bytes>>,
    Response<http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>>,
    std::convert::Infallible,
>;

/// The runtime, the proxy and the management API.
pub struct Once {
    pub runtime: tokio::runtime::Runtime,
    pub proxy: Proxy,
    pub management: Management,
}

pub static ONCE: LazyLock<Once> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = infermux::config::parse(CONFIG, "fuzz.yml", &|_| None).expect("config");
    let mux = runtime
        .block_on(Infermux::from_config(&config))
        .expect("assembled");
    // The edge answers with tower-http's boxed body; re-box it as http-body-util's to name it.
    let proxy = BoxCloneSyncService::new(
        ServiceExt::<Request<Full<Bytes>>>::map_response(mux.proxy(), |response| {
            response.map(BodyExt::boxed_unsync)
        }),
    );
    let management = mux.management();
    // Kept for the whole process: dropping it would stop its background tasks.
    std::mem::forget(mux);
    Once {
        runtime,
        proxy,
        management,
    }
});

/// Sends `request` to `service` and reads the whole answer; returns its status.
pub fn exchange<S, B>(service: S, request: Request<Full<Bytes>>) -> u16
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>, Error = std::convert::Infallible>,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    ONCE.runtime.block_on(async move {
        let response = service.oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        status
    })
}
