//! Prompt counting stays off the hot path: on a runtime with a single worker, a small
//! request sent while large prompts are being counted completes before all of them. The
//! large ones ask for a model no provider serves, so each completes (404) as soon as it is
//! counted: had a count run on the worker, the small request would wait behind it.

use crate::common::Infermux;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{Method, Request};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use infermux_test_util::MockServer;
use tokio::sync::{mpsc, oneshot};

/// Size of each large prompt: well above the inline-counting threshold.
const LARGE_PROMPT: usize = 4 << 20;
const LARGE_REQUESTS: usize = 2;

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// A chat request whose body reports, on `sent`, that its last byte was handed to hyper.
fn chat(model: &str, prompt: String, sent: oneshot::Sender<()>) -> Body {
    let json = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 1
    })
    .to_string();
    let bytes = Bytes::from(json);
    let chunks: Vec<Bytes> = (0..bytes.len())
        .step_by(64 * 1024)
        .map(|at| bytes.slice(at..bytes.len().min(at + 64 * 1024)))
        .collect();
    let mut sent = Some(sent);
    let last = chunks.len();
    let body = stream::iter(chunks.into_iter().enumerate()).map(move |(i, chunk)| {
        if i + 1 == last
            && let Some(sent) = sent.take()
        {
            let _ = sent.send(());
        }
        Ok::<_, std::convert::Infallible>(Frame::data(chunk))
    });
    BodyExt::boxed(StreamBody::new(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_small_request_is_not_delayed_by_large_prompts_being_counted() {
    let mock = MockServer::openai().await;
    // `cost_weighted` routing decides by a prompt's size, so every prompt is counted at
    // ingress (without anything that does, a long complete prompt is left uncounted).
    let infermux = Infermux::start(&format!(
        "routing: {{strategy: cost_weighted}}\nproviders:\n  - {{name: openai, type: openai, api_key: sk-test, base_url: \"{}\", models: [gpt-4o-mini]}}\n",
        mock.base_url()
    ))
    .await;
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let url = infermux.url("/v1/chat/completions");
    let (done, mut order) = mpsc::unbounded_channel();
    let send = |label: &'static str, model: &str, prompt: String| {
        let (client, url, done) = (client.clone(), url.clone(), done.clone());
        let (sent, uploaded) = oneshot::channel();
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header("content-type", "application/json")
            .body(chat(model, prompt, sent))
            .expect("request");
        tokio::spawn(async move {
            let response = client.request(request).await.expect("response");
            let expected = if label == "small" { 200 } else { 404 };
            assert_eq!(response.status(), expected, "{label}");
            response.into_body().collect().await.expect("body");
            let _ = done.send(label);
        });
        uploaded
    };
    // Large prompts of varied text (BPE counting is slowest on text without repeats).
    let large: String = (0..LARGE_PROMPT / 8)
        .map(|i| format!("{:07x} ", i.wrapping_mul(2_654_435_761) % 0xfff_ffff))
        .collect();
    let mut uploads = Vec::new();
    for n in 0..LARGE_REQUESTS {
        // gpt-4o is counted with its BPE tokenizer, and not served here. Each prompt is new
        // (a long text counted once is remembered).
        uploads.push(send("large", "gpt-4o", format!("{n} {large}")));
    }
    for upload in uploads {
        upload.await.expect("large body handed over");
    }
    send("small", "gpt-4o-mini", "hi".to_owned())
        .await
        .expect("small body handed over");
    let mut completed = Vec::new();
    for _ in 0..=LARGE_REQUESTS {
        completed.push(order.recv().await.expect("a request completed"));
    }
    assert_eq!(
        completed[0], "small",
        "the small request waited for large prompts to be counted: {completed:?}"
    );
}
