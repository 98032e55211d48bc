//! Round-robin turns: lock-free counters, one per route.

use std::{
    hash::{BuildHasher, BuildHasherDefault, DefaultHasher},
    sync::atomic::{AtomicUsize, Ordering},
};

/// Number of counters; routes hashing to the same one share it.
const SLOTS: usize = 64;

/// Lock-free turn counters for round robin, one per route (group name or model), so that
/// traffic on one route does not skew the rotation of another.
///
/// Each route hashes to one of a fixed set of atomic counters: taking a turn is a single
/// `fetch_add`, with no lock and no allocation, and concurrent requests on one route each get
/// a distinct turn. Two routes sharing a counter still each rotate through all their
/// candidates, just not in strict alternation.
#[derive(Debug)]
pub(crate) struct Turns {
    slots: [AtomicUsize; SLOTS],
}

impl Turns {
    pub(crate) fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// The next turn of `route`: 0, 1, 2, ...
    pub(crate) fn next(&self, route: &str) -> usize {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(route);
        // The remainder is below SLOTS, so the cast cannot truncate.
        let slot = (hash % SLOTS as u64) as usize;
        self.slots[slot].fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_counts_its_own_turns() {
        let turns = Turns::new();
        assert_eq!(turns.next("embeddings"), 0);
        assert_eq!(turns.next("embeddings"), 1);
        // A different route that hashes elsewhere starts at 0.
        let other = (0..100)
            .map(|i| format!("route-{i}"))
            .find(|r| {
                let hash = BuildHasherDefault::<DefaultHasher>::default();
                hash.hash_one(r.as_str()) % SLOTS as u64
                    != hash.hash_one("embeddings") % SLOTS as u64
            })
            .expect("some route hashes to another slot");
        assert_eq!(turns.next(&other), 0);
        assert_eq!(turns.next("embeddings"), 2);
    }
}
