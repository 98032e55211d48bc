//! [`LoggedBody`]: logs a streamed response when its cost is settled, it ends, or it is
//! dropped.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
    time::Instant,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use infermux_core::{BoxError, InferBody, SettledSlot};

use crate::{RequestLog, RequestRecord};

/// A request's row while its response is under way.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) record: RequestRecord,
    pub(crate) started: Instant,
    pub(crate) log: RequestLog,
}

impl Pending {
    /// Dates the end of the request and queues its row.
    pub(crate) fn finish(mut self) {
        self.record.latency_ms = elapsed_ms(self.started);
        self.log.record(self.record);
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The body of a streamed response, passed through frame by frame.
///
/// The row is written as soon as the cost layer below has settled the stream (which it
/// does before releasing the last frame), so a client that read the whole answer can
/// query its row; or when the stream breaks or is dropped, once the layer below has charged
/// what was streamed.
#[derive(Debug)]
pub struct LoggedBody {
    // Dropped before the row is written (see `Drop`): its own drop settles the cost.
    inner: Option<InferBody>,
    pending: Option<Pending>,
    slot: Option<SettledSlot>,
}

impl LoggedBody {
    pub(crate) fn new(inner: InferBody, pending: Pending, slot: Option<SettledSlot>) -> Self {
        Self {
            inner: Some(inner),
            pending: Some(pending),
            slot,
        }
    }

    fn finish(&mut self) {
        if let Some(mut pending) = self.pending.take() {
            let settled = self.slot.as_ref().and_then(SettledSlot::get);
            if settled.is_some() {
                pending
                    .record
                    .served(None, None, settled, crate::Decided::default());
            }
            pending.finish();
        }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(Pin::new(inner).poll_frame(cx));
        match &frame {
            Some(Ok(_)) => {
                if let Some(pending) = this.pending.as_mut()
                    && pending.record.ttft_ms.is_none()
                {
                    pending.record.ttft_ms = Some(elapsed_ms(pending.started));
                }
                if this.slot.as_ref().is_some_and(|s| s.get().is_some()) {
                    this.finish();
                }
            }
            Some(Err(_)) => {
                if let Some(pending) = this.pending.as_mut() {
                    pending.record.error_code = Some("stream_error".into());
                }
                this.finish();
            }
            None => this.finish(),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(Body::size_hint).unwrap_or_default()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        // The layer below charges a dropped stream in its own drop: let it, then log.
        drop(self.inner.take());
        self.finish();
    }
}
