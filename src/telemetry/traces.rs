//! [`Traces`]: the tracer provider of `telemetry:`, exporting over OTLP/HTTP (protobuf).

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    runtime::Tokio,
    trace::{
        Sampler, SdkTracer, SdkTracerProvider,
        span_processor_with_async_runtime::BatchSpanProcessor,
    },
};

use crate::config::TelemetryConfig;

/// How long one export to the collector may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporting tracer provider and infermux's tracer; clones share them.
///
/// Spans are batched and exported from a task on the tokio runtime (not from a thread of
/// their own: the exporter's hyper client needs the runtime), so they must be created inside
/// one. [`shutdown`](Self::shutdown) exports what is left.
#[derive(Clone, Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

/// The exporter could not be built from `telemetry:`.
#[derive(Debug, thiserror::Error)]
#[error("telemetry: cannot export traces to {endpoint}: {reason}")]
pub struct TracesError {
    endpoint: String,
    reason: String,
}

impl Traces {
    /// The traces of `config`, or `None` when it names no `otlp_endpoint`. Call it inside a
    /// tokio runtime.
    pub fn from_config(config: &TelemetryConfig) -> Result<Option<Self>, TracesError> {
        let Some(endpoint) = &config.otlp_endpoint else {
            return Ok(None);
        };
        let url = format!("{endpoint}/v1/traces");
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TracesError {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            })?;
        let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
        let sampler =
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio)));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler)
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("infermux");
        Ok(Some(Self { provider, tracer }))
    }

    /// The tracer the request and attempt spans are made with.
    pub fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Exports the spans still batched and stops exporting. Later spans are dropped.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        // The processor's shutdown blocks until its task has exported; that task runs on this
        // runtime, so block a pool thread, not a runtime thread.
        let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "traces were not all exported at shutdown"),
            Err(error) => tracing::warn!(%error, "the trace exporter's shutdown failed"),
        }
    }
}
