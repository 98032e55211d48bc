//! Every request store answers the same queries with the same results: one test body runs
//! against SQLite and against a real PostgreSQL server, checks each against sums computed
//! here, and then checks that the two stores' answers are identical.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use infermux_core::Money;
use infermux_request_log::{
    Cursor, Filter, GroupBy, PostgresStore, RequestRecord, RequestStore, SqliteStore, StatusFilter,
};
use infermux_test_util::PostgresServer;
use serde_json::{Value, json};

/// A series point's bucket start and key.
type SeriesKey = (i64, Option<Arc<str>>);

/// 2026-03-14T00:00:00Z in ms.
const BASE_MS: i64 = 1_773_446_400_000;
const HOUR_MS: i64 = 3_600_000;

/// A cost per request large enough that the total passes 2^53 pico-USD: a float sum would
/// lose digits, the stores' integer sums must not.
const BIG_PICOS: u64 = 300_000_000_000_007;

/// 60 rows over three UTC days, several callers, keys, models, providers and statuses; some
/// rows share a millisecond (so pages break ties by id).
fn rows() -> Vec<RequestRecord> {
    let callers = ["team-a", "team-b", "team-c"];
    let models = [Some("gpt-4o-mini"), Some("gpt-4o"), None];
    let providers = [Some("openai"), Some("azure"), None];
    (0..60u64)
        .map(|i| {
            let n = usize::try_from(i).expect("small");
            let status = match i % 7 {
                0 => 429,
                1 => 502,
                _ => 200,
            };
            let served = status == 200;
            RequestRecord {
                // Two rows per 7-hour step: pairs share their time.
                at_ms: BASE_MS + i64::try_from(i / 2).expect("small") * 7 * HOUR_MS + 1234,
                request_id: format!("req-{i}").into(),
                protocol: if i % 5 == 0 { "messages" } else { "chat" }.into(),
                caller: callers[n % 3].into(),
                key_id: (i % 4 != 0).then(|| Arc::from(format!("key-{}", i % 2))),
                requested_model: if i % 3 == 2 { "economy" } else { "gpt-4o" }.into(),
                virtual_model: (i % 3 == 2).then(|| Arc::from("economy")),
                tier: (i % 3 == 2).then(|| Arc::from("cheap")),
                route_group: (i % 2 == 0).then(|| Arc::from("default")),
                provider: if served { providers[n % 3] } else { None }.map(Arc::from),
                model: if served { models[n % 3] } else { None }.map(Arc::from),
                strategy: Some("priority".into()),
                status,
                error_code: match status {
                    429 => Some("budget_exceeded".into()),
                    502 => Some("provider_error".into()),
                    _ => None,
                },
                attempts: u32::from(served),
                prompt_tokens: 100 + i,
                completion_tokens: 7 * i,
                cached_tokens: i % 5,
                cache_write_tokens: i % 3,
                reasoning_tokens: i % 2,
                cost: if served {
                    Money::from_picos(BIG_PICOS + i * 1_000_003)
                } else {
                    Money::ZERO
                },
                estimated: i % 6 == 0,
                latency_ms: 10 + i,
                ttft_ms: (i % 2 == 1).then_some(i),
                stream: i % 2 == 1,
                client: (i % 4 == 1).then(|| Arc::from("OpenAI/Python")),
            }
        })
        .collect()
}

/// What a row's group key renders as, computed here rather than by a store.
fn key_of(row: &RequestRecord, group_by: GroupBy) -> Value {
    let text = |v: &Option<Arc<str>>| v.as_deref().map_or(Value::Null, Value::from);
    let time = |ms: i64| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).expect("after 1970")),
        )
        .to_string()
    };
    match group_by {
        GroupBy::Model => Value::from(row.model.as_deref().unwrap_or(&row.requested_model)),
        GroupBy::Provider => text(&row.provider),
        GroupBy::Caller => Value::from(&*row.caller),
        GroupBy::Key => text(&row.key_id),
        GroupBy::Group => text(&row.route_group),
        GroupBy::VirtualModel => text(&row.virtual_model),
        GroupBy::HourOfDay => Value::from((row.at_ms / HOUR_MS) % 24),
        GroupBy::Day => Value::from(time(row.at_ms - row.at_ms % (24 * HOUR_MS))[..10].to_owned()),
        GroupBy::Hour => Value::from(time(row.at_ms - row.at_ms % HOUR_MS)),
        GroupBy::RequestedModel => Value::from(&*row.requested_model),
    }
}

