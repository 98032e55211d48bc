//! What is known about one key: its persisted record (hashes only) and the live entry the
//! key layer checks requests against.

use std::{collections::HashSet, num::NonZeroU32, sync::Arc, time::SystemTime};

use governor::{DefaultDirectRateLimiter, Quota};
use infermux_core::{Caller, Money};
use serde::{Deserialize, Serialize};

use crate::KeyHash;

/// One secret of a key: its SHA-256 and display form. A rotated key has two for a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySecret {
    /// SHA-256 of the key, 64 hex digits.
    pub sha256: String,
    /// The key's first 8 characters (`imx_AbCd`), or `""` for a configured hash.
    pub prefix: String,
    /// Unix seconds after which this secret no longer works (the end of a rotation's grace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
}

/// A key as stored: never the key itself, only what checks and reports need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// `key_...` for keys made over the API, `key_<name>` for configured ones.
    pub id: String,
    /// A name people recognise (`acme-prod`).
    pub name: String,
    /// The caller its requests are charged to.
    pub caller: String,
    /// The secrets that unlock it, newest last.
    pub secrets: Vec<KeySecret>,
    /// Monthly cap, pico-USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_picos: Option<u64>,
    /// Daily (UTC) cap, pico-USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_picos: Option<u64>,
    /// The requested model names it may use; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Unix seconds when it was made.
    pub created: u64,
    /// Unix seconds from which it no longer works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Unix seconds when it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<u64>,
    /// Declared in the config file (not changeable over the API; never persisted).
    #[serde(skip)]
    pub configured: bool,
}

/// Seconds since the Unix epoch.
pub fn unix(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A key ready to check requests against.
pub struct KeyEntry {
    /// The record it was made from.
    pub record: KeyRecord,
    /// The hashes of its secrets, with their end of grace.
    pub(crate) hashes: Vec<(KeyHash, Option<u64>)>,
    /// Its caller.
    pub caller: Caller,
    /// Monthly cap.
    pub monthly: Option<Money>,
    /// Daily cap.
    pub daily: Option<Money>,
    /// Allowed requested models.
    pub(crate) models: Option<HashSet<String>>,
    /// Its request rate limiter, kept across reloads of the key table.
    pub(crate) limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("id", &self.record.id)
            .field("name", &self.record.name)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// The live entry of `record`, reusing `limiter` when the key's rate is unchanged.
    pub(crate) fn new(record: KeyRecord, limiter: Option<Arc<DefaultDirectRateLimiter>>) -> Self {
        let hashes = record
            .secrets
            .iter()
            .filter_map(|s| KeyHash::from_hex(&s.sha256).map(|h| (h, s.until)))
            .collect();
        let limiter = record.rpm.and_then(NonZeroU32::new).map(|rpm| {
            limiter.unwrap_or_else(|| {
                Arc::new(DefaultDirectRateLimiter::direct(Quota::per_minute(rpm)))
            })
        });
        Self {
            caller: Caller::new(record.caller.as_str()),
            monthly: record.monthly_picos.map(Money::from_picos),
            daily: record.daily_picos.map(Money::from_picos),
            models: record.models.as_ref().map(|m| m.iter().cloned().collect()),
            hashes,
            limiter,
            record,
        }
    }

    /// Whether the key may be used for the requested `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.contains(model))
    }

    /// Whether the key is revoked or expired at `now` (unix seconds).
    pub fn is_dead(&self, now: u64) -> Option<crate::error::Refusal> {
        if self.record.revoked.is_some_and(|at| at <= now) {
            return Some(crate::error::Refusal::Revoked);
        }
        if self.record.expires.is_some_and(|at| at <= now) {
            return Some(crate::error::Refusal::Expired);
        }
        None
    }
}
