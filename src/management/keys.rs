//! The keys API: make, list, show, rotate and revoke client API keys.
//!
//! ```text
//! POST   /_infermux/keys                 201 {"id", "key", "name", "prefix", ...}  (the only time a key is shown)
//! GET    /_infermux/keys                 {"keys": [view, ...]}
//! GET    /_infermux/keys/{id}            view
//! POST   /_infermux/keys/{id}/rotate     {"grace": "1h"} -> 201 with the new key
//! DELETE /_infermux/keys/{id}            revoked at once -> view
//! ```
//! Keys declared in the config file are listed but cannot be changed here (409).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use infermux_core::{CallerTotals, InferBody, Money, Month};
use infermux_keys::{KeyChangeError, KeyEntry, KeyRecord, NewKey, month_account, unix};
use serde::{Deserialize, Serialize};

use super::{costs::Usd, json};
use crate::{
    error::{self, ErrorClass},
    key_access::KeyAccess,
};

/// Rotation grace when the request names none.
const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// The body of `POST /_infermux/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    name: String,
    caller: Option<String>,
    monthly_usd: Option<f64>,
    daily_usd: Option<f64>,
    models: Option<Vec<String>>,
    rpm: Option<u32>,
    expires: Option<String>,
}

/// The body of `POST /_infermux/keys/{id}/rotate`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotate {
    grace: Option<String>,
}

/// A key as the API shows it: never the key, only its first 8 characters.
#[derive(Serialize)]
struct View {
    id: String,
    name: String,
    prefix: Option<String>,
    caller: String,
    monthly_usd: Option<Usd>,
    daily_usd: Option<Usd>,
    spent_usd: Usd,
    remaining_usd: Option<Usd>,
    requests: u64,
    models: Option<Vec<String>>,
    rpm: Option<u32>,
    created: String,
    expires: Option<String>,
    revoked: bool,
    source: &'static str,
}

fn rfc3339(unix_secs: u64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_secs(unix_secs);
    humantime::format_rfc3339_seconds(time).to_string()
}

fn view(record: &KeyRecord, totals: CallerTotals, now: u64) -> View {
    let monthly = record.monthly_picos.map(Money::from_picos);
    View {
        id: record.id.clone(),
        name: record.name.clone(),
        prefix: record
            .secrets
            .last()
            .map(|s| s.prefix.clone())
            .filter(|p| !p.is_empty()),
        caller: record.caller.clone(),
        monthly_usd: monthly.map(Usd),
        daily_usd: record.daily_picos.map(|p| Usd(Money::from_picos(p))),
        spent_usd: Usd(totals.cost),
        remaining_usd: monthly.map(|m| Usd(m.saturating_sub(totals.cost))),
        requests: totals.requests,
        models: record.models.clone(),
        rpm: record.rpm,
        created: rfc3339(record.created),
        expires: record.expires.map(rfc3339),
        revoked: record.revoked.is_some_and(|at| at <= now),
        source: if record.configured { "config" } else { "api" },
    }
}

fn failure(status: StatusCode, code: &'static str, message: &str) -> Response<InferBody> {
    error::response(ErrorClass { status, code }, message)
}

fn bad_request(message: &str) -> Response<InferBody> {
    failure(StatusCode::BAD_REQUEST, "invalid_request", message)
}

fn change_failed(error: &KeyChangeError) -> Response<InferBody> {
    match error {
        KeyChangeError::NotFound(_) => {
            failure(StatusCode::NOT_FOUND, "not_found", &error.to_string())
        }
        KeyChangeError::Configured(_) => {
            failure(StatusCode::CONFLICT, "conflict", &error.to_string())
        }
        KeyChangeError::Store(store) => {
            tracing::error!(error = %store, "the key store is unavailable");
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "budget_store_unavailable",
                "the key store is unavailable; see the infermux logs",
            )
        }
        KeyChangeError::Random => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the infermux logs",
        ),
    }
}

fn encode(status: StatusCode, value: &impl Serialize) -> Response<InferBody> {
    match serde_json::to_vec(value) {
        Ok(bytes) => json(status, Bytes::from(bytes)),
        Err(_) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the infermux logs",
        ),
    }
}

