//! [`Infermux`]: the whole router, assembled from a [`Config`], to mount in your own server.
//!
//! [`Infermux::from_config`] does what `infermux serve` does before it listens (the binary
//! runs the same code): it opens the spend store (dating spend by the system clock), builds
//! the pooled HTTP client and the stack of [`crate::stack::build`], publishes the budget
//! gauges, and starts the providers' health checks. It hands back the proxy service (mount
//! it with axum's `Router::nest_service("/llm", mux.proxy())`: it serves
//! `/v1/chat/completions` and `/chat/completions` alike, so axum's prefix stripping gives it
//! what it expects), the management API service, and the state they share.
//!
//! The stack's type cannot be named; to keep the proxy in a struct of yours, box it for your
//! request body type with `tower::util::BoxCloneSyncService::new(mux.proxy())`.

use std::{fmt, sync::Arc};

use http::Response;
use infermux_core::{BoxError, InferBody, InferRequest, StoreError, SystemClock};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::{Layer, Service};

use crate::{
    accounting::Accounting,
    config::Config,
    cors::{CorsLayer, CorsService},
    edge::Edge,
    ingress::Ingress,
    management::Management,
    provider::HttpClient,
    stack::{self, Shared},
};

/// The stack behind [`Ingress`]: budget, route group, strategy, cost and dispatch, as a
/// service of typed requests. Name an [`Infermux`] of your own as `Infermux<impl InferStack>`.
pub trait InferStack:
    Service<InferRequest, Response = Response<InferBody>, Error = BoxError, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> InferStack for S where
    S: Service<
            InferRequest,
            Response = Response<InferBody>,
            Error = BoxError,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// infermux, assembled for embedding: the proxy `Ingress<S>` over the stack `S`, the
/// management API, and the state they share.
///
/// Dropping it stops the health checks and the metrics upkeep; call
/// [`shutdown`](Self::shutdown) once your server has drained, to also make the spend state
/// durable.
pub struct Infermux<S> {
    proxy: Ingress<S>,
    body_read_timeout: std::time::Duration,
    cors: CorsLayer,
    traces: Option<crate::telemetry::Traces>,
    management: Management,
    shared: Shared,
    background: TaskTracker,
    stop: CancellationToken,
}

impl Infermux<()> {
    /// Assembles infermux from `config` as `infermux serve` does, without binding any port.
    ///
    /// Fails when the spend store cannot be opened (an unreadable state file, a malformed
    /// Redis URL): infermux never runs with budgets it cannot enforce; or when the request
    /// log cannot (its file, its PostgreSQL server).
    pub async fn from_config(
        config: &Config,
    ) -> Result<Infermux<impl InferStack + use<>>, crate::accounting::OpenError> {
        let client = crate::provider::http_client(crate::server::CONNECT_TIMEOUT);
        let accounting = Accounting::open(config, Arc::new(SystemClock), &client)?;
        Ok(Self::assemble(config, &client, accounting).await)
    }

    /// Assembles infermux from `config` over an open `accounting`, sending upstream on
    /// `client`.
    pub(crate) async fn assemble(
        config: &Config,
        client: &HttpClient,
        accounting: Accounting,
    ) -> Infermux<impl InferStack + use<>> {
        // The tokenizer tables load on first use, off the runtime's workers (`tokens`): an
        // idle process holds none.
        // The recorder first: the stack registers its metric handles when it is built.
        let metrics = crate::management::prometheus();
        let stack = stack::build(config, client, &accounting);
        // Traces of `telemetry:`: the request span sits between ingress and the stack.
        let traces =
            crate::telemetry::Traces::from_config(&config.telemetry).unwrap_or_else(|error| {
                tracing::error!(%error, "traces are not exported");
                None
            });
        let spans = crate::telemetry::RequestSpanLayer::new(
            traces.as_ref().map(|t| t.tracer().clone()),
            crate::pricing::price_table(config),
        );
        let proxy = stack.proxy.map_inner(|s| tower::Layer::layer(&spans, s));
        accounting.publish_budgets().await;
        let (background, stop) = (TaskTracker::new(), CancellationToken::new());
        // Health checks start now, so a dead provider is marked before the first request.
        crate::health::spawn(config, client, &stack.shared.board, &background, &stop);
        background.spawn(crate::server::metrics_upkeep(metrics.clone(), stop.clone()));
        background.spawn(crate::request_log::forecast_upkeep(
            accounting.clone(),
            stop.clone(),
        ));
        // The request log's writer outlives the tracker: shutdown flushes it instead.
        if let Some(writer) = accounting.request_log().and_then(|log| log.writer()) {
            tokio::spawn(writer);
        }
        background.close();
        let token = config.management_token.as_ref();
        let management = Management::new(
            token.map(|t| t.expose().to_owned()),
            metrics,
            stack.shared.clone(),
        );
        Infermux {
            proxy,
            body_read_timeout: config.timeouts.body_read,
            cors: CorsLayer::new(&config.cors.allowed_origins),
            traces,
            management,
            shared: stack.shared,
            background,
            stop,
        }
    }
}

impl<S: InferStack> Infermux<S> {
    /// The proxy service: OpenAI-shaped HTTP in, OpenAI-shaped HTTP out; never fails.
    ///
    /// It comes behind the same [edge](crate::edge) as `infermux serve`'s port: request ids,
    /// the caller header bound, the request body deadline, sensitive headers and the panic
    /// catcher, with browsers' CORS preflights answered for `cors.allowed_origins`. (Header
    /// read and idle timeouts belong to the connection: set them on your server.)
    pub fn proxy(&self) -> CorsService<Edge<Ingress<S>>> {
        self.cors.layer(crate::edge::edge(
            self.proxy.clone(),
            self.body_read_timeout,
        ))
    }

    /// The management API service: cost reports, providers, `/metrics`, `/healthz`.
    pub fn management(&self) -> Management {
        self.management.clone()
    }

    /// The state the proxy and the management API share: the provider board and the spend
    /// store with its budgets. Read the store to show callers their usage.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Stops the health checks and the metrics upkeep, then makes everything settled so far
    /// durable. Call it once the requests have drained.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.stop.cancel();
        self.background.wait().await;
        self.shared.accounting.settled().await;
        if let Some(traces) = &self.traces {
            traces.shutdown().await;
        }
        if let Some(log) = self.shared.accounting.request_log() {
            log.flush().await;
        }
        self.shared.accounting.store().flush().await
    }
}

impl<S> fmt::Debug for Infermux<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Infermux")
            .field("management", &self.management)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<S> Drop for Infermux<S> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
