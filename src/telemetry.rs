//! Logs and traces.
//!
//! Logs are JSON or text lines on stderr at the configured level, written by a thread of
//! their own so that a stalled stderr never holds up a request (`init_logging`).
//!
//! Traces are OpenTelemetry spans exported over OTLP/HTTP (protobuf) to the collector of
//! `telemetry.otlp_endpoint`, following the GenAI semantic conventions:
//!
//! * one span per request, `chat {model}` or `embeddings {model}` (kind server), opened by
//!   [`RequestSpanLayer`] in front of the stack and ended when the response body ends (so a
//!   stream's usage and cost are on it): `gen_ai.operation.name`, `gen_ai.provider.name`,
//!   `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens`,
//!   `gen_ai.usage.output_tokens`, `gen_ai.usage.cache_read.input_tokens`,
//!   `gen_ai.usage.cache_creation.input_tokens`, and infermux's own `infermux.cost_usd`,
//!   `infermux.caller`, `infermux.route_group`, `infermux.virtual_model`;
//! * a child span per provider attempt (kind client), opened by [`AttemptSpans`] around each
//!   provider's client, so failover shows as sibling attempts under the request;
//! * an incoming W3C `traceparent` is continued ([`TraceContextLayer`], at the edge) and the
//!   attempt's context is sent upstream in `traceparent` ([`inject`]).
//!
//! The span of the request is carried in the OpenTelemetry [`Context`] that is current while
//! the stack works on the request, so an inner layer can add an attribute to it with
//! `Context::current().span().set_attribute(..)` (a key layer naming the caller, a virtual
//! model layer naming the model it chose).
//!
//! [`Context`]: opentelemetry::Context

mod attempt;
mod layer;
mod propagation;
mod traces;

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

pub use self::{
    attempt::AttemptSpans,
    layer::{RequestSpan, RequestSpanLayer},
    propagation::{TraceContext, TraceContextLayer, inject},
    traces::{Traces, TracesError},
};
use crate::config::{LogConfig, LogFormat};

/// Log lines queued for the writer thread before new ones are dropped: seconds of a busy
/// proxy's `info` lines, in about 256 KiB.
const QUEUED_LOG_LINES: usize = 8_192;

/// Installs the global log subscriber. `RUST_LOG`, when set, overrides `log.level`.
///
/// Lines go to stderr from a thread of their own, through a bounded queue: a request never
/// waits on a slow or stalled reader of stderr (a full pipe, a paused terminal). When the
/// queue is full, lines are dropped rather than requests held up. Keep the returned guard
/// until exit: dropping it writes out what is queued.
///
/// The queue holds [`QUEUED_LOG_LINES`]; its slots are allocated and touched up front, so
/// the library's default (128,000 lines) alone held 4 MiB of every idle process.
pub(crate) fn init_logging(log: &LogConfig) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{},hyper=warn,h2=warn,rustls=warn,opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn",
            log.level
        ))
    });
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUED_LOG_LINES)
        .lossy(true)
        .finish(std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}
