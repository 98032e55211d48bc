//! Sessions: which tier and model a session of a virtual model is on, bounded in memory.
//!
//! Keys are 64-bit keyed hashes of (virtual model, session id): no session id is stored. The
//! map has two generations: entries go into the young one; when it holds half the capacity,
//! the old generation is dropped and the young one becomes old. A hit in the old generation
//! moves the entry back to the young one. Memory is therefore bounded by the capacity, each
//! operation is O(1), and a session seen within the last half-capacity of sessions is kept
//! (an approximate LRU). Entries also expire after their TTL, renewed at each use.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hash, Hasher, RandomState},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Sessions kept when the layer is given no capacity.
pub const DEFAULT_SESSION_CAPACITY: usize = 100_000;

/// Where one session is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pinned {
    /// The tier index.
    pub(crate) tier: usize,
    /// The model.
    pub(crate) model: Arc<str>,
}

#[derive(Debug)]
struct Entry {
    pinned: Pinned,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<u64, Entry>,
    old: HashMap<u64, Entry>,
}

/// The sessions of every virtual model of one layer.
#[derive(Debug)]
pub(crate) struct Sessions {
    generations: Mutex<Generations>,
    half: usize,
    hasher: RandomState,
}

impl Sessions {
    /// A store of at most `capacity` sessions.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            generations: Mutex::new(Generations::default()),
            half: (capacity / 2).max(1),
            hasher: RandomState::new(),
        }
    }

    /// The key of `session` of `virtual_model`.
    pub(crate) fn key(&self, virtual_model: &str, session: &str) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        virtual_model.hash(&mut hasher);
        session.hash(&mut hasher);
        hasher.finish()
    }

    /// Where session `key` is, unless it expired.
    pub(crate) fn get(&self, key: u64, now: Instant) -> Option<Pinned> {
        let generations = self.lock();
        let entry = generations
            .young
            .get(&key)
            .or_else(|| generations.old.get(&key))?;
        if entry.expires <= now {
            return None;
        }
        Some(entry.pinned.clone())
    }

    /// Puts session `key` on `pinned` for `ttl` from `now`.
    pub(crate) fn put(&self, key: u64, pinned: Pinned, now: Instant, ttl: Duration) {
        let mut generations = self.lock();
        generations.old.remove(&key);
        if generations.young.len() >= self.half && !generations.young.contains_key(&key) {
            let young = std::mem::take(&mut generations.young);
            generations.old = young;
        }
        generations.young.insert(
            key,
            Entry {
                pinned,
                expires: now + ttl,
            },
        );
    }

    /// Sessions held (both generations).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let generations = self.lock();
        generations.young.len() + generations.old.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // A panic while holding the lock leaves the maps consistent (each operation is one
        // insert or remove), so a poisoned lock is still usable.
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(tier: usize) -> Pinned {
        Pinned {
            tier,
            model: "m".into(),
        }
    }

    #[test]
    fn entries_expire_and_renew() {
        let sessions = Sessions::new(10);
        let now = Instant::now();
        let key = sessions.key("auto", "s1");
        assert_ne!(key, sessions.key("economy", "s1"));
        sessions.put(key, pinned(1), now, Duration::from_secs(60));
        assert_eq!(
            sessions.get(key, now + Duration::from_secs(59)),
            Some(pinned(1))
        );
        assert_eq!(sessions.get(key, now + Duration::from_secs(60)), None);
    }

    #[test]
    fn memory_is_bounded_by_the_capacity() {
        let sessions = Sessions::new(100);
        let now = Instant::now();
        for i in 0..10_000 {
            let key = sessions.key("auto", &i.to_string());
            sessions.put(key, pinned(0), now, Duration::from_secs(60));
            assert!(sessions.len() <= 100);
        }
        // The most recent sessions are still there.
        let recent = sessions.key("auto", "9999");
        assert_eq!(sessions.get(recent, now), Some(pinned(0)));
    }
}
