//! [`ResponseBody`]: accounts a streamed response when it ends, breaks, or is dropped.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use infermux_core::{BoxError, InferBody, Money, Protocol, Served, StreamText, Usage, UsageSlot};

use crate::{
    WasteReason,
    bill::{Bill, Settling},
    chunk,
};

pin_project_lite::pin_project! {
    /// The body of a streamed response, passed through frame by frame.
    ///
    /// It reads the generated text of each chunk as it passes (never buffering the stream;
    /// when the body below already records the text in its usage slot, it reads it there
    /// and looks only for the end), and records the request's cost exactly once: with the
    /// provider's usage when the stream completes, and with the tokens already streamed
    /// (counted locally, marked estimated) when the provider reported none, the stream breaks,
    /// or the client goes away. The closing `data: [DONE]` of a complete stream is held until
    /// the cost is durable in the store, so a client that saw it was charged. When the client asked for
    /// usage, the usage chunk gains `usage.cost`. A settlement that cannot finish at once
    /// moves to a task of its own: dropping the body never loses it.
    pub struct ResponseBody {
        #[pin]
        inner: InferBody,
        meter: Option<Meter>,
        settling: Option<Settling>,
        queue: VecDeque<Frame<Bytes>>,
        usage_chunk: Option<Bytes>,
        ended: bool,
        out: UsageSlot,
    }

    impl PinnedDrop for ResponseBody {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(meter) = this.meter.take() {
                // The client went away mid-stream: the tokens generated so far are charged.
                let reported = this.inner.usage();
                drop(meter.finish(reported, None, Some(WasteReason::ClientDisconnected)));
            }
        }
    }
}

/// The accounting state of a stream.
#[derive(Debug)]
pub(crate) struct Meter {
    bill: Bill,
    served: Served,
    wants_usage: bool,
    protocol: Protocol,
    text: StreamText,
    /// The slot where the body below records the stream's text, when it does (then the
    /// events are not read here, only the end is looked for).
    recorded: Option<UsageSlot>,
    done: bool,
}

impl Meter {
    pub(crate) fn new(bill: Bill, served: Served, wants_usage: bool, protocol: Protocol) -> Self {
        Self {
            bill,
            served,
            wants_usage,
            protocol,
            text: StreamText::default(),
            recorded: None,
            done: false,
        }
    }

    /// Settles with the provider's usage when the stream completed and it reported one:
    /// returns the cost then. Otherwise settles with the prompt (as reported, else as
    /// counted at ingress) and the streamed text counted locally, marked estimated, and
    /// counted as `waste` when given; the cost is not known to the caller then.
    fn finish(
        self,
        reported: Option<Usage>,
        out: Option<&UsageSlot>,
        waste: Option<WasteReason>,
    ) -> (Option<Money>, Settling) {
        let reported = crate::future::reported(reported);
        match reported {
            Some(usage) if self.done => {
                if let Some(out) = out {
                    out.set(usage);
                }
                let (cost, settle) = self.bill.settle(&self.served, usage, false);
                (Some(cost), settle)
            }
            partial => {
                let text = match self.recorded {
                    Some(slot) => slot.take_text().unwrap_or_default(),
                    None => self.text,
                };
                let settle = self.bill.settle_counted(
                    self.served,
                    partial,
                    text.decode(),
                    out.cloned(),
                    waste,
                );
                (None, settle)
            }
        }
    }
}