/// Whether `row` passes `filter`, decided here.
fn matches(row: &RequestRecord, filter: &Filter) -> bool {
    filter.since_ms.is_none_or(|s| row.at_ms >= s)
        && filter.until_ms.is_none_or(|u| row.at_ms < u)
        && filter.caller.as_deref().is_none_or(|c| *row.caller == *c)
        && filter
            .key
            .as_deref()
            .is_none_or(|k| row.key_id.as_deref() == Some(k))
        && filter
            .model
            .as_deref()
            .is_none_or(|m| row.model.as_deref().unwrap_or(&row.requested_model) == m)
        && filter
            .provider
            .as_deref()
            .is_none_or(|p| row.provider.as_deref() == Some(p))
        && filter
            .status
            .is_none_or(|s| (s.min..=s.max).contains(&row.status))
}

/// The filters every query is checked under.
fn filters() -> Vec<Filter> {
    let status = |s: &str| Some(s.parse::<StatusFilter>().expect("status"));
    vec![
        Filter::default(),
        Filter {
            caller: Some("team-b".into()),
            ..Filter::default()
        },
        Filter {
            key: Some("key-1".into()),
            ..Filter::default()
        },
        Filter {
            model: Some("economy".into()),
            ..Filter::default()
        },
        Filter {
            provider: Some("openai".into()),
            status: status("ok"),
            ..Filter::default()
        },
        Filter {
            status: status("4xx"),
            ..Filter::default()
        },
        Filter {
            since_ms: Some(BASE_MS + 24 * HOUR_MS),
            until_ms: Some(BASE_MS + 48 * HOUR_MS + 1234),
            caller: Some("team-a".into()),
            ..Filter::default()
        },
    ]
}

