//! The response body of the stack, which knows the usage once the provider reported it.

use std::{
    pin::Pin,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};

use crate::{StreamText, Usage};

/// The error type of the stack's services and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a provider adapter puts the usage of a response once it knows it: at once for a
/// complete JSON body, at the end of a stream for a streamed one. A stream whose protocol does
/// not end with OpenAI's `data: [DONE]` (Anthropic's `message_stop`, the Responses API's
/// `response.completed`) is also marked completed here by the body that saw its terminal
/// event, so the accounting above knows a whole answer from a cut one without parsing it.
#[derive(Clone, Debug, Default)]
pub struct UsageSlot(Arc<SlotState>);

#[derive(Debug, Default)]
struct SlotState {
    usage: OnceLock<Usage>,
    completed: AtomicBool,
    /// The stream's generated text, when the body that reads the provider's events records
    /// it (then nothing above has to read the events again for it).
    text: OnceLock<Mutex<StreamText>>,
}

impl UsageSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// A slot that already holds `usage`.
    pub fn filled(usage: Usage) -> Self {
        let slot = Self::new();
        slot.set(usage);
        slot
    }

    /// Records the usage; the first record wins, later ones are ignored.
    pub fn set(&self, usage: Usage) {
        let _ = self.0.usage.set(usage);
    }

    /// The usage, once recorded.
    pub fn get(&self) -> Option<Usage> {
        self.0.usage.get().copied()
    }

    /// Records that the stream's terminal event arrived: the answer is whole.
    pub fn mark_completed(&self) {
        self.0.completed.store(true, Ordering::Release);
    }

    /// Whether [`mark_completed`](Self::mark_completed) was called.
    pub fn is_completed(&self) -> bool {
        self.0.completed.load(Ordering::Acquire)
    }

    /// Says that the body producing this stream records its generated text here, as it reads
    /// each event: call it before the body is handed on.
    pub fn record_text(&self) {
        let _ = self.0.text.set(Mutex::default());
    }

    /// Whether [`record_text`](Self::record_text) was called.
    pub fn records_text(&self) -> bool {
        self.0.text.get().is_some()
    }

    /// Appends `text` (left empty) to the recorded text; nothing when no text is recorded.
    pub fn append_text(&self, text: &mut StreamText) {
        if let Some(recorded) = self.0.text.get() {
            recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .append(text);
        }
    }

    /// The text recorded so far, taken out; `None` when no text is recorded.
    pub fn take_text(&self) -> Option<StreamText> {
        let recorded = self.0.text.get()?;
        Some(std::mem::take(
            &mut *recorded.lock().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// The body of every response the infermux stack produces.
///
/// Streams pass through it frame by frame, never buffered. It carries a [`UsageSlot`] so
/// that an accounting layer wrapping it can read the provider's usage when the body ends.
pub struct InferBody {
    frames: Frames,
    usage: UsageSlot,
}

/// Where an [`InferBody`]'s frames come from.
enum Frames {
    /// A complete body, held as is (`None` once sent, or when empty): most answers, which a
    /// box would cost an allocation and a call through a pointer per frame.
    Whole(Option<Bytes>),
    /// Any other body: a stream, a body another layer wraps.
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl InferBody {
    /// Wraps a body whose usage will be recorded in `usage`.
    pub fn new<B>(body: B, usage: UsageSlot) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            frames: Frames::Boxed(body.map_err(Into::into).boxed_unsync()),
            usage,
        }
    }

    /// A complete body with no usage (errors, model lists).
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::whole(bytes.into(), UsageSlot::new())
    }

    /// A complete body whose usage is known.
    pub fn full_with_usage(bytes: impl Into<Bytes>, usage: Usage) -> Self {
        Self::whole(bytes.into(), UsageSlot::filled(usage))
    }

    fn whole(bytes: Bytes, usage: UsageSlot) -> Self {
        Self {
            frames: Frames::Whole((!bytes.is_empty()).then_some(bytes)),
            usage,
        }
    }

    /// The usage, once the provider reported it.
    pub fn usage(&self) -> Option<Usage> {
        self.usage.get()
    }

    /// The slot the usage is recorded in, for a layer that wraps this body in its own (or a
    /// body re-encoding this one into another protocol, which reports the same usage).
    pub fn usage_slot(&self) -> &UsageSlot {
        &self.usage
    }
}

impl Default for InferBody {
    fn default() -> Self {
        Self::full(Bytes::new())
    }
}

impl std::fmt::Debug for InferBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferBody")
            .field("usage", &self.usage.get())
            .finish_non_exhaustive()
    }
}

impl Body for InferBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().frames {
            Frames::Whole(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Frames::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.frames {
            Frames::Whole(bytes) => bytes.is_none(),
            Frames::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.frames {
            Frames::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Frames::Boxed(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};

    use super::*;

    #[tokio::test]
    async fn a_complete_body_is_one_frame_of_its_bytes_then_ends() {
        let usage = Usage {
            prompt_tokens: 3,
            ..Usage::default()
        };
        let mut body = InferBody::full_with_usage("{\"ok\":1}", usage);
        assert_eq!(body.size_hint().exact(), Some(8));
        assert!(!body.is_end_stream());
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().expect("data"), "{\"ok\":1}");
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
        assert_eq!(body.usage(), Some(usage));
    }

    #[tokio::test]
    async fn an_empty_body_has_no_frame_as_a_wrapped_one_has_none() {
        let mut body = InferBody::full(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.frame().await.is_none());
        let wrapped = InferBody::new(Full::new(Bytes::new()), UsageSlot::new());
        assert!(wrapped.is_end_stream());
        let collected = wrapped.collect().await.expect("collected").to_bytes();
        assert!(collected.is_empty());
    }
}