impl ResponseBody {
    /// Accounts `inner` with `meter`.
    pub(crate) fn new(inner: InferBody, mut meter: Meter, out: UsageSlot) -> Self {
        let slot = inner.usage_slot();
        if meter.protocol == Protocol::OpenAiChat && !meter.wants_usage && slot.records_text() {
            meter.recorded = Some(slot.clone());
        }
        Self {
            inner,
            meter: Some(meter),
            settling: None,
            queue: VecDeque::new(),
            usage_chunk: None,
            ended: false,
            out,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if let Some(settling) = this.settling.as_mut() {
                ready!(Pin::new(settling).poll(cx));
                *this.settling = None;
            }
            if let Some(frame) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if *this.ended {
                return Poll::Ready(None);
            }
            let frame = match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(error)) => {
                    if let Some(meter) = this.meter.take() {
                        let waste = Some(WasteReason::StreamInterrupted);
                        drop(meter.finish(this.inner.usage(), Some(this.out), waste));
                    }
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    *this.ended = true;
                    if let Some(mut meter) = this.meter.take() {
                        // A protocol without `[DONE]` (Anthropic's `message_stop`) is marked
                        // completed by the body that saw its terminal event.
                        meter.done |= this.inner.usage_slot().is_completed();
                        // Ended without its terminal event: the provider cut the stream.
                        let waste = (!meter.done).then_some(WasteReason::StreamInterrupted);
                        let (cost, settle) =
                            meter.finish(this.inner.usage(), Some(this.out), waste);
                        *this.settling = Some(settle);
                        if let Some(held) = this.usage_chunk.take() {
                            this.queue.push_back(Frame::data(match cost {
                                Some(cost) => chunk::with_cost(&held, cost),
                                None => held,
                            }));
                        }
                    }
                    continue;
                }
            };
            let Some(meter) = this.meter.as_mut() else {
                return Poll::Ready(Some(Ok(frame)));
            };
            let mut done_now = false;
            if let Some(data) = frame.data_ref() {
                let seen = match meter.recorded {
                    Some(_) => chunk::Seen {
                        done: data.ends_with(infermux_wire::openai::DONE_EVENT),
                        usage_chunk: false,
                    },
                    None => chunk::observe(data, meter.protocol, &mut meter.text),
                };
                meter.done |= seen.done;
                done_now = seen.done;
                if seen.usage_chunk && meter.wants_usage {
                    // Held until the usage is final, to add the cost to it.
                    *this.usage_chunk = Some(data.clone());
                    continue;
                }
            }
            if !done_now {
                return Poll::Ready(Some(Ok(frame)));
            }
            // `[DONE]`: the stream completed. Record the cost, and hold this last frame
            // until it is durable.
            if let Some(meter) = this.meter.take() {
                let (cost, settle) = meter.finish(this.inner.usage(), Some(this.out), None);
                *this.settling = Some(settle);
                if let Some(held) = this.usage_chunk.take() {
                    this.queue.push_back(Frame::data(match cost {
                        Some(cost) => chunk::with_cost(&held, cost),
                        None => held,
                    }));
                }
            }
            this.queue.push_back(frame);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.queue.is_empty() && self.settling.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::SystemTime};

    use futures_util::{StreamExt, stream};
    use http::Response;
    use http_body_util::{BodyExt, StreamBody};
    use infermux_budget::MemoryStore;
    use infermux_core::{
        InferRequest, Money, Month, Price, PriceTable, RequestBody, SpendStore, SystemClock,
        chat::ChatRequest,
    };
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;
    use crate::CostLayer;

    fn event(json: &str) -> Result<Frame<Bytes>, BoxError> {
        Ok(Frame::data(Bytes::from(format!("data: {json}\n\n"))))
    }

    /// A provider streaming two content chunks and then nothing, ever.
    fn stalled_stream(slot: UsageSlot) -> InferBody {
        let chunks = stream::iter([
            event(r#"{"choices":[{"delta":{"content":"Hello"}}]}"#),
            event(r#"{"choices":[{"delta":{"content":" there"}}]}"#),
        ])
        .chain(stream::pending());
        InferBody::new(StreamBody::new(chunks), slot)
    }

    #[tokio::test]
    async fn a_stream_dropped_by_the_client_is_charged_for_what_was_streamed() {
        // "Hello there" is 11 bytes: 3 tokens at 4 bytes per token.
        assert_eq!(charged_after_a_drop(UsageSlot::new()).await, (8, 3));
    }

    #[tokio::test]
    async fn the_text_a_body_recorded_is_charged_instead_of_reading_its_events() {
        let slot = UsageSlot::new();
        slot.record_text();
        let mut recorded = StreamText::default();
        recorded.push_str("Hello there, and more");
        slot.append_text(&mut recorded);
        // 21 bytes: 6 tokens, though the events that passed say "Hello there".
        assert_eq!(charged_after_a_drop(slot).await, (8, 6));
    }

    /// The prompt and completion tokens charged for a stream in `slot` that the client drops
    /// after two events.
    async fn charged_after_a_drop(slot: UsageSlot) -> (u64, u64) {
        let store = Arc::new(MemoryStore::new());
        let prices = PriceTable::default().with_price(
            "openai".into(),
            "gpt-4o-mini",
            Price::per_million(0.15, 0.60, None, None).expect("price"),
        );
        let provider = service_fn(move |_: InferRequest| {
            let body = stalled_stream(slot.clone());
            async move {
                let mut response = Response::new(body);
                response.extensions_mut().insert(Served {
                    provider: "openai".into(),
                    upstream_model: "gpt-4o-mini".into(),
                });
                Ok::<_, BoxError>(response)
            }
        });
        let service = CostLayer::new(store.clone(), prices, Arc::new(SystemClock)).layer(provider);
        let chat: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": true
        }))
        .expect("chat");
        let mut request = InferRequest::new(RequestBody::Chat(chat), "a".into(), "r".into());
        request.estimate.prompt_tokens = 8;
        let response = service.oneshot(request).await.expect("response");
        // The estimate at send time: 8 × $0.15/M.
        assert_eq!(response.headers()["x-infermux-cost"], "0.0000012");
        let mut body = response.into_body();
        for _ in 0..2 {
            body.frame().await.expect("frame").expect("data");
        }
        drop(body);
        tokio::task::yield_now().await;
        let summary = store
            .summary(Month::of(SystemTime::now()))
            .await
            .expect("summary");
        let caller = summary.callers[&"a".into()];
        let tokens = (caller.prompt_tokens, caller.completion_tokens);
        assert_eq!(
            caller.cost,
            Money::from_picos(tokens.0 * 150_000 + tokens.1 * 600_000)
        );
        tokens
    }
}
