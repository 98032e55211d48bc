//! The most used types of infermux's layers and vocabulary, for a glob import:
//! `use infermux::prelude::*;`.

pub use infermux_breaker::{Breaker, BreakerParams, CircuitBreakerLayer, Failure, Outcome};
pub use infermux_budget::{
    BudgetExceeded, BudgetLayer, BudgetPolicies, BudgetPolicy, FileStore, MemoryStore, WorstCase,
};
pub use infermux_core::{
    BoxError, Caller, InferBody, InferRequest, ModelCatalog, Money, Month, Price, PriceTable,
    PricingBasis, ProviderModels, ProviderName, RequestBody, RouteContext, Served, SharedClock,
    SpendStore, SpendSummary, SystemClock, Usage,
};
pub use infermux_cost::CostLayer;
pub use infermux_route_group::{GroupSpec, RouteGroupLayer, RouteTable};
pub use infermux_strategy::{Ranker, StrategyLayer, Unpriced};

pub use crate::{
    InferStack, Infermux, InfermuxServiceBuilderExt,
    ingress::{Ingress, IngressSettings},
};
