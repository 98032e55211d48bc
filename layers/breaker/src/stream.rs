//! [`AtStreamEnd`]: a streamed answer's outcome is decided when the stream ends.
//!
//! The response's body is wrapped in a [`SettledBody`] that holds the breaker's [`Pending`]
//! report and records it once, when the stream is over:
//!
//! * it ended after its terminal event (the provider's body marked its [`UsageSlot`]
//!   completed): a **success**, with the latency to the first byte;
//! * it ended without one, or with a body error — the provider cut it, sent an error event, or
//!   went quiet past its idle timeout (the provider bodies end such a stream with an error
//!   event and no terminal one): a **failure** ([`Failure::StreamBroken`]);
//! * the body was dropped before its end (the client went away): **no verdict**; the permit is
//!   abandoned, which frees a half-open probe slot.
//!
//! The wrapper costs one allocation per stream (the boxed body) and nothing per chunk: frames
//! pass through untouched, and the breaker's lock is taken once, when the outcome is recorded.
//!
//! [`UsageSlot`]: infermux_core::UsageSlot

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use infermux_core::{BoxError, InferBody};

use crate::{Failure, Outcome, Pending, Settle};

/// Settles a complete answer at once, and a stream when it ends; see the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AtStreamEnd;

impl Settle<Response<InferBody>> for AtStreamEnd {
    fn settle(&self, response: Response<InferBody>, pending: Pending) -> Response<InferBody> {
        let body = response.body();
        // A body of known size is in memory already: nothing left to go wrong.
        if body.is_end_stream() || body.size_hint().exact().is_some() {
            pending.record(Outcome::Success);
            return response;
        }
        response.map(|body| {
            let usage = body.usage_slot().clone();
            InferBody::new(
                SettledBody {
                    inner: body,
                    pending: Some(pending),
                },
                usage,
            )
        })
    }
}

/// A streamed body that reports its breaker outcome when it ends; see the module docs.
#[derive(Debug)]
pub struct SettledBody {
    inner: InferBody,
    pending: Option<Pending>,
}

impl SettledBody {
    #[cfg(test)]
    pub(crate) fn for_test(inner: InferBody, pending: Pending) -> Self {
        Self {
            inner,
            pending: Some(pending),
        }
    }

    /// Records the outcome of a stream that is over, once.
    fn finish(&mut self) {
        if let Some(pending) = self.pending.take() {
            let outcome = if self.inner.usage_slot().is_completed() {
                Outcome::Success
            } else {
                Outcome::Failure(Failure::StreamBroken)
            };
            pending.record(outcome);
        }
    }
}

impl Body for SettledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Both fields are `Unpin` (the inner body is boxed).
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                if let Some(pending) = this.pending.take() {
                    pending.record(Outcome::Failure(Failure::StreamBroken));
                }
            }
            None => this.finish(),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for SettledBody {
    fn drop(&mut self) {
        // A server stops reading a body that says it is at its end without asking for the
        // end itself; such a stream is over, not abandoned.
        if self.inner.is_end_stream() {
            self.finish();
        }
        // Otherwise dropping `pending` abandons the permit: no verdict.
    }
}
