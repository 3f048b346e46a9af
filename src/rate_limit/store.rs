//! The in-memory keyed store: GCRA states in sharded maps.
//!
//! Keys are attacker-influenced (peer addresses, principals), so each key's
//! hash is computed once, with the standard DoS-resistant hasher under a
//! per-store random seed, and the maps index by that hash. Each shard holds
//! at most `max_keys / SHARDS` keys. When a shard is full, keys that are idle
//! (their state equals a fresh key's) are swept first; if none is idle, the
//! key closest to idle is evicted, which can only let that key through
//! earlier than its quota allows, never refuse anyone wrongly.
//!
//! Each entry also counts the units it admitted since the last
//! synchronisation (`pending`), which the Redis store sends to the server.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;

use rustc_hash::FxBuildHasher;

use super::Quota;
use super::gcra::{self, Refusal};

/// Shards: a request locks one of them, never the whole store.
const SHARDS: usize = 64;

/// Who a shared quota counts: a rule (by index) and an identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyId {
    /// A principal's id.
    Principal(u16, Box<str>),
    /// A peer address, IPv6 already cut to the prefix.
    Ip(u16, IpAddr),
}

/// A [`KeyId`] with its hash, computed once per connection so that the
/// message path neither hashes a string nor allocates.
#[derive(Clone, Debug)]
pub(crate) struct StoreKey {
    hash: u64,
    id: Arc<KeyId>,
}

impl StoreKey {
    #[cfg(feature = "redis")]
    pub(crate) fn id(&self) -> &KeyId {
        &self.id
    }
}

impl PartialEq for StoreKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && (Arc::ptr_eq(&self.id, &other.id) || self.id == other.id)
    }
}

impl Eq for StoreKey {}

impl Hash for StoreKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// One key's state.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    /// Theoretical arrival time, nanoseconds on the layer's time base.
    tat: u64,
    /// Units admitted since the last synchronisation.
    pending: u64,
}

type Shard = HashMap<StoreKey, Entry, FxBuildHasher>;

#[derive(Debug)]
pub(crate) struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    seed: RandomState,
    per_shard: usize,
    /// Whether entries count `pending` units (only a synchronised store).
    tracks_pending: bool,
}

