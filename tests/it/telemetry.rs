//! OpenTelemetry traces, received by an in-process OTLP/HTTP collector: one span per request
//! with the GenAI attributes and cost, a child span per provider attempt, and the client's
//! `traceparent` continued and passed upstream.

use std::collections::HashMap;

use crate::common::{Infermux, chat, post_json};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use infermux_test_util::{Fault, MockServer};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use prost::Message;
use tokio::{net::TcpListener, sync::mpsc};

/// What one export POST carried.
struct Export {
    path: String,
    content_type: String,
    request: ExportTraceServiceRequest,
}

/// An OTLP/HTTP receiver on loopback port 0: every POST is decoded and sent on the channel.
async fn collector() -> (String, mpsc::UnboundedReceiver<Export>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let content_type = request
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body = request.into_body().collect().await?.to_bytes();
                        let request = ExportTraceServiceRequest::decode(body).expect("protobuf");
                        let _ = tx.send(Export {
                            path,
                            content_type,
                            request,
                        });
                        let mut response = Response::new(Full::new(Bytes::new()));
                        response.headers_mut().insert(
                            "content-type",
                            http::HeaderValue::from_static("application/x-protobuf"),
                        );
                        Ok::<_, hyper::Error>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

fn attributes(span: &Span) -> HashMap<&str, &Value> {
    span.attributes
        .iter()
        .filter_map(|kv: &KeyValue| {
            let value: &AnyValue = kv.value.as_ref()?;
            Some((kv.key.as_str(), value.value.as_ref()?))
        })
        .collect()
}

fn text<'a>(attrs: &HashMap<&str, &'a Value>, key: &str) -> &'a str {
    match attrs.get(key) {
        Some(Value::StringValue(s)) => s,
        other => panic!("{key} is not a string: {other:?}"),
    }
}

fn int(attrs: &HashMap<&str, &Value>, key: &str) -> i64 {
    match attrs.get(key) {
        Some(Value::IntValue(n)) => *n,
        other => panic!("{key} is not an integer: {other:?}"),
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_request_is_one_span_with_genai_attributes_and_a_child_per_attempt() {
    let (endpoint, mut exports) = collector().await;
    let upstream = MockServer::openai().await;
    let infermux = Infermux::start(&format!(
        "
telemetry:
  otlp_endpoint: \"{endpoint}\"
  service_name: infermux-test
  sample_ratio: 1.0
providers:
  - {{name: broken, type: openai, base_url: \"{url}\", api_key: sk-a, models: [gpt-4o-mini]}}
  - {{name: good, type: openai, base_url: \"{url}\", api_key: sk-b, models: [gpt-4o-mini]}}
routing:
  strategy: priority
",
        url = upstream.base_url()
    ))
    .await;
    upstream.set_faults(vec![Fault::status(500)]);
    let traceparent = format!("00-{TRACE_ID}-{CLIENT_SPAN}-01");
    let reply = post_json(
        &infermux.url("/v1/chat/completions"),
        &[
            ("traceparent", traceparent.as_str()),
            ("tracestate", "vendor=kept"),
            ("x-infermux-caller", "alice"),
        ],
        chat("gpt-4o-mini", serde_json::json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-infermux-provider"), Some("good"));
    let stream = post_json(
        &infermux.url("/v1/chat/completions"),
        &[("x-infermux-caller", "bob")],
        chat(
            "gpt-4o-mini",
            serde_json::json!({"stream": true, "stream_options": {"include_usage": true}}),
        ),
    )
    .await;
    assert_eq!(stream.status, 200, "{}", stream.text());

    // Upstream got the trace: same trace id, the attempt's span as parent, tracestate kept.
    let sent = upstream.requests();
    assert_eq!(sent.len(), 3);
    let upstream_parent = sent[1].header("traceparent").expect("traceparent upstream");
    let parts: Vec<&str> = upstream_parent.split('-').collect();
    assert_eq!(parts[1], TRACE_ID);
    assert_ne!(
        parts[2], CLIENT_SPAN,
        "the attempt's span, not the client's"
    );
    assert_eq!(sent[1].header("tracestate"), Some("vendor=kept"));
    let stream_parent = sent[2]
        .header("traceparent")
        .expect("a new trace for the stream");
    assert_ne!(stream_parent.split('-').nth(1), Some(TRACE_ID));

    // Stopping flushes the batch.
    infermux.stop().await;
    let mut spans = Vec::new();
    while let Ok(export) = exports.try_recv() {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.content_type, "application/x-protobuf");
        for resource_spans in export.request.resource_spans {
            let resource = resource_spans.resource.expect("resource");
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.clone()?.value);
            assert_eq!(service, Some(Value::StringValue("infermux-test".into())));
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();

    // The continued request: a server span under the client's span.
    let request = spans
        .iter()
        .find(|s| hex(&s.trace_id) == TRACE_ID && s.kind == SpanKind::Server as i32)
        .expect("the request span");
    assert_eq!(request.name, "chat gpt-4o-mini");
    assert_eq!(hex(&request.parent_span_id), CLIENT_SPAN);
    let attrs = attributes(request);
    assert_eq!(text(&attrs, "gen_ai.operation.name"), "chat");
    assert_eq!(text(&attrs, "gen_ai.provider.name"), "good");
    assert_eq!(text(&attrs, "gen_ai.request.model"), "gpt-4o-mini");
    assert_eq!(text(&attrs, "gen_ai.response.model"), "gpt-4o-mini");
    assert_eq!(text(&attrs, "infermux.caller"), "alice");
    assert!(int(&attrs, "gen_ai.usage.input_tokens") > 0);
    assert!(int(&attrs, "gen_ai.usage.output_tokens") > 0);
    assert_eq!(int(&attrs, "gen_ai.usage.cache_read.input_tokens"), 0);
    assert_eq!(int(&attrs, "gen_ai.usage.cache_creation.input_tokens"), 0);
    match attrs.get("infermux.cost_usd") {
        Some(Value::DoubleValue(usd)) => {
            let header: f64 = reply
                .header("x-infermux-cost")
                .expect("cost")
                .parse()
                .expect("number");
            assert!((usd - header).abs() < 1e-12, "{usd} vs {header}");
            assert!(*usd > 0.0);
        }
        other => panic!("infermux.cost_usd: {other:?}"),
    }

    // Two attempts under it: the failed one, then the one that served.
    let mut attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == request.span_id)
        .collect();
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    let providers: Vec<&str> = attempts
        .iter()
        .map(|s| text(&attributes(s), "gen_ai.provider.name"))
        .collect();
    assert_eq!(providers, ["broken", "good"]);
    assert!(attempts.iter().all(|s| s.kind == SpanKind::Client as i32));
    let status = |s: &Span| s.status.as_ref().map_or(0, |st| st.code);
    assert_eq!(status(attempts[0]), StatusCode::Error as i32);
    assert_ne!(status(attempts[1]), StatusCode::Error as i32);
    assert_eq!(
        parts[2],
        hex(&attempts[1].span_id),
        "upstream saw the serving attempt"
    );

    // The stream's span ends with the stream, so its usage is on it.
    let streamed = spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Server as i32 && text(&attributes(s), "infermux.caller") == "bob"
        })
        .expect("the stream's span");
    let attrs = attributes(streamed);
    assert!(int(&attrs, "gen_ai.usage.output_tokens") > 0);
    assert!(streamed.parent_span_id.is_empty(), "a new trace");
}
