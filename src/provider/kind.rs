//! [`ProviderClient`]: either provider service infermux builds from a config, unboxed.

use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::Response;
use infermux_core::InferBody;
use tower::Service;

use super::{HttpProvider, MockProvider, ProviderCall, ProviderError};

/// A configured provider's client: an HTTP API or the built-in mock.
///
/// One enum rather than a boxed service: the circuit breaker and attempt spans wrap it, and
/// dispatch boxes the whole of that once. A second box inside would cost each attempt one
/// more clone on the heap and one more boxed future.
#[derive(Clone)]
pub enum ProviderClient {
    /// A provider reached over HTTP.
    Http(HttpProvider),
    /// The built-in mock.
    Mock(MockProvider),
}

impl Service<ProviderCall> for ProviderClient {
    type Response = Response<InferBody>;
    type Error = ProviderError;
    type Future = BoxFuture<'static, Result<Response<InferBody>, ProviderError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ProviderError>> {
        match self {
            Self::Http(http) => http.poll_ready(cx),
            Self::Mock(mock) => mock.poll_ready(cx),
        }
    }

    fn call(&mut self, call: ProviderCall) -> Self::Future {
        match self {
            Self::Http(http) => http.call(call),
            Self::Mock(mock) => mock.call(call),
        }
    }
}
