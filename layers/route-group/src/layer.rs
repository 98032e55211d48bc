//! [`RouteGroupLayer`]: the recipe for [`RouteGroup`] services.

use std::sync::Arc;

use tower::Layer;

use crate::{RouteGroup, RouteTable};

/// Applies [`RouteGroup`] to a service: fills each request's route from a [`RouteTable`].
#[derive(Clone, Debug)]
pub struct RouteGroupLayer {
    table: Arc<RouteTable>,
}

impl RouteGroupLayer {
    /// A layer routing by `table`.
    pub fn new(table: RouteTable) -> Self {
        Self {
            table: Arc::new(table),
        }
    }
}

impl<S> Layer<S> for RouteGroupLayer {
    type Service = RouteGroup<S>;

    fn layer(&self, inner: S) -> RouteGroup<S> {
        RouteGroup::from_shared(inner, self.table.clone())
    }
}
