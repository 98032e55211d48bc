//! The response future of [`Cost`](crate::Cost).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderValue, Response};
use http_body_util::BodyExt;
use infermux_core::{BoxError, InferBody, Protocol, Served, Usage, UsageSlot};

use crate::{
    bill::{Bill, count, counted_usage},
    body::{Meter, ResponseBody},
};

/// Header carrying the cost of a response in USD: exact for complete responses, the
/// prompt estimate for streams.
pub const COST_HEADER: http::HeaderName = http::HeaderName::from_static("x-infermux-cost");

/// A response waiting for its cost to be durable.
type Settled = Pin<Box<dyn Future<Output = Result<Response<InferBody>, BoxError>> + Send>>;

pin_project_lite::pin_project! {
    /// The response future of [`Cost`](crate::Cost).
    ///
    /// A complete response is priced at once and returned after its cost is durable in the
    /// store; a stream is returned at once with its body wrapped in a [`ResponseBody`] that
    /// records the cost when the stream ends. The settlement itself runs on its own task:
    /// dropping this future (the client went away) stops the wait, never the settlement.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        bill: Option<Bill>,
        stream: bool,
        wants_usage: bool,
        // The client's protocol: the shape of the stream's events.
        protocol: Protocol,
        settling: Option<Settled>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        bill: Bill,
        stream: bool,
        wants_usage: bool,
        protocol: Protocol,
    ) -> Self {
        Self {
            inner,
            bill: Some(bill),
            stream,
            wants_usage,
            protocol,
            settling: None,
        }
    }
}

/// The provider's usage, unless it reported none: an answer that produced tokens never
/// consumed zero of them, so all-zero usage means "not reported" (an OpenAI-compatible
/// server that omits `usage`), never "free".
pub(crate) fn reported(usage: Option<Usage>) -> Option<Usage> {
    usage.filter(|u| u.prompt_tokens > 0 || u.completion_tokens > 0)
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<InferBody>, BoxError>>,
{
    type Output = Result<Response<InferBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(settling) = this.settling.as_mut() {
            return settling.as_mut().poll(cx);
        }
        // An error drops the bill, which releases the reservation.
        let mut response = ready!(this.inner.as_mut().poll(cx))?;
        let Some(bill) = this.bill.take() else {
            return Poll::Ready(Ok(response));
        };
        response.extensions_mut().insert(infermux_core::Routed {
            group: bill.group.clone(),
            strategy: bill.strategy,
        });
        let Some(served) = response.extensions().get::<Served>().cloned() else {
            // Not served by a provider: nothing to charge.
            return Poll::Ready(Ok(response));
        };
        if *this.protocol == Protocol::AnthropicCountTokens {
            // Dropping the bill releases what the request reserved.
            set_cost(&mut response, infermux_core::Money::ZERO);
            return Poll::Ready(Ok(response));
        }
        // The request log reads the settled cost from here.
        response.extensions_mut().insert(bill.slot.clone());
        let usage = reported(response.body().usage());
        if !response.status().is_success() {
            // A provider's error answer costs nothing, unless the provider billed it.
            let Some(usage) = usage else {
                return Poll::Ready(Ok(response));
            };
            let waste = Some(crate::WasteReason::ProviderError);
            let (cost, settle) = bill.settle_as(&served, usage, false, waste);
            set_cost(&mut response, cost);
            let settled = Box::pin(async move {
                settle.await;
                Ok(response)
            });
            return hold(this.settling, settled, cx);
        }
        if *this.stream {
            let estimate = bill.estimate(bill.price(&served));
            set_cost(&mut response, estimate);
            let meter = Meter::new(bill, served, *this.wants_usage, *this.protocol);
            let response = response.map(|body| {
                let out = UsageSlot::new();
                InferBody::new(ResponseBody::new(body, meter, out.clone()), out)
            });
            return Poll::Ready(Ok(response));
        }
        let settled: Settled = match usage {
            Some(usage) => {
                let grouped = bill.groups_writes();
                let (cost, settle) = bill.settle(&served, usage, false);
                set_cost(&mut response, cost);
                Box::pin(async move {
                    // The responses that finish in the same turn of the runtime share one
                    // journal write (group commit); a stream's end is written at once. A
                    // store without group commit is waited for at once: letting the turn
                    // finish would only cost this task another poll.
                    if grouped {
                        tokio::task::yield_now().await;
                    }
                    settle.await;
                    Ok(response)
                })
            }
            None => {
                let tasks = bill.shared.tasks.clone();
                detached(&tasks, settle_unreported(bill, served, response))
            }
        };
        hold(this.settling, settled, cx)
    }
}

