//! Rate limiting: quotas on messages and bytes per connection, principal,
//! IP and message type, and on new connections per IP.
//!
//! ```
//! use std::num::NonZeroU32;
//! use wsguard::Guard;
//! use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
//!
//! let n = |v| NonZeroU32::new(v).unwrap();
//! let limit = RateLimit::builder()
//!     // 20 messages per second per connection,
//!     .quota(Quota::per_second(n(20)), Unit::Messages, Per::Connection)
//!     // 100 messages and 1 MiB per second per user, across connections,
//!     .quota(Quota::per_second(n(100)), Unit::Messages, Per::Principal)
//!     .quota(Quota::per_second(n(1 << 20)), Unit::Bytes, Per::Principal)
//!     // and 5 `typing` messages per second per connection.
//!     .quota_for_type("typing", Quota::per_second(n(5)), Unit::Messages, Per::Connection)
//!     .build()?;
//! let guard = Guard::builder().without_auth().rate_limit(limit).build()?;
//! # Ok::<(), wsguard::ConfigError>(())
//! ```
//!
//! # Quotas
//!
//! A [`Quota`] is a rate and a burst, run as GCRA (the generic cell rate
//! algorithm: a token bucket kept as one timestamp per key). A message costs
//! 1 in a [`Unit::Messages`] quota and its length in a [`Unit::Bytes`]
//! quota, and must fit every quota that applies to it: the builder's
//! quotas, plus those for its type. A refused message costs nothing in any
//! quota. A per-type quota needs the message's type, so the layer parses
//! the JSON (once, shared with later layers), but only within
//! [`structure`](RateLimitBuilder::structure) limits: it runs before schema
//! validation and must not parse what that would refuse unparsed. Quotas
//! are counted [`Per::Connection`] (in the session),
//! [`Per::Principal`] or [`Per::Ip`] (in a store shared by connections).
//!
//! # Answers
//!
//! | what | answer |
//! |------|--------|
//! | a message over a quota | dropped, reply `{"type":"error","code":"rate_limited","retry_after_ms":N}` |
//! | a message larger than a quota's burst | dropped, reply `too_large` (it can never fit) |
//! | [`close_after`](RateLimitBuilder::close_after) refusals in a row (default 10) | close 4429 "rate limit exceeded" (or 1013 with [`close_with_1013`](RateLimitBuilder::close_with_1013)) |
//! | a handshake over the per-IP quota | HTTP 429 with `Retry-After` (or accept-then-close 4429, per [`HandshakeRejection`](crate::HandshakeRejection)) |
//! | Redis unreachable, fail-closed | messages under shared quotas: `rate_limited`; handshakes: 503 |
//!
//! The per-IP handshake quota runs before authentication when the layer is
//! added with [`GuardBuilder::rate_limit`](crate::GuardBuilder::rate_limit),
//! so credential stuffing and socket floods are refused before any token
//! is checked.
//!
//! # The store
//!
//! Per-principal and per-IP states live in 64 shards, each a hash map
//! behind its own mutex: a message locks one shard, never the whole store,
//! and no number of threads can get more than the quota allows (tested with
//! 8 threads). Keys are hashed once per connection with a randomly seeded
//! SipHash, so an attacker cannot aim keys at one shard. The store holds
//! at most [`max_keys`](RateLimitBuilder::max_keys) keys: a new key in a
//! full shard first sweeps that shard's idle keys (whose state has caught
//! up with the clock, so forgetting them changes no answer), then, if
//! none is idle, evicts the key nearest to idle. A flood of distinct
//! addresses therefore costs a bounded amount of memory, and at worst lets
//! an evicted key through early, never refuses anyone wrongly.
//!
//! # Memory
//!
//! A tracked key costs about 85 bytes plus its principal id: 33 bytes per
//! map slot (hash, pointer, state, pending units, control byte) at a load
//! between 44% and 88%, and the shared key (40 bytes and the id). Measured
//! by `tests/alloc.rs`: 94 bytes per key at 100,000 keys with 11-byte ids,
//! not counting the allocator's own overhead; so the default 100,000 keys
//! take about 10 MB. A connection keeps, in its session, 16 bytes per
//! quota and its principal id.
//!
//! # Sharing across instances
//!
//! With the `redis` feature, [`RateLimitBuilder::redis`] shares the
//! per-principal and per-IP quotas (and the handshake quota) with other
//! instances. Decisions stay local and the hot path never waits on the
//! network; the over-admission bound, the failure policy and the key
//! layout are in [`RedisConfig`]'s module docs (`redis.rs`), summarised:
//! about `(instances - 1) x (burst + rate x interval)` more than one shared
//! limiter, repaid afterwards.
//!
//! # Why our own GCRA rather than `governor`
//!
//! The in-memory store and the Redis store must give the same answers for
//! the same arrivals, so the algorithm runs on integer nanoseconds that the
//! Redis script continues in integer microseconds. Time is passed in (the
//! guard's [`Clock`](crate::time::Clock)), never read from a TSC clock
//! that can jump backwards across cores (governor #299), so tests are exact
//! and never sleep; and the keyed store is ours, so it evicts idle keys and
//! stays bounded (governor #171). The algorithm is 15 lines (`gcra.rs`).
//!
//! # Performance
//!
//! `cargo bench --bench rate_limit` measures a decision through the layer;
//! the README has the numbers.

mod gcra;
mod layer;
mod quota;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use layer::{Per, RateLimit, RateLimitBuilder, Unit};
pub use quota::Quota;
#[cfg(feature = "redis")]
pub use redis::{OnUnavailable, RedisConfig};

#[cfg(feature = "redis")]
impl RateLimit {
    /// Sends this instance's admissions to Redis and takes in the other
    /// instances'; returns how many keys were sent. The background thread
    /// calls it every interval; with [`RedisConfig::manual_sync`], call it
    /// yourself. Without Redis it does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimitStore`](crate::Error::RateLimitStore) when Redis
    /// cannot be reached; the store is then unavailable until a sync
    /// succeeds, and nothing admitted is lost.
    pub fn sync(&self) -> Result<usize, crate::Error> {
        match &self.inner.redis {
            Some(redis) => redis.run(&self.inner),
            None => Ok(0),
        }
    }

    /// Whether the last sync reached Redis (`true` without Redis).
    pub fn is_store_available(&self) -> bool {
        self.inner.redis.as_ref().is_none_or(|r| r.is_available())
    }
}

#[cfg(test)]
mod tests;
