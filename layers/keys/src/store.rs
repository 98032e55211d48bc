//! Where keys made over the management API are kept: [`KeyRecords`], with an in-memory store,
//! a file beside the state file ([`FileRecords`]), and Redis for a fleet (in
//! `infermux-spend-redis`). Records hold hashes only.

use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::{Mutex, PoisonError},
};

use infermux_core::{StoreError, StoreFuture};
use serde::{Deserialize, Serialize};

use crate::KeyRecord;

/// A store of key records, shared by every replica that must honour a revocation.
pub trait KeyRecords: Send + Sync + 'static {
    /// Every record.
    fn load(&self) -> StoreFuture<Vec<KeyRecord>>;

    /// Writes `record`, replacing the one with its id.
    fn put(&self, record: KeyRecord) -> StoreFuture<()>;
}

fn ready<T: Send + 'static>(value: Result<T, StoreError>) -> StoreFuture<T> {
    Box::pin(std::future::ready(value))
}

/// Records in memory: keys made over the API last until the process ends.
#[derive(Debug, Default)]
pub struct MemoryRecords {
    records: Mutex<BTreeMap<String, KeyRecord>>,
}

impl MemoryRecords {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyRecords for MemoryRecords {
    fn load(&self) -> StoreFuture<Vec<KeyRecord>> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        ready(Ok(records.values().cloned().collect()))
    }

    fn put(&self, record: KeyRecord) -> StoreFuture<()> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.id.clone(), record);
        ready(Ok(()))
    }
}

/// The key file: `{"format": 1, "keys": [records]}`.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: u32,
    keys: Vec<KeyRecord>,
}

/// Records in a JSON file (beside the state file), replaced atomically on every change.
#[derive(Debug)]
pub struct FileRecords {
    path: PathBuf,
    records: Mutex<BTreeMap<String, KeyRecord>>,
}

impl FileRecords {
    /// Opens (or starts) the key file at `path`. Fails when it exists and cannot be read:
    /// revoked keys are never silently forgotten.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let records = match fs::read_to_string(&path) {
            Ok(text) => {
                let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
                    StoreError::Unavailable(format!("cannot parse {}: {e}", path.display()))
                })?;
                file.keys.into_iter().map(|r| (r.id.clone(), r)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(Self {
            path,
            records: Mutex::new(records),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    fs::File::open(dir)?.sync_all()
}

impl KeyRecords for FileRecords {
    fn load(&self) -> StoreFuture<Vec<KeyRecord>> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        ready(Ok(records.values().cloned().collect()))
    }

    fn put(&self, record: KeyRecord) -> StoreFuture<()> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = records.clone();
        next.insert(record.id.clone(), record);
        let file = KeyFile {
            format: 1,
            keys: next.values().cloned().collect(),
        };
        let written = serde_json::to_vec_pretty(&file)
            .map_err(|e| e.to_string())
            .and_then(|json| write_atomically(&self.path, &json).map_err(|e| e.to_string()));
        match written {
            Ok(()) => {
                *records = next;
                ready(Ok(()))
            }
            Err(e) => ready(Err(StoreError::Unavailable(format!(
                "cannot write {}: {e}",
                self.path.display()
            )))),
        }
    }
}
