//! [`InfermuxServiceBuilderExt`]: infermux's layers as `ServiceBuilder` methods.
//!
//! Thin sugar over `.layer(...)`: each method builds one layer from plain parameters and
//! handles, dating spend by the system clock. Use the layer types directly when you need a
//! different clock (tests that cross a month) or a tokenizer for aborted streams.

use std::sync::Arc;

use infermux_breaker::{Breaker, CircuitBreakerLayer};
use infermux_budget::{BudgetLayer, BudgetPolicies, WorstCase};
use infermux_core::{PriceTable, SpendStore, SystemClock};
use infermux_cost::CostLayer;
use infermux_route_group::{RouteGroupLayer, RouteTable};
use infermux_strategy::{Ranker, StrategyLayer};
use tower::{ServiceBuilder, layer::util::Stack};

/// Adds infermux's layers to a [`ServiceBuilder`], outermost first, in the order of
/// `docs/library.md`: `budget`, `route_groups`, `strategy`, `cost`, then your service (or
/// infermux's dispatch, whose providers each sit behind a `circuit_breaker`).
///
/// ```
/// use std::sync::Arc;
/// use infermux::{InfermuxServiceBuilderExt, prelude::*};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = Arc::new(MemoryStore::new());
/// let service = ServiceBuilder::new()
///     .cost(store.clone(), PriceTable::default())
///     .service(service_fn(|_: InferRequest| async {
///         Ok::<_, BoxError>(http::Response::new(InferBody::full("{}")))
///     }));
/// let chat = serde_json::from_str(
///     r#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#,
/// ).expect("chat");
/// let request = InferRequest::new(RequestBody::Chat(chat), "alice".into(), "r1".into());
/// assert!(service.oneshot(request).await.is_ok());
/// # }
/// ```
///
/// The trait is sealed: it is implemented for `ServiceBuilder` only.
pub trait InfermuxServiceBuilderExt<L>: sealed::Sealed {
    /// Enforces `policies` against spend in `store`, reserving each `hard_stop` request's
    /// `worst_case`: a [`BudgetLayer`].
    fn budget(
        self,
        store: Arc<dyn SpendStore>,
        policies: BudgetPolicies,
        worst_case: WorstCase,
    ) -> ServiceBuilder<Stack<BudgetLayer, L>>;

    /// Prices each response's usage with `prices` and records it in `store`: a [`CostLayer`].
    fn cost(
        self,
        store: Arc<dyn SpendStore>,
        prices: PriceTable,
    ) -> ServiceBuilder<Stack<CostLayer, L>>;

    /// Fills each request's route group and candidate providers from `table`: a
    /// [`RouteGroupLayer`].
    fn route_groups(self, table: RouteTable) -> ServiceBuilder<Stack<RouteGroupLayer, L>>;

    /// Orders each request's candidates with `ranker`: a [`StrategyLayer`].
    fn strategy(self, ranker: Ranker) -> ServiceBuilder<Stack<StrategyLayer, L>>;

    /// Gates the service on `breaker`, learning from its errors through `classify`: a
    /// [`CircuitBreakerLayer`]. Keep a clone of `breaker` to read its state.
    fn circuit_breaker<C>(
        self,
        breaker: Breaker,
        classify: C,
    ) -> ServiceBuilder<Stack<CircuitBreakerLayer<C>, L>>;
}

impl<L> InfermuxServiceBuilderExt<L> for ServiceBuilder<L> {
    fn budget(
        self,
        store: Arc<dyn SpendStore>,
        policies: BudgetPolicies,
        worst_case: WorstCase,
    ) -> ServiceBuilder<Stack<BudgetLayer, L>> {
        self.layer(BudgetLayer::new(
            store,
            Arc::new(SystemClock),
            policies,
            worst_case,
        ))
    }

    fn cost(
        self,
        store: Arc<dyn SpendStore>,
        prices: PriceTable,
    ) -> ServiceBuilder<Stack<CostLayer, L>> {
        self.layer(CostLayer::new(store, prices, Arc::new(SystemClock)))
    }

    fn route_groups(self, table: RouteTable) -> ServiceBuilder<Stack<RouteGroupLayer, L>> {
        self.layer(RouteGroupLayer::new(table))
    }

    fn strategy(self, ranker: Ranker) -> ServiceBuilder<Stack<StrategyLayer, L>> {
        self.layer(StrategyLayer::new(ranker))
    }

    fn circuit_breaker<C>(
        self,
        breaker: Breaker,
        classify: C,
    ) -> ServiceBuilder<Stack<CircuitBreakerLayer<C>, L>> {
        self.layer(CircuitBreakerLayer::new(breaker, classify))
    }
}

mod sealed {
    /// Keeps [`InfermuxServiceBuilderExt`](super::InfermuxServiceBuilderExt) closed to
    /// other types.
    pub trait Sealed {}

    impl<L> Sealed for tower::ServiceBuilder<L> {}
}
