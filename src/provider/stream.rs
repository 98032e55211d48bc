//! Streams translated chunk by chunk into OpenAI server-sent events.
//!
//! A provider's stream (SSE events or NDJSON lines) is decoded item by item into OpenAI
//! `chat.completion.chunk` JSON documents, each written as `data: <json>\n\n` the moment it is
//! decoded: nothing is buffered beyond one upstream item. A stream that completes ends with
//! `data: [DONE]`. A stream that breaks — the provider errors, the connection drops, it stops
//! sending for longer than the idle timeout, or it ends before its terminal event — ends with
//! an SSE error event and **no** `[DONE]`, so no client mistakes a cut-off answer for a whole
//! one.

use std::{
    collections::VecDeque,
    future::poll_fn,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, stream::BoxStream};
use http_body::{Body, Frame};
use infermux_core::{BoxError, UsageSlot};
pub use infermux_wire::ChunkDecoder;
use tokio::time::{Instant, Sleep, sleep};

use crate::error::error_json;

pub(super) use infermux_wire::openai::DONE_EVENT;

/// The error code of the SSE error event that ends a broken stream.
const STREAM_ERROR_CODE: &str = "stream_interrupted";

enum State {
    Streaming,
    Ended,
}

/// A response body that decodes a provider stream into OpenAI SSE as it arrives.
pub struct TranslatedBody<D: ChunkDecoder> {
    upstream: BoxStream<'static, Result<D::Item, BoxError>>,
    decoder: D,
    pending: VecDeque<Bytes>,
    state: State,
    sent_data: bool,
    failure: Option<String>,
    usage: UsageSlot,
    provider: String,
    idle: IdleDeadline,
}

impl<D: ChunkDecoder> TranslatedBody<D> {
    /// Decodes `upstream` with `decoder`; `idle_timeout` bounds the wait for each item.
    pub fn new<S>(
        upstream: S,
        decoder: D,
        usage: UsageSlot,
        provider: &str,
        idle_timeout: Duration,
    ) -> Self
    where
        S: Stream<Item = Result<D::Item, BoxError>> + Send + 'static,
    {
        Self {
            upstream: Box::pin(upstream),
            decoder,
            pending: VecDeque::new(),
            state: State::Streaming,
            sent_data: false,
            failure: None,
            usage,
            provider: provider.to_owned(),
            idle: IdleDeadline::new(idle_timeout),
        }
    }

    /// Waits until the first chunk is decoded, so that a provider failing before sending
    /// anything is a failed attempt (and dispatch can fail over) rather than a broken stream.
    pub async fn first_chunk(&mut self) -> Result<(), String> {
        poll_fn(|cx| {
            while self.pending.is_empty() && matches!(self.state, State::Streaming) {
                ready!(self.poll_step(cx));
            }
            Poll::Ready(())
        })
        .await;
        match self.failure.take() {
            Some(failure) if !self.sent_data => Err(failure),
            _ => Ok(()),
        }
    }

    /// Reads and decodes one upstream item.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(message) = self.idle.poll_expired(cx) {
            self.fail(message);
            return Poll::Ready(());
        }
        match ready!(self.upstream.as_mut().poll_next(cx)) {
            Some(Ok(item)) => {
                self.idle.reset();
                match self.decoder.feed(item) {
                    Ok(chunks) => self.queue(chunks),
                    Err(message) => self.fail(message),
                }
            }
            Some(Err(error)) => self.fail(format!("connection to the provider broke: {error}")),
            None => match self.decoder.finish() {
                Ok(chunks) => {
                    self.queue(chunks);
                    self.pending.push_back(Bytes::from_static(DONE_EVENT));
                    // Whole: the circuit breaker counts the stream a success.
                    self.usage.mark_completed();
                    self.end();
                }
                Err(message) => self.fail(message),
            },
        }
        Poll::Ready(())
    }

    fn queue(&mut self, chunks: Vec<String>) {
        for chunk in chunks {
            self.sent_data = true;
            self.pending.push_back(sse_data(chunk.as_bytes()));
        }
    }

    fn fail(&mut self, message: String) {
        let (event, message) = failure(&self.provider, &message);
        self.pending.push_back(event);
        self.failure = Some(message);
        self.end();
    }

    fn end(&mut self) {
        self.state = State::Ended;
        self.usage.set(self.decoder.usage());
    }
}

