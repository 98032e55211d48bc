//! Why a Redis spend store could not be set up.

/// The store could not be set up: the URL is invalid, or there is no Tokio runtime to run
/// its connection on. The message never contains the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
#[error("redis spend store: {reason}")]
pub struct ConnectError {
    reason: String,
}

impl ConnectError {
    pub(crate) fn new(context: &str, error: &redis::RedisError) -> Self {
        Self {
            reason: format!("{context}: {error}"),
        }
    }

    pub(crate) fn no_runtime() -> Self {
        Self {
            reason: "must be opened within a tokio runtime".into(),
        }
    }
}