/// Runs every query on `store` (holding nothing yet), checks each answer against what is
/// computed here, and returns the answers as JSON, for comparing stores.
async fn exercise(store: Arc<dyn RequestStore>) -> Vec<Value> {
    let rows = rows();
    // Two batches: a large one and a small one.
    store.insert(rows[..45].to_vec()).await.expect("insert");
    store.insert(rows[45..].to_vec()).await.expect("insert");
    store.insert(Vec::new()).await.expect("an empty batch");
    let mut answers = Vec::new();

    // Newest first, ties by insertion (later first), by pages of 7 through the cursors.
    let mut newest: Vec<(usize, &RequestRecord)> = rows.iter().enumerate().collect();
    newest.sort_by_key(|(i, r)| std::cmp::Reverse((r.at_ms, *i)));
    for filter in filters() {
        let expected: Vec<RequestRecord> = newest
            .iter()
            .filter(|(_, r)| matches(r, &filter))
            .map(|(_, r)| (*r).clone())
            .collect();
        assert!(!expected.is_empty(), "{filter:?} selects rows");
        let mut listed = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = store.list(&filter, 7, cursor).await.expect("list");
            assert!(page.rows.len() <= 7);
            listed.extend(page.rows);
            match page.next {
                // The cursor survives its text form.
                Some(next) => cursor = Some(next.to_string().parse().expect("cursor")),
                None => break,
            }
        }
        assert_eq!(listed, expected, "{filter:?}");
        answers.push(Value::from(
            listed
                .iter()
                .map(RequestRecord::to_json)
                .collect::<Vec<_>>(),
        ));

        // Usage by every grouping: exact sums per key, highest cost first, rows adding up
        // to the total.
        for (name, group_by) in GroupBy::ALL {
            let report = store.usage(&filter, group_by).await.expect("usage");
            let mut want: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
            for row in expected.iter() {
                let entry = want.entry(key_of(row, group_by).to_string()).or_default();
                entry.0 += 1;
                entry.1 += row.cost.picos();
                entry.2 += row.prompt_tokens;
            }
            let got: BTreeMap<String, (u64, u64, u64)> = report
                .rows
                .iter()
                .map(|r| {
                    (
                        r.key.to_string(),
                        (r.requests, r.cost.picos(), r.prompt_tokens),
                    )
                })
                .collect();
            assert_eq!(got, want, "{filter:?} by {name}");
            assert_eq!(got.len(), report.rows.len(), "one row per key");
            assert!(
                report
                    .rows
                    .windows(2)
                    .all(|w| (w[0].cost, w[0].requests) >= (w[1].cost, w[1].requests)),
                "highest cost first"
            );
            let total_picos: u64 = expected.iter().map(|r| r.cost.picos()).sum();
            assert_eq!(report.total.cost.picos(), total_picos, "exact total");
            assert_eq!(report.total.requests, expected.len() as u64);
            assert_eq!(
                report.total.errors,
                expected.iter().filter(|r| r.status >= 400).count() as u64
            );
            assert_eq!(
                report.rows.iter().map(|r| r.cost.picos()).sum::<u64>(),
                total_picos
            );
            answers.push(json!({
                "group_by": name,
                "rows": report.rows.iter().map(|r| r.to_json(true)).collect::<Vec<_>>(),
                "total": report.total.to_json(false),
                "total_picos": report.total.cost.picos(),
                "picos": report.rows.iter().map(|r| r.cost.picos()).collect::<Vec<_>>(),
            }));
        }

        // A cost series by provider in 6-hour buckets.
        let mut points = store
            .series(&filter, 6 * HOUR_MS, Some(GroupBy::Provider))
            .await
            .expect("series")
            .points;
        points.sort();
        let mut want: BTreeMap<SeriesKey, (u64, u64)> = BTreeMap::new();
        for row in &expected {
            let entry = want
                .entry((
                    row.at_ms - row.at_ms.rem_euclid(6 * HOUR_MS),
                    row.provider.clone(),
                ))
                .or_default();
            entry.0 += row.cost.picos();
            entry.1 += 1;
        }
        let got: BTreeMap<_, _> = points
            .iter()
            .map(|(b, k, cost, n)| ((*b, k.clone()), (cost.picos(), *n)))
            .collect();
        assert_eq!(got, want, "{filter:?} series");
        answers.push(Value::from(format!("{points:?}")));
    }

    // Retention: rows before the second day go, the rest stay.
    let cut = BASE_MS + 24 * HOUR_MS;
    let gone = rows.iter().filter(|r| r.at_ms < cut).count() as u64;
    assert_eq!(store.prune(cut).await.expect("prune"), gone);
    let left = store
        .usage(&Filter::default(), GroupBy::Caller)
        .await
        .expect("usage");
    assert_eq!(left.total.requests, rows.len() as u64 - gone);
    assert_eq!(store.prune(cut).await.expect("prune"), 0);
    answers.push(left.total.to_json(false));
    answers
}

#[tokio::test]
async fn sqlite_and_postgres_answer_every_query_the_same() {
    let sqlite = exercise(Arc::new(SqliteStore::in_memory().expect("sqlite"))).await;
    let server = PostgresServer::start();
    let url = server.create_database("stores");
    let store = tokio::task::spawn_blocking(move || PostgresStore::open(&url))
        .await
        .expect("join")
        .expect("postgres");
    let postgres = exercise(Arc::new(store)).await;
    assert_eq!(sqlite.len(), postgres.len());
    for (s, p) in sqlite.iter().zip(&postgres) {
        assert_eq!(s, p, "SQLite and PostgreSQL differ");
    }
}