/// How long a provider may go without sending anything before its stream counts as broken.
pub(super) struct IdleDeadline {
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl IdleDeadline {
    /// A deadline `timeout` from now.
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            sleep: Box::pin(sleep(timeout)),
        }
    }

    /// The failure's message once the deadline has passed.
    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<String> {
        self.sleep.as_mut().poll(cx).is_ready().then(|| {
            let secs = self.timeout.as_secs_f64();
            format!("no data from the provider for {secs}s")
        })
    }

    /// Something arrived: the next wait starts now.
    pub(super) fn reset(&mut self) {
        self.sleep.as_mut().reset(Instant::now() + self.timeout);
    }
}

/// The SSE error event that ends `provider`'s broken stream, and the failure's message (logged
/// here once).
pub(super) fn failure(provider: &str, message: &str) -> (Bytes, String) {
    let message = format!("provider {provider} stream failed: {message}");
    tracing::warn!(provider = %provider, error = %message, "stream interrupted");
    (sse_data(&error_json(&message, STREAM_ERROR_CODE)), message)
}

/// `data: <json>\n\n`
pub(super) fn sse_data(json: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(json.len() + 8);
    buf.put_slice(b"data: ");
    buf.put_slice(json);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

impl<D: ChunkDecoder> Body for TranslatedBody<D> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if let Some(bytes) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if matches!(this.state, State::Ended) {
                return Poll::Ready(None);
            }
            ready!(this.poll_step(cx));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && matches!(self.state, State::Ended)
    }
}

impl<D: ChunkDecoder> Unpin for TranslatedBody<D> {}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use http_body_util::BodyExt;
    use infermux_core::Usage;

    use super::*;

    /// Upper-cases each item; the stream is complete once it saw "end".
    struct Upper {
        complete: bool,
    }

    impl ChunkDecoder for Upper {
        type Item = &'static str;

        fn feed(&mut self, item: &'static str) -> Result<Vec<String>, String> {
            if item == "end" {
                self.complete = true;
                return Ok(vec![]);
            }
            if item == "bad" {
                return Err("bad item".into());
            }
            Ok(vec![item.to_uppercase()])
        }

        fn finish(&mut self) -> Result<Vec<String>, String> {
            if self.complete {
                Ok(vec![])
            } else {
                Err("ended early".into())
            }
        }

        fn usage(&self) -> Usage {
            Usage {
                completion_tokens: 1,
                ..Usage::default()
            }
        }
    }

    fn body(items: Vec<Result<&'static str, BoxError>>) -> TranslatedBody<Upper> {
        TranslatedBody::new(
            stream::iter(items),
            Upper { complete: false },
            UsageSlot::new(),
            "p",
            Duration::from_secs(5),
        )
    }

    async fn text(body: TranslatedBody<Upper>) -> String {
        let bytes = body.collect().await.expect("body").to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn a_complete_stream_ends_with_done() {
        let out = text(body(vec![Ok("a"), Ok("b"), Ok("end")])).await;
        assert_eq!(out, "data: A\n\ndata: B\n\ndata: [DONE]\n\n");
    }

    #[tokio::test]
    async fn a_stream_that_ends_early_gets_an_error_event_and_no_done() {
        let out = text(body(vec![Ok("a")])).await;
        assert!(out.starts_with("data: A\n\ndata: {\"error\""), "{out}");
        assert!(out.contains("ended early"));
        assert!(!out.contains("[DONE]"));
    }

    #[tokio::test]
    async fn a_broken_connection_gets_an_error_event() {
        let out = text(body(vec![Ok("a"), Err("reset".into())])).await;
        assert!(
            out.contains("stream_interrupted") && out.contains("reset"),
            "{out}"
        );
        assert!(!out.contains("[DONE]"));
    }

    #[tokio::test]
    async fn failing_before_the_first_chunk_is_a_failed_attempt() {
        let mut b = body(vec![Ok("bad")]);
        assert_eq!(
            b.first_chunk().await.map_err(|e| e.contains("bad item")),
            Err(true)
        );
        let mut b = body(vec![Ok("a"), Ok("bad")]);
        assert_eq!(b.first_chunk().await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_provider_times_out() {
        let b = TranslatedBody::new(
            stream::pending(),
            Upper { complete: false },
            UsageSlot::new(),
            "p",
            Duration::from_secs(5),
        );
        let out = text(b).await;
        assert!(out.contains("no data from the provider for 5s"), "{out}");
    }

    #[tokio::test]
    async fn usage_is_recorded_when_the_stream_ends() {
        let slot = UsageSlot::new();
        let b = TranslatedBody::new(
            stream::iter(vec![Ok("end")]),
            Upper { complete: false },
            slot.clone(),
            "p",
            Duration::from_secs(5),
        );
        let _ = text(b).await;
        assert_eq!(slot.get().map(|u| u.completion_tokens), Some(1));
    }
}
