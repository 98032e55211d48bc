//! [`StrategyLayer`]: the recipe for [`Rank`] services.

use tower::Layer;

use crate::{Rank, Ranker};

/// Applies [`Rank`] to a service: orders each request's candidates with a [`Ranker`].
#[derive(Clone, Debug)]
pub struct StrategyLayer {
    ranker: Ranker,
}

impl StrategyLayer {
    /// A layer ordering candidates with `ranker`.
    pub const fn new(ranker: Ranker) -> Self {
        Self { ranker }
    }
}

impl<S> Layer<S> for StrategyLayer {
    type Service = Rank<S>;

    fn layer(&self, inner: S) -> Rank<S> {
        Rank::new(inner, self.ranker.clone())
    }
}
