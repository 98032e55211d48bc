//! [`SqliteStore`]: the embedded request store (a file in WAL mode, or memory).

use std::{
    path::Path,
    sync::{Arc, LazyLock, Mutex},
};

use rusqlite::{Connection, OptionalExtension, Row, Statement, ToSql, params_from_iter};

use crate::{
    Bucketed, Cursor, Filter, GroupBy, Page, RequestRecord, UsageReport,
    columns::{ReadRow, int, point, record, sums},
    store::{
        COLUMN_COUNT, COLUMNS, LogError, LogFuture, RequestStore, SUMS, SqlParam, where_clause,
    },
};

/// The table and its one index, by time: every query reads a time range of it, and every
/// row is added at its end.
///
/// No index by caller (files written by earlier builds have one; it is dropped on open):
/// each caller's rows would go to a place of their own in it, and with many callers a write
/// then touches a page per caller. Measured with 64 callers taking turns, it made inserting
/// four times dearer, and the gap grows with the table. A query for one caller reads the time
/// range, as queries by key, model or provider already do.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    caller TEXT NOT NULL,
    key_id TEXT,
    requested_model TEXT NOT NULL,
    virtual_model TEXT,
    tier TEXT,
    route_group TEXT,
    provider TEXT,
    model TEXT,
    strategy TEXT,
    status INTEGER NOT NULL,
    error_code TEXT,
    attempts INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_picos INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER,
    stream INTEGER NOT NULL,
    client TEXT
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at_ms, id);
DROP INDEX IF EXISTS requests_caller_at;
";

/// The embedded store: one SQLite connection behind a mutex, used from blocking threads
/// only (the writer task's inserts and the management API's queries).
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// The most rows kept (the newest); `None` keeps every row until retention prunes it.
    keep_rows: Option<u64>,
}

/// The rows an in-memory log keeps, the newest: a few MiB, so that a process serving for
/// months on the embedded config does not grow with every request.
pub const IN_MEMORY_ROWS: u64 = 20_000;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating) the file at `path` in WAL mode.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        let conn = Connection::open(path).map_err(|e| err(&e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| err(&e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LogError::new(format!(
                "{} could not be put in WAL mode (it answered {mode})",
                path.display()
            )));
        }
        // A page cache of 512 KiB (SQLite's default is 2 MiB): inserts touch the last pages of
        // the table and its indexes, and the operating system caches the file for queries.
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA cache_size=-512;",
        )
        .map_err(|e| err(&e))?;
        Self::init(conn)
    }

    /// A store in memory: the newest [`IN_MEMORY_ROWS`] rows, until the process ends.
    pub fn in_memory() -> Result<Self, LogError> {
        let mut store = Self::init(Connection::open_in_memory().map_err(|e| err(&e))?)?;
        store.keep_rows = Some(IN_MEMORY_ROWS);
        Ok(store)
    }

    fn init(conn: Connection) -> Result<Self, LogError> {
        conn.execute_batch(SCHEMA).map_err(|e| err(&e))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            keep_rows: None,
        })
    }

    /// Runs `f` on the connection on a blocking thread.
    fn run<T, F>(&self, f: F) -> LogFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut conn = conn
                    .lock()
                    .map_err(|_| LogError::new("the SQLite connection was poisoned"))?;
                f(&mut conn).map_err(|e| err(&e))
            })
            .await
            .map_err(|e| LogError::new(e.to_string()))?
        })
    }
}

fn err(error: &rusqlite::Error) -> LogError {
    LogError::new(format!("sqlite: {error}"))
}

fn to_sql(params: &[SqlParam]) -> Vec<&dyn ToSql> {
    params
        .iter()
        .map(|p| match p {
            SqlParam::Int(v) => v as &dyn ToSql,
            SqlParam::Text(v) => v as &dyn ToSql,
        })
        .collect()
}

/// Rows per `INSERT` statement: a statement's setup (its cursors on the table and both
/// indexes, its transaction checks) is shared by this many rows. A batch's last rows, fewer
/// than this, go in one at a time.
const ROWS_PER_INSERT: usize = 16;

/// `INSERT INTO requests (COLUMNS) VALUES (?, …), …` for [`ROWS_PER_INSERT`] rows.
static INSERT_CHUNK: LazyLock<String> = LazyLock::new(|| insert_sql(ROWS_PER_INSERT));

/// The same for one row.
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));

fn insert_sql(rows: usize) -> String {
    let values = format!("({})", ["?"; COLUMN_COUNT].join(","));
    format!(
        "INSERT INTO requests ({COLUMNS}) VALUES {}",
        vec![values; rows].join(",")
    )
}

/// Binds `r`'s values to the parameters after the first `before` (parameters count from 1).
///
/// Each value is bound with its own type, not as `&dyn ToSql`: rusqlite's binding then
/// compiles to the one SQLite call each type needs.
fn bind_row(insert: &mut Statement<'_>, before: usize, r: &RequestRecord) -> rusqlite::Result<()> {
    let mut row = Binder {
        insert,
        bound: before,
    };
    row.value(r.at_ms)?;
    row.text(&r.request_id)?;
    row.text(&r.protocol)?;
    row.text(&r.caller)?;
    row.optional_text(&r.key_id)?;
    row.text(&r.requested_model)?;
    row.optional_text(&r.virtual_model)?;
    row.optional_text(&r.tier)?;
    row.optional_text(&r.route_group)?;
    row.optional_text(&r.provider)?;
    row.optional_text(&r.model)?;
    row.optional_text(&r.strategy)?;
    row.value(i64::from(r.status))?;
    row.optional_text(&r.error_code)?;
    row.value(i64::from(r.attempts))?;
    row.value(int(r.prompt_tokens))?;
    row.value(int(r.completion_tokens))?;
    row.value(int(r.cached_tokens))?;
    row.value(int(r.cache_write_tokens))?;
    row.value(int(r.reasoning_tokens))?;
    row.value(int(r.cost.picos()))?;
    row.value(i64::from(r.estimated))?;
    row.value(int(r.latency_ms))?;
    row.value(r.ttft_ms.map(int))?;
    row.value(i64::from(r.stream))?;
    row.optional_text(&r.client)?;
    debug_assert_eq!(row.bound - before, COLUMN_COUNT);
    Ok(())
}

