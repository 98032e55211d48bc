//! The request log, configured: the store of `request_log` and the layer that feeds it.

use std::sync::Arc;

use infermux_request_log::{
    LogError, LogOptions, RequestLog, RequestLogLayer, RequestStore, SqliteStore,
};

use crate::config::{RequestLogConfig, RequestLogStore};

/// Opens the store of `config`; `None` with `store: off`. Fails loudly when the file cannot
/// be opened.
pub fn open(config: &RequestLogConfig) -> Result<Option<RequestLog>, LogError> {
    let store: Arc<dyn RequestStore> = match config.store {
        RequestLogStore::Off => return Ok(None),
        RequestLogStore::Sqlite => match &config.path {
            Some(path) => Arc::new(SqliteStore::open(path)?),
            None => Arc::new(SqliteStore::in_memory()?),
        },
        RequestLogStore::Postgres => {
            return Err(LogError::new(
                "request_log.store: postgres is not available in this build; use sqlite",
            ));
        }
    };
    let options = LogOptions {
        retention: Some(config.retention),
        ..LogOptions::default()
    };
    Ok(Some(RequestLog::new(store, options)))
}

/// The layer that logs every request into `log`, rendering errors as the client sees them.
pub fn layer(log: &RequestLog) -> RequestLogLayer {
    RequestLogLayer::new(log.clone(), |error| {
        let class = crate::error::classify(error);
        (class.status.as_u16(), class.code)
    })
}
