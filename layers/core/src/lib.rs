//! The shared vocabulary of the infermux layers.
//!
//! Every layer of the infermux stack speaks in the types defined here, so that a layer never
//! reaches into another's internals and a library user can build and test any layer alone:
//!
//! * identities: [`ProviderName`], [`Caller`], [`RequestId`];
//! * the typed request that travels down the stack: [`InferRequest`] with its parsed
//!   [`RequestBody`] (OpenAI chat completions or embeddings, unknown fields kept verbatim);
//! * what comes back: an `http::Response<`[`InferBody`]`>` carrying a [`Served`] record and,
//!   once known, the provider's [`Usage`];
//! * exact money: [`Money`], integer pico-USD, rendered as a decimal only at the edge, and
//!   the [`PriceTable`] that turns [`Usage`] into it;
//! * routing vocabulary: [`Strategy`], [`RouteContext`], [`TokenEstimate`], and the live
//!   [`ProviderBoard`] that resilience writes and routing reads;
//! * where spend lives: the [`SpendStore`] trait with its [`LedgerEntry`] and reports, and
//!   the [`Clock`] that dates them.
//!
//! The wire types in [`chat`] and [`embeddings`] follow the OpenAI API, which is the one
//! dialect clients speak to infermux; provider adapters translate from them.

mod admission_future;
mod body;
mod catalog;
pub mod chat;
mod clock;
pub mod embeddings;
mod header_future;
mod ids;
mod key;
mod labels;
mod money;
mod pricing;
mod protocol;
mod request;
mod settled;
mod specs;
mod spend;
mod status;
mod strategy;
mod stream_text;
mod usage;
mod waste;

pub use admission_future::{AdmissionFuture, Admitting};
pub use body::{BoxError, InferBody, UsageSlot};
pub use catalog::{ModelCatalog, ProviderModels};
pub use clock::{Clock, FixedClock, Hour, Month, SharedClock, SystemClock};
pub use header_future::HeaderFuture;
pub use ids::{Caller, ProviderName, RequestId};
pub use key::{ClientKey, KeyHold};
pub use labels::CallerLabels;
pub use money::Money;
pub use pricing::{MAX_PRICE_TIERS, Price, PriceTable, PriceTier, PricingBasis, Rates};
pub use protocol::{ClientRequest, Protocol};
pub use request::{
    Candidate, DeferredCount, InferRequest, RequestBody, RouteContext, Served, TokenEstimate,
    VirtualRoute,
};
pub use settled::{Routed, Settled, SettledSlot};
pub use specs::{ModelClass, ModelKind, ModelSpec, ModelSpecs, SpecOverride};
pub use spend::{
    Admission, CallerTotals, HourTotals, LedgerEntry, ReleaseHook, Reservation, SpendStore,
    SpendSummary, StoreError, StoreFuture,
};
pub use status::{CircuitState, ProviderBoard, ProviderStatus};
pub use strategy::Strategy;
pub use stream_text::StreamText;
pub use usage::{ServiceTier, TokenCounter, Usage};
pub use waste::{AttemptBilling, BilledAttempt, WasteByProvider, WasteReason, WasteTotals};