impl MemoryStore {
    /// A store holding at most `max_keys` keys, rounded up to a multiple of
    /// 64 (at least one per shard); `tracks_pending` for a store that is
    /// synchronised with another.
    pub(crate) fn new(max_keys: usize, tracks_pending: bool) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Self { shards, seed: RandomState::new(), per_shard: max_keys.div_ceil(SHARDS).max(1), tracks_pending }
    }

    /// The most keys the store holds.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    /// The key for `id`, hashed under this store's seed.
    pub(crate) fn key(&self, id: KeyId) -> StoreKey {
        StoreKey { hash: self.seed.hash_one(&id), id: Arc::new(id) }
    }

    fn shard(&self, key: &StoreKey) -> std::sync::MutexGuard<'_, Shard> {
        // The top bits pick the shard; the map uses the whole hash.
        let shard = &self.shards[(key.hash >> 58) as usize % SHARDS];
        // A poisoned shard only means another thread panicked mid-update of
        // plain integers; the data is still usable.
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides a request of `cost` units for `key` at `now` (nanoseconds on
    /// the layer's time base).
    pub(crate) fn check(&self, key: &StoreKey, now: u64, quota: &Quota, cost: u32) -> Result<(), Refusal> {
        let mut map = self.shard(key);
        if let Some(entry) = map.get_mut(key) {
            gcra::check(&mut entry.tat, now, quota, cost)?;
            if self.tracks_pending {
                entry.pending = entry.pending.saturating_add(u64::from(cost));
            }
            return Ok(());
        }
        let pending = if self.tracks_pending { u64::from(cost) } else { 0 };
        let mut entry = Entry { tat: 0, pending };
        gcra::check(&mut entry.tat, now, quota, cost)?;
        if map.len() >= self.per_shard {
            // Linear in the shard's size (at most `per_shard`), and only
            // when a new key arrives at a full shard. Units not yet sent to
            // a synchronised store keep their key unless it must be evicted.
            map.retain(|_, e| e.tat > now || e.pending > 0);
            if map.len() >= self.per_shard
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.tat).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(key.clone(), entry);
        Ok(())
    }

    /// Gives back what an admitted request of `cost` took, when a later
    /// quota refused the same message.
    pub(crate) fn refund(&self, key: &StoreKey, quota: &Quota, cost: u32) {
        let mut map = self.shard(key);
        if let Some(entry) = map.get_mut(key) {
            entry.tat = entry.tat.saturating_sub(quota.period_ns().saturating_mul(u64::from(cost)));
            entry.pending = entry.pending.saturating_sub(u64::from(cost));
        }
    }

    /// Takes every key's pending units: `(key, pending, tat)` for the keys
    /// that admitted something since the last call.
    #[cfg(feature = "redis")]
    pub(crate) fn take_pending(&self) -> Vec<(StoreKey, u64, u64)> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
            for (key, entry) in map.iter_mut().filter(|(_, e)| e.pending > 0) {
                out.push((key.clone(), std::mem::take(&mut entry.pending), entry.tat));
            }
        }
        out
    }

    /// Puts back pending units that could not be sent.
    #[cfg(feature = "redis")]
    pub(crate) fn restore_pending(&self, key: &StoreKey, pending: u64) {
        let mut map = self.shard(key);
        if let Some(entry) = map.get_mut(key) {
            entry.pending = entry.pending.saturating_add(pending);
        }
    }

    /// Moves `key`'s state forward to at least `tat` (what other instances
    /// consumed); never backwards.
    #[cfg(feature = "redis")]
    pub(crate) fn raise(&self, key: &StoreKey, tat: u64) {
        let mut map = self.shard(key);
        if let Some(entry) = map.get_mut(key) {
            entry.tat = entry.tat.max(tat);
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn principal(store: &MemoryStore, id: &str) -> StoreKey {
        store.key(KeyId::Principal(0, id.into()))
    }

    #[test]
    fn threads_never_get_more_than_the_quota_allows() {
        let store = Arc::new(MemoryStore::new(1000, false));
        let quota = Quota::per_second(NonZeroU32::new(100).unwrap());
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, admitted) = (store.clone(), admitted.clone());
                // Each thread builds its own key: equal by value, not by pointer.
                let key = principal(&store, "alice");
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        // All at the same instant: exactly the burst may pass.
                        if store.check(&key, 0, &quota, 1).is_ok() {
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
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_within_the_bound() {
        let store = MemoryStore::new(6400, false);
        assert_eq!(store.capacity(), 6400);
        let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
        for i in 0..100_000u32 {
            let key = store.key(KeyId::Ip(0, IpAddr::from(i.to_be_bytes())));
            // Every key stays active (its state is ahead of `now`).
            assert!(store.check(&key, 0, &quota, 1).is_ok());
        }
        assert!(store.len() <= 6400, "{} keys", store.len());
        assert!(store.len() > 6000, "shards fill evenly: {} keys", store.len());
        // Idle keys are swept before anyone is evicted.
        let later = 10_000_000_000;
        assert!(store.check(&principal(&store, "late"), later, &quota, 1).is_ok());
        assert!(store.len() <= 6400);
    }

    #[test]
    fn an_evicted_key_starts_fresh_and_others_keep_their_state() {
        // One key per shard: a second key in the same shard evicts the first.
        let store = MemoryStore::new(1, false);
        let quota = Quota::per_second(NonZeroU32::new(1).unwrap());
        let a = principal(&store, "a");
        assert!(store.check(&a, 0, &quota, 1).is_ok());
        assert!(store.check(&a, 0, &quota, 1).is_err(), "a is out of quota");
        let same_shard =
            (0..10_000).map(|i| principal(&store, &format!("b{i}"))).find(|b| b.hash >> 58 == a.hash >> 58).unwrap();
        assert!(store.check(&same_shard, 0, &quota, 1).is_ok());
        assert_eq!(store.len(), 1);
        assert!(store.check(&a, 0, &quota, 1).is_ok(), "eviction errs on admitting");
    }
}
