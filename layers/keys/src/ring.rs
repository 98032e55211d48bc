//! [`KeyRing`]: every key, looked up by hash, reloaded from the record store so that a key
//! made or revoked on one replica works or stops on every other within the reload interval.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use infermux_core::{SharedClock, StoreError};

use crate::{
    InvalidApiKey, KeyEntry, KeyHash, KeyRecord, KeyRecords, KeySecret, Refusal,
    record::unix,
    secret::{display_prefix, generate, new_id},
};

/// How often a ring reloads the record store by default: a revocation reaches every
/// replica within this (plus one store round trip).
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Table {
    by_hash: HashMap<KeyHash, Arc<KeyEntry>>,
    by_id: BTreeMap<String, Arc<KeyEntry>>,
}

/// The keys infermux accepts: those of the config file and those made over the API.
pub struct KeyRing {
    configured: Vec<KeyRecord>,
    records: Arc<dyn KeyRecords>,
    table: RwLock<Arc<Table>>,
    clock: SharedClock,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.table().by_id.len())
            .finish_non_exhaustive()
    }
}

/// A key to make over the API.
#[derive(Clone, Debug, Default)]
pub struct NewKey {
    /// Its name.
    pub name: String,
    /// The caller it charges (default: its name).
    pub caller: Option<String>,
    /// Monthly cap.
    pub monthly_picos: Option<u64>,
    /// Daily cap.
    pub daily_picos: Option<u64>,
    /// Allowed requested models.
    pub models: Option<Vec<String>>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Unix seconds from which it no longer works.
    pub expires: Option<u64>,
}

/// Why a change over the API was not made.
#[derive(Debug, thiserror::Error)]
pub enum KeyChangeError {
    /// No key has this id.
    #[error("no key has the id `{0}`")]
    NotFound(String),
    /// Keys of the config file change only there (409).
    #[error("the key `{0}` is declared in the config file and can only be changed there")]
    Configured(String),
    /// The store could not keep the change.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system's random source failed.
    #[error("the system's random source failed")]
    Random,
}

impl KeyRing {
    /// A ring of the `configured` keys and those kept in `records`. A store that answers at
    /// once (a file, memory) is read now; others at the first [`reload`](Self::reload).
    pub fn new(
        configured: Vec<KeyRecord>,
        records: Arc<dyn KeyRecords>,
        clock: SharedClock,
    ) -> Self {
        let ring = Self {
            configured,
            records,
            table: RwLock::new(Arc::default()),
            clock,
        };
        let stored = futures_util::FutureExt::now_or_never(ring.records.load());
        ring.rebuild(stored.and_then(Result::ok).unwrap_or_default());
        ring
    }

    fn table(&self) -> Arc<Table> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn now(&self) -> u64 {
        unix(self.clock.now())
    }

    /// Whether any key exists.
    pub fn is_empty(&self) -> bool {
        self.table().by_id.is_empty()
    }

    /// How many keys exist.
    pub fn len(&self) -> usize {
        self.table().by_id.len()
    }

    /// Rebuilds the table from the configured keys and `stored`, keeping each key's rate
    /// limiter.
    fn rebuild(&self, stored: Vec<KeyRecord>) {
        let old = self.table();
        let mut table = Table::default();
        let configured = self.configured.iter().cloned();
        // A stored record never shadows a configured key of the same id.
        let stored = stored
            .into_iter()
            .filter(|r| !self.configured.iter().any(|c| c.id == r.id));
        for record in configured.chain(stored) {
            let limiter = old
                .by_id
                .get(&record.id)
                .filter(|e| e.record.rpm == record.rpm)
                .and_then(|e| e.limiter.clone());
            let entry = Arc::new(KeyEntry::new(record, limiter));
            for (hash, _) in &entry.hashes {
                table.by_hash.insert(*hash, entry.clone());
            }
            table.by_id.insert(entry.record.id.clone(), entry);
        }
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
    }