/// This month's totals of every key account; `None` (logged) when the store is down.
async fn spend(keys: &KeyAccess) -> Option<BTreeMap<String, CallerTotals>> {
    let month = Month::of(keys.clock().now());
    match keys.spend().summary(month).await {
        Ok(summary) => Some(
            summary
                .callers
                .into_iter()
                .map(|(account, totals)| (account.as_str().to_owned(), totals))
                .collect(),
        ),
        Err(error) => {
            tracing::error!(%error, "the key spend store is unavailable");
            None
        }
    }
}

fn spend_unavailable() -> Response<InferBody> {
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        "budget_store_unavailable",
        "the key spend store is unavailable; see the infermux logs",
    )
}

/// Answers a request under `/_infermux/keys`.
pub(super) async fn respond(
    keys: &KeyAccess,
    method: &Method,
    path: &str,
    body: Bytes,
) -> Response<InferBody> {
    let rest = path
        .strip_prefix("/_infermux/keys")
        .unwrap_or_default()
        .trim_start_matches('/');
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match (method, parts.as_slice()) {
        (&Method::POST, []) => create(keys, &body).await,
        (&Method::GET, []) => list(keys).await,
        (&Method::GET, [id]) => show(keys, id).await,
        (&Method::POST, [id, "rotate"]) => rotate(keys, id, &body).await,
        (&Method::DELETE, [id]) => revoke(keys, id).await,
        _ => failure(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no management endpoint {method} {path}"),
        ),
    }
}

fn usd(field: &str, value: Option<f64>) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(v) => Money::from_usd(v)
            .filter(|_| v.is_finite() && v >= 0.0)
            .map(|m| Some(m.picos()))
            .ok_or_else(|| format!("`{field}` must be a USD amount, 0 or more")),
    }
}

async fn create(keys: &KeyAccess, body: &[u8]) -> Response<InferBody> {
    let spec: Create = match serde_json::from_slice(body) {
        Ok(spec) => spec,
        Err(e) => return bad_request(&format!("invalid key request: {e}")),
    };
    let name = spec.name.trim().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
        return bad_request("`name` must be printable ASCII without spaces, such as \"acme-prod\"");
    }
    let (monthly, daily) = match (
        usd("monthly_usd", spec.monthly_usd),
        usd("daily_usd", spec.daily_usd),
    ) {
        (Ok(m), Ok(d)) => (m, d),
        (Err(message), _) | (_, Err(message)) => return bad_request(&message),
    };
    if spec.rpm == Some(0) {
        return bad_request("`rpm` must be positive");
    }
    let expires = match spec
        .expires
        .as_deref()
        .map(humantime::parse_rfc3339_weak)
        .transpose()
    {
        Ok(expires) => expires.map(unix),
        Err(e) => return bad_request(&format!("`expires` is not an RFC 3339 time: {e}")),
    };
    let caller = spec
        .caller
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let new = NewKey {
        name,
        caller,
        monthly_picos: monthly,
        daily_picos: daily,
        models: spec.models,
        rpm: spec.rpm,
        expires,
    };
    match keys.ring().create(new).await {
        Ok((record, secret)) => made(keys, &record, &secret),
        Err(error) => change_failed(&error),
    }
}

/// 201 with the key: the one time it is shown.
fn made(keys: &KeyAccess, record: &KeyRecord, secret: &str) -> Response<InferBody> {
    #[derive(Serialize)]
    struct Made<'a> {
        key: &'a str,
        #[serde(flatten)]
        view: View,
    }
    let now = unix(keys.clock().now());
    encode(
        StatusCode::CREATED,
        &Made {
            key: secret,
            view: view(record, CallerTotals::default(), now),
        },
    )
}

async fn list(keys: &KeyAccess) -> Response<InferBody> {
    #[derive(Serialize)]
    struct List {
        keys: Vec<View>,
    }
    let Some(spent) = spend(keys).await else {
        return spend_unavailable();
    };
    let now = unix(keys.clock().now());
    let views = keys
        .ring()
        .entries()
        .iter()
        .map(|entry| entry_view(entry, &spent, now))
        .collect();
    encode(StatusCode::OK, &List { keys: views })
}

