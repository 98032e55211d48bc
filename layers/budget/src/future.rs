//! The response future of [`Budget`](crate::Budget).

/// The response future of [`Budget`](crate::Budget): the inner future itself for callers
/// without admission work, or admission followed by the inner call.
pub type ResponseFuture<F, B> = infermux_core::AdmissionFuture<F, B>;
