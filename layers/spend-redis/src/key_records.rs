//! [`RedisKeyRecords`]: the API keys of a fleet, kept (as hashes) in one Redis hash.
//!
//! ```text
//! infermux:keys    hash  key id -> the key's record as JSON (SHA-256 hashes, never keys)
//! ```
//! Every replica's key ring reloads the hash every second, so a key made or revoked on one
//! replica works or stops on every other within about a second.

use std::{collections::BTreeMap, time::Duration};

use infermux_core::{StoreError, StoreFuture};
use infermux_keys::{KeyRecord, KeyRecords};
use redis::{
    Client,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use crate::ConnectError;

/// The hash holding every key record.
const RECORDS: &str = "infermux:keys";

/// The key records of a fleet, in Redis.
#[derive(Clone)]
pub struct RedisKeyRecords {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisKeyRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyRecords").finish_non_exhaustive()
    }
}

fn unavailable(error: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis key store: {error}"))
}

impl RedisKeyRecords {
    /// The records on the Redis at `url`; connects lazily (within a Tokio runtime).
    pub fn open(url: &str) -> Result<Self, ConnectError> {
        let client = Client::open(url).map_err(|e| ConnectError::new("invalid redis_url", &e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ConnectError::new("cannot set up the redis connection", &e))?;
        Ok(Self { conn })
    }
}

impl KeyRecords for RedisKeyRecords {
    fn load(&self) -> StoreFuture<Vec<KeyRecord>> {
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let all: BTreeMap<String, String> = redis::cmd("HGETALL")
                .arg(RECORDS)
                .query_async(&mut conn)
                .await
                .map_err(|e| unavailable(&e))?;
            Ok(all
                .values()
                .filter_map(|json| match serde_json::from_str(json) {
                    Ok(record) => Some(record),
                    Err(error) => {
                        tracing::warn!(%error, "skipping an unreadable key record in redis");
                        None
                    }
                })
                .collect())
        })
    }

    fn put(&self, record: KeyRecord) -> StoreFuture<()> {
        let mut conn = self.conn.clone();
        Box::pin(async move {
            let json = serde_json::to_string(&record)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            redis::cmd("HSET")
                .arg(RECORDS)
                .arg(&record.id)
                .arg(json)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| unavailable(&e))
        })
    }
}
