//! The response future of [`Keys`](crate::Keys).

/// The response future of [`Keys`](crate::Keys): the inner future itself for a request
/// without a key (none required), or the key check followed by the inner call.
pub type ResponseFuture<F, B> = infermux_core::AdmissionFuture<F, B>;