fn entry_view(entry: &Arc<KeyEntry>, spent: &BTreeMap<String, CallerTotals>, now: u64) -> View {
    let account = month_account(&entry.record.id);
    let totals = spent.get(account.as_str()).copied().unwrap_or_default();
    view(&entry.record, totals, now)
}

async fn show(keys: &KeyAccess, id: &str) -> Response<InferBody> {
    let Some(entry) = keys.ring().get(id) else {
        return change_failed(&KeyChangeError::NotFound(id.to_owned()));
    };
    let Some(spent) = spend(keys).await else {
        return spend_unavailable();
    };
    encode(
        StatusCode::OK,
        &entry_view(&entry, &spent, unix(keys.clock().now())),
    )
}

async fn rotate(keys: &KeyAccess, id: &str, body: &[u8]) -> Response<InferBody> {
    let spec: Rotate = if body.iter().all(u8::is_ascii_whitespace) {
        Rotate::default()
    } else {
        match serde_json::from_slice(body) {
            Ok(spec) => spec,
            Err(e) => return bad_request(&format!("invalid rotate request: {e}")),
        }
    };
    let grace = match spec
        .grace
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
    {
        Ok(grace) => grace.unwrap_or(DEFAULT_GRACE),
        Err(e) => return bad_request(&format!("`grace` is not a duration such as \"1h\": {e}")),
    };
    match keys.ring().rotate(id, grace).await {
        Ok((record, secret)) => made(keys, &record, &secret),
        Err(error) => change_failed(&error),
    }
}

async fn revoke(keys: &KeyAccess, id: &str) -> Response<InferBody> {
    match keys.ring().revoke(id).await {
        Ok(record) => {
            tracing::info!(key = %record.name, id = %record.id, "API key revoked");
            let now = unix(keys.clock().now());
            encode(StatusCode::OK, &view(&record, CallerTotals::default(), now))
        }
        Err(error) => change_failed(&error),
    }
}

/// `GET /_infermux/costs/by-key`: this month's spend of every key.
pub(super) async fn by_key(keys: &KeyAccess) -> Response<InferBody> {
    #[derive(Serialize)]
    struct Row {
        id: String,
        name: String,
        caller: String,
        total_usd: Usd,
        requests: u64,
        prompt_tokens: u64,
        completion_tokens: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        budget_usd: Option<Usd>,
        #[serde(skip_serializing_if = "Option::is_none")]
        budget_remaining_usd: Option<Usd>,
    }
    #[derive(Serialize)]
    struct Report {
        period: String,
        keys: Vec<Row>,
    }
    let Some(spent) = spend(keys).await else {
        return spend_unavailable();
    };
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for entry in keys.ring().entries() {
        let record = &entry.record;
        let totals = spent.get(&record.id).copied().unwrap_or_default();
        let budget = record.monthly_picos.map(Money::from_picos);
        rows.insert(
            record.id.clone(),
            Row {
                id: record.id.clone(),
                name: record.name.clone(),
                caller: record.caller.clone(),
                total_usd: Usd(totals.cost),
                requests: totals.requests,
                prompt_tokens: totals.prompt_tokens,
                completion_tokens: totals.completion_tokens,
                budget_usd: budget.map(Usd),
                budget_remaining_usd: budget.map(|b| Usd(b.saturating_sub(totals.cost))),
            },
        );
    }
    // Spend of keys no longer known (a config key removed since) still counts.
    for (account, totals) in &spent {
        if account.contains('@') || rows.contains_key(account) {
            continue;
        }
        rows.insert(
            account.clone(),
            Row {
                id: account.clone(),
                name: account.clone(),
                caller: String::new(),
                total_usd: Usd(totals.cost),
                requests: totals.requests,
                prompt_tokens: totals.prompt_tokens,
                completion_tokens: totals.completion_tokens,
                budget_usd: None,
                budget_remaining_usd: None,
            },
        );
    }
    let month = Month::of(keys.clock().now());
    encode(
        StatusCode::OK,
        &Report {
            period: month.to_string(),
            keys: rows.into_values().collect(),
        },
    )
}
