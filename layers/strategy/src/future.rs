//! [`ResponseFuture`]: the inner call, then the route-reason header.

use infermux_core::HeaderFuture;

use crate::UnpricedModel;

/// The response future of [`Rank`](crate::Rank): the inner call with
/// `X-Infermux-Route-Reason` on its response, or the refusal of unpriced candidates.
pub type ResponseFuture<F> = HeaderFuture<F, UnpricedModel>;