    /// Reads the record store again.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let stored = self.records.load().await?;
        self.rebuild(stored);
        Ok(())
    }

    /// Reloads every `every` while the ring lives, so revocations on other replicas apply.
    pub fn spawn_reload(self: &Arc<Self>, every: Duration) {
        let ring = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(ring) = ring.upgrade() else {
                    return;
                };
                if let Err(error) = ring.reload().await {
                    tracing::warn!(%error, "could not reload the API keys; keeping the last ones");
                }
            }
        });
    }

    /// The key whose secret is `presented`, if it works now.
    pub fn check(&self, presented: &str) -> Result<Arc<KeyEntry>, InvalidApiKey> {
        let hash = KeyHash::of(presented);
        let table = self.table();
        let entry = table
            .by_hash
            .get(&hash)
            .ok_or(InvalidApiKey::new(Refusal::Unknown))?;
        let now = self.now();
        let (_, until) = entry
            .hashes
            .iter()
            .find(|(h, _)| h.matches(&hash))
            .ok_or(InvalidApiKey::new(Refusal::Unknown))?;
        if until.is_some_and(|until| until <= now) {
            return Err(InvalidApiKey::new(Refusal::Revoked));
        }
        if let Some(refusal) = entry.is_dead(now) {
            return Err(InvalidApiKey::new(refusal));
        }
        Ok(entry.clone())
    }

    /// The key a request presents, judged by the rules of `keys.required`: `Ok(None)` for a
    /// request without a key while none is required (no credential, or a placeholder that is
    /// not `imx_`-shaped and matches no key, which SDKs that must send some key send), the key
    /// when it works now, and the refusal otherwise (an unknown `imx_` key is always refused).
    pub fn identify(
        &self,
        presented: Option<&str>,
        required: bool,
    ) -> Result<Option<Arc<KeyEntry>>, InvalidApiKey> {
        let Some(presented) = presented else {
            return if required {
                Err(InvalidApiKey::new(Refusal::Missing))
            } else {
                Ok(None)
            };
        };
        match self.check(presented) {
            Ok(entry) => Ok(Some(entry)),
            Err(refused)
                if refused.refusal() == Refusal::Unknown
                    && !required
                    && !presented.starts_with(crate::KEY_PREFIX) =>
            {
                Ok(None)
            }
            Err(refused) => Err(refused),
        }
    }

    /// Every key, by id.
    pub fn entries(&self) -> Vec<Arc<KeyEntry>> {
        self.table().by_id.values().cloned().collect()
    }

    /// The key `id`.
    pub fn get(&self, id: &str) -> Option<Arc<KeyEntry>> {
        self.table().by_id.get(id).cloned()
    }

    /// Makes a key; returns its record and the key itself (shown once, never kept).
    pub async fn create(&self, spec: NewKey) -> Result<(KeyRecord, String), KeyChangeError> {
        if self.configured.iter().any(|c| c.name == spec.name) {
            return Err(KeyChangeError::Configured(spec.name));
        }
        let secret = generate().map_err(|_| KeyChangeError::Random)?;
        let record = KeyRecord {
            id: new_id().map_err(|_| KeyChangeError::Random)?,
            caller: spec.caller.unwrap_or_else(|| spec.name.clone()),
            name: spec.name,
            secrets: vec![KeySecret {
                sha256: KeyHash::of(&secret).to_hex(),
                prefix: display_prefix(&secret),
                until: None,
            }],
            monthly_picos: spec.monthly_picos,
            daily_picos: spec.daily_picos,
            models: spec.models,
            rpm: spec.rpm,
            created: self.now(),
            expires: spec.expires,
            revoked: None,
            configured: false,
        };
        self.records.put(record.clone()).await?;
        self.reload().await?;
        Ok((record, secret))
    }

    /// A stored key that the API may change.
    fn changeable(&self, id: &str) -> Result<KeyRecord, KeyChangeError> {
        let entry = self
            .get(id)
            .ok_or_else(|| KeyChangeError::NotFound(id.to_owned()))?;
        if entry.record.configured {
            return Err(KeyChangeError::Configured(entry.record.name.clone()));
        }
        Ok(entry.record.clone())
    }

    /// Gives key `id` a new secret; the old ones work for `grace` more.
    pub async fn rotate(
        &self,
        id: &str,
        grace: Duration,
    ) -> Result<(KeyRecord, String), KeyChangeError> {
        let mut record = self.changeable(id)?;
        let now = self.now();
        let end = now.saturating_add(grace.as_secs());
        for old in &mut record.secrets {
            old.until = Some(old.until.map_or(end, |until| until.min(end)));
        }
        // Secrets whose grace has ended are of no more use.
        record.secrets.retain(|s| s.until.is_none_or(|u| u > now));
        let secret = generate().map_err(|_| KeyChangeError::Random)?;
        record.secrets.push(KeySecret {
            sha256: KeyHash::of(&secret).to_hex(),
            prefix: display_prefix(&secret),
            until: None,
        });
        self.records.put(record.clone()).await?;
        self.reload().await?;
        Ok((record, secret))
    }

    /// Revokes key `id` at once.
    pub async fn revoke(&self, id: &str) -> Result<KeyRecord, KeyChangeError> {
        let mut record = self.changeable(id)?;
        record.revoked.get_or_insert(self.now());
        self.records.put(record.clone()).await?;
        self.reload().await?;
        Ok(record)
    }
}