/// Keeps `settled` in `slot` and polls it.
fn hold(
    slot: &mut Option<Settled>,
    settled: Settled,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<InferBody>, BoxError>> {
    slot.insert(settled).as_mut().poll(cx)
}

/// Runs `task` detached from the client, on the layer's tracker: the client going away
/// stops the wait, never the settlement.
fn detached(
    tasks: &tokio_util::task::TaskTracker,
    task: impl Future<Output = Response<InferBody>> + Send + 'static,
) -> Settled {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let handle = tasks.spawn_on(task, &runtime);
            Box::pin(async move { handle.await.map_err(BoxError::from) })
        }
        Err(_) => Box::pin(async move { Ok(task.await) }),
    }
}

/// A complete response without usage: its output is counted here (the prompt was counted at
/// ingress), charged, and marked estimated; the response carries the counted usage.
async fn settle_unreported(
    bill: Bill,
    served: Served,
    response: Response<InferBody>,
) -> Response<InferBody> {
    let (mut parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let text = infermux_wire::delta_text::completion(&bytes);
    let counter = bill.shared.counter.clone();
    let counted = count(counter, served.upstream_model.clone(), text).await;
    let usage = counted_usage(None, bill.prompt_tokens().await, counted);
    tracing::debug!(provider = %served.provider, model = %served.upstream_model,
        "the provider reported no usage; charging infermux's own count");
    let (cost, settle) = bill.settle(&served, usage, true);
    // The decimal's own buffer becomes the header value, uncopied.
    if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(cost.to_plain_decimal())) {
        parts.headers.insert(COST_HEADER, value);
    }
    settle.await;
    Response::from_parts(parts, InferBody::full_with_usage(bytes, usage))
}

fn set_cost(response: &mut Response<InferBody>, cost: infermux_core::Money) {
    // The decimal's own buffer becomes the header value, uncopied.
    if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(cost.to_plain_decimal())) {
        response.headers_mut().insert(COST_HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, task::Waker};

    use http::Response;
    use infermux_budget::{FileStore, MemoryStore};
    use infermux_core::{
        InferRequest, Price, PriceTable, RequestBody, SpendStore, SystemClock, chat::ChatRequest,
    };
    use tower::{Layer, Service, service_fn};

    use super::*;
    use crate::CostLayer;

    /// Whether a complete answer, settled in `store`, is ready at its first poll.
    fn answered_at_once(store: Arc<dyn SpendStore>) -> bool {
        let prices = PriceTable::default().with_price(
            "openai".into(),
            "gpt-4o-mini",
            Price::per_million(0.15, 0.60, None, None).expect("price"),
        );
        let provider = service_fn(|_: InferRequest| async {
            let usage = Usage {
                prompt_tokens: 8,
                completion_tokens: 2,
                ..Usage::default()
            };
            let mut response = Response::new(InferBody::full_with_usage("{}", usage));
            response.extensions_mut().insert(Served {
                provider: "openai".into(),
                upstream_model: "gpt-4o-mini".into(),
            });
            Ok::<_, BoxError>(response)
        });
        let mut service = CostLayer::new(store, prices, Arc::new(SystemClock)).layer(provider);
        let chat: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]
        }))
        .expect("chat");
        let request = InferRequest::new(RequestBody::Chat(chat), "a".into(), "r".into());
        let mut answer = std::pin::pin!(service.call(request));
        answer
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    #[tokio::test]
    async fn a_store_without_group_commit_is_waited_for_at_once() {
        assert!(answered_at_once(Arc::new(MemoryStore::new())));
    }

    #[tokio::test]
    async fn a_store_with_group_commit_lets_the_turn_finish_first() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileStore::open(dir.path().join("spend.json")).expect("store");
        assert!(!answered_at_once(Arc::new(store)));
    }
}