#[tokio::test]
async fn postgres_replicas_share_one_schema_and_its_rows() {
    let server = PostgresServer::start();
    let url = server.create_database("fleet");
    // Replicas starting together: the schema is created once, under the advisory lock.
    let opens: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::open(&url))
        })
        .collect();
    let stores: Vec<PostgresStore> = opens
        .into_iter()
        .map(|t| t.join().expect("join").expect("open"))
        .collect();
    let rows = rows();
    for (i, chunk) in rows.chunks(20).enumerate() {
        stores[i % 3].insert(chunk.to_vec()).await.expect("insert");
    }
    let mut totals = Vec::new();
    for store in &stores {
        let usage = store
            .usage(&Filter::default(), GroupBy::Caller)
            .await
            .expect("usage");
        totals.push(usage.total);
    }
    assert_eq!(totals[0].requests, 60);
    assert!(totals.iter().all(|t| *t == totals[0]), "{totals:?}");
}

#[test]
fn an_unreachable_server_fails_at_open_naming_where() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let error = PostgresStore::open(&format!(
        "postgres://infermux:s3cret@127.0.0.1:{port}/log?connect_timeout=5"
    ))
    .expect_err("nothing listens");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}/log")),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn tls_checks_the_server_against_the_given_ca() {
    let server = PostgresServer::start_tls();
    let url = server
        .create_database("tls")
        .replace("127.0.0.1", "localhost");
    let ca = server.ca_file();
    let store = PostgresStore::open(&format!(
        "{url}?sslmode=require&sslrootcert={}",
        ca.display()
    ))
    .expect("TLS with the test CA");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        store
            .insert(rows()[..3].to_vec())
            .await
            .expect("insert over TLS");
        let usage = store
            .usage(&Filter::default(), GroupBy::Caller)
            .await
            .expect("usage over TLS");
        assert_eq!(usage.total.requests, 3);
    });
    // The public roots do not know the test CA: refused, not silently unencrypted.
    let error = PostgresStore::open(&format!("{url}?sslmode=require")).expect_err("an unknown CA");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn a_log_in_memory_keeps_only_its_newest_rows() {
    use infermux_request_log::IN_MEMORY_ROWS;

    let store = SqliteStore::in_memory().expect("sqlite");
    let extra = 500;
    let rows: Vec<RequestRecord> = (0..IN_MEMORY_ROWS + extra)
        .map(|i| RequestRecord {
            at_ms: BASE_MS + i64::try_from(i).expect("small"),
            request_id: format!("req-{i}").into(),
            status: 200,
            ..RequestRecord::default()
        })
        .collect();
    for batch in rows.chunks(1_000) {
        store.insert(batch.to_vec()).await.expect("insert");
    }
    let kept = store
        .usage(&Filter::default(), GroupBy::Caller)
        .await
        .expect("usage");
    assert_eq!(kept.total.requests, IN_MEMORY_ROWS);
    let oldest = store
        .list(
            &Filter {
                until_ms: Some(BASE_MS + i64::try_from(extra).expect("small")),
                ..Filter::default()
            },
            10,
            None,
        )
        .await
        .expect("list");
    assert!(oldest.rows.is_empty(), "the oldest rows are gone");
}

/// The index names of the `requests` table in the SQLite file at `path`.
fn sqlite_indexes(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests' ORDER BY name")
        .expect("query");
    stmt.query_map([], |r| r.get(0))
        .expect("indexes")
        .collect::<Result<_, _>>()
        .expect("names")
}

#[tokio::test]
async fn a_log_file_from_an_earlier_build_is_opened_without_its_caller_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("requests.db");
    let store = SqliteStore::open(&path).expect("sqlite");
    store.insert(rows()).await.expect("insert");
    drop(store);
    assert_eq!(sqlite_indexes(&path), ["requests_at"]);
    // What earlier builds created beside the time index.
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch("CREATE INDEX requests_caller_at ON requests (caller, at_ms);")
        .expect("old index");

    let store = SqliteStore::open(&path).expect("sqlite reopened");
    assert_eq!(sqlite_indexes(&path), ["requests_at"]);
    let filter = Filter {
        caller: Some("team-b".into()),
        ..Filter::default()
    };
    let expected = rows().iter().filter(|r| matches(r, &filter)).count();
    assert!(expected > 0);
    let page = store.list(&filter, 100, None).await.expect("list");
    assert_eq!(page.rows.len(), expected);
    assert!(page.rows.iter().all(|r| &*r.caller == "team-b"));
}