/// Binds one row's values in [`COLUMNS`] order.
struct Binder<'s, 'c> {
    insert: &'s mut Statement<'c>,
    /// Parameters bound so far; the next is this plus one.
    bound: usize,
}

impl Binder<'_, '_> {
    fn value<T: ToSql>(&mut self, value: T) -> rusqlite::Result<()> {
        self.bound += 1;
        self.insert.raw_bind_parameter(self.bound, value)
    }

    fn text(&mut self, text: &str) -> rusqlite::Result<()> {
        self.value(text)
    }

    fn optional_text(&mut self, text: &Option<Arc<str>>) -> rusqlite::Result<()> {
        self.value(text.as_deref())
    }
}

impl ReadRow for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, column: usize) -> rusqlite::Result<Option<String>> {
        self.get(column)
    }

    fn int(&self, column: usize) -> rusqlite::Result<Option<i64>> {
        self.get(column)
    }

    fn flag(&self, column: usize) -> rusqlite::Result<bool> {
        Ok(self.get::<_, i64>(column)? != 0)
    }
}

impl RequestStore for SqliteStore {
    fn insert(&self, rows: Vec<RequestRecord>) -> LogFuture<'_, ()> {
        let keep_rows = self.keep_rows;
        self.run(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
                let mut insert = tx.prepare_cached(&INSERT_CHUNK)?;
                for chunk in &mut chunks {
                    for (i, row) in chunk.iter().enumerate() {
                        bind_row(&mut insert, i * COLUMN_COUNT, row)?;
                    }
                    insert.raw_execute()?;
                }
                let mut insert = tx.prepare_cached(&INSERT_ONE)?;
                for row in chunks.remainder() {
                    bind_row(&mut insert, 0, row)?;
                    insert.raw_execute()?;
                }
            }
            if let Some(keep) = keep_rows {
                tx.execute(
                    "DELETE FROM requests WHERE id <= (SELECT max(id) FROM requests) - ?1",
                    [int(keep)],
                )?;
            }
            tx.commit()
        })
    }

    fn list<'a>(
        &'a self,
        filter: &'a Filter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> LogFuture<'a, Page> {
        let filter = filter.clone();
        self.run(move |conn| {
            let (mut clause, mut params) = where_clause(&filter, false);
            if let Some(c) = cursor {
                let n = params.len();
                clause.push_str(&format!(
                    " AND (at_ms < ?{} OR (at_ms = ?{} AND id < ?{}))",
                    n + 1,
                    n + 2,
                    n + 3
                ));
                params.extend([
                    SqlParam::Int(c.at_ms),
                    SqlParam::Int(c.at_ms),
                    SqlParam::Int(c.id),
                ]);
            }
            let sql = format!(
                "SELECT id, {COLUMNS} FROM requests WHERE {clause} ORDER BY at_ms DESC, id DESC LIMIT {}",
                limit + 1
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows: Vec<(i64, RequestRecord)> = stmt
                .query_map(params_from_iter(to_sql(&params)), |r| record(r))?
                .collect::<Result<_, _>>()?;
            Ok(Page::from_rows(rows, limit))
        })
    }

    fn usage<'a>(&'a self, filter: &'a Filter, group_by: GroupBy) -> LogFuture<'a, UsageReport> {
        let filter = filter.clone();
        self.run(move |conn| {
            let (clause, params) = where_clause(&filter, false);
            let key = group_by.sql();
            let sql = format!(
                "SELECT {key} AS k, {SUMS} FROM requests WHERE {clause} GROUP BY k ORDER BY 3 DESC, 2 DESC, k"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(to_sql(&params)), |r| sums(r, Some(group_by)))?
                .collect::<Result<Vec<_>, _>>()?;
            let total = conn
                .query_row(
                    &format!("SELECT {SUMS} FROM requests WHERE {clause}"),
                    params_from_iter(to_sql(&params)),
                    |r| sums(r, None),
                )
                .optional()?
                .unwrap_or_default();
            Ok(UsageReport { rows, total })
        })
    }

    fn series<'a>(
        &'a self,
        filter: &'a Filter,
        bucket_ms: i64,
        by: Option<GroupBy>,
    ) -> LogFuture<'a, Bucketed> {
        let filter = filter.clone();
        let bucket_ms = bucket_ms.max(1);
        self.run(move |conn| {
            let (clause, params) = where_clause(&filter, false);
            let key = by.map_or("NULL", GroupBy::sql);
            let sql = format!(
                "SELECT (at_ms / {bucket_ms}) * {bucket_ms} AS b, {key} AS k, COALESCE(SUM(cost_picos),0), COUNT(*) FROM requests WHERE {clause} GROUP BY b, k ORDER BY b"
            );
            let mut stmt = conn.prepare(&sql)?;
            let points = stmt
                .query_map(params_from_iter(to_sql(&params)), |r| point(r))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Bucketed { points })
        })
    }

    fn prune(&self, before_ms: i64) -> LogFuture<'_, u64> {
        self.run(move |conn| {
            let n = conn.execute("DELETE FROM requests WHERE at_ms < ?1", [before_ms])?;
            Ok(n as u64)
        })
    }
}
