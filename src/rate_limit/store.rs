//! The in-memory keyed store: GCRA states in sharded maps.
//!
//! Keys are attacker-influenced (peer addresses, principals), so the maps
//! use the standard DoS-resistant hasher, and each shard holds at most
//! `max_keys / SHARDS` keys. When a shard is full, keys that are idle (their
//! state equals a fresh key's) are swept first; if none is idle, the key
//! closest to idle is evicted, which can only let that key through earlier
//! than its quota allows, never refuse anyone wrongly.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

use super::Quota;
use super::gcra::{self, Refusal};

/// Shards: a request locks one of them, never the whole store.
const SHARDS: usize = 64;

#[derive(Debug)]
pub(crate) struct MemoryStore<K> {
    shards: Box<[Mutex<HashMap<K, u64>>]>,
    hasher: RandomState,
    per_shard: usize,
}

impl<K: Hash + Eq + Clone> MemoryStore<K> {
    /// A store holding at most about `max_keys` keys (at least one per shard).
    pub(crate) fn new(max_keys: usize) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self { shards, hasher: RandomState::new(), per_shard: max_keys.div_ceil(SHARDS).max(1) }
    }

    /// Decides a request of `cost` units for `key` at `now` (nanoseconds on
    /// the guard's clock).
    pub(crate) fn check(&self, key: &K, now: u64, quota: &Quota, cost: u32) -> Result<(), Refusal> {
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        // A poisoned shard only means another thread panicked mid-update of
        // plain integers; the data is still usable.
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tat) = map.get_mut(key) {
            return gcra::check(tat, now, quota, cost);
        }
        let mut tat = 0;
        gcra::check(&mut tat, now, quota, cost)?;
        if map.len() >= self.per_shard {
            map.retain(|_, t| *t > now);
            if map.len() >= self.per_shard {
                if let Some(oldest) = map.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(key.clone(), tat);
        Ok(())
    }

    /// Gives back what an admitted request of `cost` took, when a later
    /// quota refused the same message.
    pub(crate) fn refund(&self, key: &K, quota: &Quota, cost: u32) {
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tat) = map.get_mut(key) {
            *tat = tat.saturating_sub(quota.period_ns().saturating_mul(u64::from(cost)));
        }
    }

    /// How many keys are tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn threads_never_get_more_than_the_quota_allows() {
        let store = Arc::new(MemoryStore::new(1000));
        let quota = Quota::per_second(NonZeroU32::new(100).unwrap());
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, admitted) = (store.clone(), admitted.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        // All at the same instant: exactly the burst may pass.
                        if store.check(&"alice", 0, &quota, 1).is_ok() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_within_the_bound() {
        let store = MemoryStore::new(6400);
        let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
        for i in 0..100_000u32 {
            // Every key stays active (its state is ahead of `now`).
            assert!(store.check(&i, 0, &quota, 1).is_ok());
        }
        assert!(store.len() <= 6400, "{} keys", store.len());
        // Idle keys are swept before anyone is evicted.
        let later = 10_000_000_000;
        assert!(store.check(&u32::MAX, later, &quota, 1).is_ok());
        assert!(store.len() <= 6400);
    }
}
