//! [`ResponseFuture`]: the inner call, then the route-group header.

use infermux_core::HeaderFuture;

use crate::error::ModelNotServed;

/// The response future of [`RouteGroup`](crate::RouteGroup): the inner call with
/// `X-Infermux-Route-Group` on its response, or the refusal of a model no provider serves.
pub type ResponseFuture<F> = HeaderFuture<F, ModelNotServed>;
