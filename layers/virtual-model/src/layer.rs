//! [`VirtualModelLayer`]: the recipe for [`VirtualModel`] services.

use std::sync::Arc;

use tower::Layer;

use crate::{VirtualModel, VirtualTable};

/// Applies [`VirtualModel`] to a service: resolves virtual model names by a [`VirtualTable`].
#[derive(Clone, Debug)]
pub struct VirtualModelLayer {
    table: Arc<VirtualTable>,
}

impl VirtualModelLayer {
    /// A layer resolving by `table`.
    pub fn new(table: VirtualTable) -> Self {
        Self::from_shared(Arc::new(table))
    }

    /// A layer resolving by a table shared with others (for example the code that lists
    /// `GET /v1/models`).
    pub fn from_shared(table: Arc<VirtualTable>) -> Self {
        Self { table }
    }

    /// The table.
    pub fn table(&self) -> &Arc<VirtualTable> {
        &self.table
    }
}

impl<S> Layer<S> for VirtualModelLayer {
    type Service = VirtualModel<S>;

    fn layer(&self, inner: S) -> VirtualModel<S> {
        VirtualModel::from_shared(inner, self.table.clone())
    }
}
