//! Client API keys, configured: the key ring (config keys and those made over the API), the
//! store of key records, and the key accounts' spend store, opened beside the budgets' store.
//!
//! | `budgets` store | key records | key spend accounts |
//! | --- | --- | --- |
//! | `file` with `state_file: x/budgets.json` | `x/budgets.keys.json` | `x/budgets.key-spend.json` (+ journal) |
//! | `file` without `state_file` | memory | memory |
//! | `redis` | hash `infermux:keys` | keys under `infermux-keys:` |
//!
//! Every file holds hashes only; a key itself is shown once, when it is made.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use infermux_budget::{FileStore, MemoryStore, WorstCase};
use infermux_core::{ModelCatalog, Money, PriceTable, SharedClock, SpendStore, StoreError};
use infermux_keys::{
    FileRecords, KeyLayer, KeyMetrics, KeyRecord, KeyRecords, KeyRing, KeySecret, MemoryRecords,
    RELOAD_EVERY, unix,
};

use crate::config::{BudgetStoreKind, Config, KeyConfig};

/// The key ring, its record store and the key accounts' spend store.
#[derive(Clone)]
pub struct KeyAccess {
    ring: Arc<KeyRing>,
    spend: Arc<dyn SpendStore>,
    clock: SharedClock,
    required: bool,
}

impl std::fmt::Debug for KeyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAccess")
            .field("ring", &self.ring)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

/// `state_file`'s sibling `<stem><suffix>` (`budgets.json` -> `budgets.keys.json`).
fn sibling(state_file: &Path, suffix: &str) -> PathBuf {
    let stem = state_file
        .file_stem()
        .map_or_else(|| "infermux".into(), |s| s.to_string_lossy().into_owned());
    state_file.with_file_name(format!("{stem}{suffix}"))
}

/// The record of a configured key.
fn configured(key: &KeyConfig, now: u64) -> KeyRecord {
    KeyRecord {
        id: format!("key_{}", key.name),
        name: key.name.clone(),
        caller: key.caller.clone(),
        secrets: vec![KeySecret {
            sha256: key.sha256.clone(),
            prefix: String::new(),
            until: None,
        }],
        monthly_picos: key.monthly_usd.and_then(Money::from_usd).map(Money::picos),
        daily_picos: key.daily_usd.and_then(Money::from_usd).map(Money::picos),
        models: key.models.clone(),
        rpm: key.rpm,
        created: now,
        expires: key.expires.map(unix),
        revoked: None,
        configured: true,
    }
}

impl KeyAccess {
    /// Opens the key stores of `config` beside its spend store.
    pub fn open(config: &Config, clock: SharedClock) -> Result<Self, StoreError> {
        let budgets = &config.budgets;
        let (records, spend): (Arc<dyn KeyRecords>, Arc<dyn SpendStore>) =
            match (budgets.store, &budgets.state_file) {
                (BudgetStoreKind::File, Some(path)) => (
                    Arc::new(FileRecords::open(sibling(path, ".keys.json"))?),
                    Arc::new(FileStore::open(sibling(path, ".key-spend.json"))?),
                ),
                (BudgetStoreKind::File, None) => {
                    (Arc::new(MemoryRecords::new()), Arc::new(MemoryStore::new()))
                }
                (BudgetStoreKind::Redis, _) => {
                    use infermux_spend_redis::{
                        RedisKeyRecords, RedisSpendStore, RedisStoreOptions, UnavailablePolicy,
                    };
                    let url = budgets.redis_url.as_ref().map_or("", |url| url.expose());
                    let unavailable = match budgets.redis_unavailable {
                        crate::config::RedisUnavailable::FailClosed => {
                            UnavailablePolicy::FailClosed
                        }
                        crate::config::RedisUnavailable::FailOpen => UnavailablePolicy::FailOpen,
                    };
                    let mut options = RedisStoreOptions::new(unavailable);
                    options.namespace = "infermux-keys";
                    let unavailable = |e: infermux_spend_redis::ConnectError| {
                        StoreError::Unavailable(e.to_string())
                    };
                    (
                        Arc::new(RedisKeyRecords::open(url).map_err(unavailable)?),
                        Arc::new(
                            RedisSpendStore::open(url, options, clock.clone())
                                .map_err(unavailable)?,
                        ),
                    )
                }
            };
        let now = unix(clock.now());
        let keys = config
            .keys
            .list
            .iter()
            .map(|k| configured(k, now))
            .collect();
        let ring = Arc::new(KeyRing::new(keys, records, clock.clone()));
        if budgets.store == BudgetStoreKind::Redis {
            // Other replicas make and revoke keys too.
            ring.spawn_reload(RELOAD_EVERY);
        }
        let spend: Arc<dyn SpendStore> = Arc::new(KeyMetrics::new(spend, ring.clone()));
        Ok(Self {
            ring,
            spend,
            clock,
            required: config.keys.required,
        })
    }

    /// The key ring.
    pub fn ring(&self) -> &Arc<KeyRing> {
        &self.ring
    }

    /// The key accounts' spend store.
    pub fn spend(&self) -> &Arc<dyn SpendStore> {
        &self.spend
    }

    /// The clock that dates key spend.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The key layer: `catalog` and `prices` price each request's worst case.
    pub fn layer(&self, catalog: &ModelCatalog, prices: &PriceTable) -> KeyLayer {
        KeyLayer::new(
            self.ring.clone(),
            self.spend.clone(),
            self.clock.clone(),
            WorstCase::new(catalog.clone(), prices.clone()),
        )
        .required(self.required)
    }
}
