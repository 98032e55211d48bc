//! What the request-log endpoints share: finding the log, answering errors.

use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use infermux_core::InferBody;
use infermux_request_log::{LogError, RequestLog};

use crate::{
    accounting::Accounting,
    error::{self, ErrorClass},
};

/// How long a query waits for rows still queued to be written.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Why a request-log endpoint could not answer.
pub(super) enum Failure {
    /// `request_log.store: off`.
    Off,
    /// A bad query parameter.
    BadQuery(String),
    /// The store failed.
    Store(LogError),
}

impl From<LogError> for Failure {
    fn from(error: LogError) -> Self {
        Self::Store(error)
    }
}

impl Failure {
    pub(super) fn into_response(self) -> Response<InferBody> {
        let (status, code, message) = match self {
            Self::Off => (
                StatusCode::NOT_FOUND,
                "request_log_off",
                "the request log is off (`request_log.store: off`)".to_owned(),
            ),
            Self::BadQuery(message) => (StatusCode::BAD_REQUEST, "invalid_request", message),
            Self::Store(error) => {
                tracing::error!(%error, "request log query failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "request_log_unavailable",
                    "the request log store is unavailable".to_owned(),
                )
            }
        };
        error::response(ErrorClass { status, code }, &message)
    }
}

/// The request log, with every row queued so far written, so a query sees the requests
/// that completed before it.
pub(super) async fn log(accounting: &Accounting) -> Result<&RequestLog, Failure> {
    let log = accounting.request_log().ok_or(Failure::Off)?;
    let _ = tokio::time::timeout(FLUSH_WAIT, log.flush()).await;
    Ok(log)
}

/// A JSON answer, or the failure's.
pub(super) fn answer(result: Result<serde_json::Value, Failure>) -> Response<InferBody> {
    match result {
        Ok(value) => super::json(StatusCode::OK, Bytes::from(value.to_string())),
        Err(failure) => failure.into_response(),
    }
}
