//! `request_log`: where the request log keeps its rows, and for how long.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use super::{duration::Humane, error::Issue, model::Secret};

/// The file name of the SQLite request log when `path` is not set.
const DEFAULT_FILE: &str = "infermux-requests.db";
/// `retention` when the file sets none.
const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// `request_log` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRequestLog {
    store: Option<RequestLogStore>,
    path: Option<String>,
    url: Option<String>,
    retention: Option<Humane>,
}

/// Where request rows are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestLogStore {
    /// An embedded SQLite database (`sqlite`, the default).
    #[default]
    Sqlite,
    /// A PostgreSQL database shared by a fleet of replicas (`postgres`).
    Postgres,
    /// No request log (`off`).
    Off,
}

/// The request log (`request_log`).
#[derive(Clone, Debug, Default)]
pub struct RequestLogConfig {
    /// Where rows are kept (default `sqlite`).
    pub store: RequestLogStore,
    /// The SQLite file; `None` keeps the rows in memory (`path: ":memory:"`).
    pub path: Option<PathBuf>,
    /// The PostgreSQL URL of the `postgres` store (it may hold a password).
    pub url: Option<Secret>,
    /// How long rows are kept (default 90 days).
    pub retention: Duration,
}

/// Checks `request_log`; the SQLite file defaults to `infermux-requests.db` beside
/// `state_file`, else in the working directory.
pub(super) fn check(
    file: Option<FileRequestLog>,
    state_file: Option<&Path>,
) -> Result<RequestLogConfig, Issue> {
    let file = file.unwrap_or(FileRequestLog {
        store: None,
        path: None,
        url: None,
        retention: None,
    });
    let store = file.store.unwrap_or_default();
    let retention = file.retention.map_or(DEFAULT_RETENTION, |r| r.0);
    if retention.is_zero() {
        return Err(Issue::new(
            "request_log.retention",
            "a retention of 0 deletes every row",
            "write a duration such as \"90d\", or `store: off` for no request log",
        ));
    }
    let url = file.url.filter(|u| !u.is_empty());
    if store == RequestLogStore::Postgres && url.is_none() {
        return Err(Issue::new(
            "request_log.url",
            "`store: postgres` needs the database URL",
            "add url: \"postgres://user:password@host/db\" (or ${DATABASE_URL})",
        ));
    }
    if store == RequestLogStore::Postgres
        && let Some(url) = &url
        && let Err(error) = infermux_request_log::check_postgres_url(url)
    {
        return Err(Issue::new(
            "request_log.url",
            error.message(),
            "write postgres://user:password@host:port/database (options: sslmode, sslrootcert, connect_timeout)",
        ));
    }
    let path = match file.path.as_deref().map(str::trim) {
        Some(":memory:") => None,
        Some("") | None => Some(match state_file.and_then(Path::parent) {
            Some(dir) => dir.join(DEFAULT_FILE),
            None => PathBuf::from(DEFAULT_FILE),
        }),
        Some(path) => Some(PathBuf::from(path)),
    };
    Ok(RequestLogConfig {
        store,
        path,
        url: url.map(Secret::new),
        retention,
    })
}
