//! Sharing per-principal and per-IP quotas across instances through Redis.
//!
//! Every decision is made locally, by the same GCRA on the same in-memory
//! store as without Redis, so the message path never waits on the network.
//! A background thread reconciles with Redis every
//! [interval](RedisConfig::sync_interval): one script call sends, for each
//! key that admitted something since the last sync, the units it admitted
//! and how far ahead its local state is, and gets back how far ahead the
//! shared state is. The script adds the units to the shared state (so the
//! instances' consumption adds up) and never moves it back; the local
//! state is then moved forward to the shared one.
//!
//! # The bound
//!
//! An instance does not see what the others admitted since their last
//! sync. With `N` instances, a quota of rate `r` and burst `B`, and a sync
//! interval `T`, the instances together admit at most about
//! `(N - 1) x (B + r x T)` more than one shared limiter would, in any
//! window. The excess is a debt, not a leak: it is added to the shared
//! state, which then refuses for as long as it takes to pay it back, so
//! the long-run rate stays `r`. The tests measure it with two instances.
//!
//! # Time
//!
//! The shared state is in Unix microseconds. Each instance maps its
//! clock onto the wall clock once, at its first sync; instances' wall
//! clocks should agree (NTP) to well within `T`.
//!
//! # When Redis is unreachable
//!
//! A failed sync marks the store unavailable (one audit event
//! `rate_limit_store_unavailable`), keeps the units it could not send for
//! the next try (one counter per key: nothing queues up), and drops the
//! connection. While unavailable, [`OnUnavailable::FailOpen`] (the default)
//! decides locally, as if each instance were alone, and
//! [`OnUnavailable::FailClosed`] refuses every message under a shared quota
//! (`rate_limited`, retry after one interval) and every handshake under the
//! per-IP quota (503). Each interval tries again; the first sync that
//! succeeds emits `rate_limit_store_recovered` and sends what was kept.
//!
//! # Keys
//!
//! `<prefix>:<quota>:<identity>`, where `<quota>` is a fingerprint of the
//! quota's settings (instances share a key only if they agree on the quota)
//! and `<identity>` is a SHA-256 prefix of the principal or address, so
//! Redis holds no user ids or addresses in clear (the fingerprint includes
//! the version of the expiry scheme: instances of a release with another
//! scheme do not share keys with this one). Keys expire 1 to 5 seconds after
//! their state is idle. The script touches several keys at once; on Redis
//! Cluster, wrap the prefix in a hash tag (`{wsguard:rl}`) so that they
//! share one slot.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::Quota;
use super::layer::{HANDSHAKE_RULE, Inner, Rule};
use super::store::KeyId;
use crate::error::{ConfigError, Error, StoreError};
use crate::hex::hex;
use crate::time::{Clock, SystemClock};

/// Adds each key's units to the shared state and keeps the later of that
/// and the instance's own view; answers how far ahead of `now` each key is.
/// ARGV[1] is now (Unix microseconds), then per key: units (microseconds)
/// and the instance's own lead (microseconds).
///
/// Expiries move in steps of 4 s: a state in step `k` (`floor(tat / 4 s)`)
/// expires 1 s after the end of step `k`. A new state in the same step as
/// the old one keeps the expiry (`KEEPTTL`), which spares Redis an expiry
/// update per key and sync; the old states are read with one `MGET`.
/// Together these cut the script's cost per key (README, "Performance").
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local step = 4000000
local olds = redis.call('MGET', unpack(KEYS))
local out = {}
for i, key in ipairs(KEYS) do
  local old = tonumber(olds[i] or 0)
  local tat = math.max(old + tonumber(ARGV[2 * i]), now + tonumber(ARGV[2 * i + 1]))
  local k = math.floor(tat / step)
  if old > 0 and k == math.floor(old / step) then
    redis.call('SET', key, string.format('%.0f', tat), 'KEEPTTL')
  else
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.floor(((k + 1) * step - now) / 1000) + 1000)
  end
  out[i] = tat - now
end
return out
";

/// What a shared quota does while Redis is unreachable.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnavailable {
    /// Decide locally, as if this instance were alone (the default).
    #[default]
    FailOpen,
    /// Refuse messages under shared quotas, and handshakes under the
    /// per-IP quota.
    FailClosed,
}

/// Where and how often to share quotas through Redis (feature `redis`).
///
/// | setting | default |
/// |---------|---------|
/// | [`sync_interval`](Self::sync_interval) | 100 ms |
/// | [`timeout`](Self::timeout) | 250 ms (connect, read, write) |
/// | [`on_unavailable`](Self::on_unavailable) | [`OnUnavailable::FailOpen`] |
/// | [`key_prefix`](Self::key_prefix) | `wsguard:rl` |
/// | [`keys_per_call`](Self::keys_per_call) | 1,000 |
///
/// Deserializes as `{"url": "redis://...", "sync_interval_ms": 100,
/// "timeout_ms": 250, "on_unavailable": "fail_open", "key_prefix": "...",
/// "keys_per_call": 1000, "cluster": ["redis://node1:7000", ...]}`, all but
/// `url` optional (`sync_interval_ms: 0`
/// is [`manual_sync`](Self::manual_sync)).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[must_use]
pub struct RedisConfig {
    url: String,
    #[serde(default = "default_interval_ms")]
    sync_interval_ms: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    on_unavailable: OnUnavailable,
    #[serde(default = "default_prefix")]
    key_prefix: String,
    #[serde(default = "default_keys_per_call")]
    keys_per_call: usize,
    #[serde(skip, default = "system_clock")]
    clock: Arc<dyn Clock>,
    #[serde(skip)]
    root: Option<Vec<u8>>,
    #[serde(default)]
    cluster: Vec<String>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("RedisConfig")
            .field("sync_interval_ms", &self.sync_interval_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("on_unavailable", &self.on_unavailable)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

fn default_interval_ms() -> u64 {
    100
}

fn default_timeout_ms() -> u64 {
    250
}

fn default_prefix() -> String {
    "wsguard:rl".to_owned()
}

fn default_keys_per_call() -> usize {
    1000
}

fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

impl RedisConfig {
    /// The server at `url` (`redis://[user:password@]host:port/db`;
    /// `rediss://` for TLS needs the feature `redis-tls`), with the
    /// defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            sync_interval_ms: default_interval_ms(),
            timeout_ms: default_timeout_ms(),
            on_unavailable: OnUnavailable::default(),
            key_prefix: default_prefix(),
            keys_per_call: default_keys_per_call(),
            clock: system_clock(),
            root: None,
            cluster: Vec::new(),
        }
    }

    /// Uses the Redis Cluster of these nodes (`redis://host:port` each;
    /// feature `redis-cluster`) instead of the URL. Keys then carry one of
    /// 16 hash tags, and a sync makes one call per tag with keys to send.
    pub fn cluster<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cluster = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// For `rediss://` URLs (feature `redis-tls`): also trust this CA
    /// certificate (PEM), e.g. a private CA's.
    pub fn root_certificate(mut self, pem: &[u8]) -> Self {
        self.root = Some(pem.to_vec());
        self
    }

    /// How often the background thread syncs (default 100 ms; whole
    /// milliseconds, at least 1). Shorter is tighter (see the bound in the
    /// module docs) and costs Redis one script call per interval.
    pub fn sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
        self
    }

    /// No background thread: the application calls
    /// [`RateLimit::sync`](super::RateLimit::sync) itself, e.g. from its
    /// own runtime's timer.
    pub fn manual_sync(mut self) -> Self {
        self.sync_interval_ms = 0;
        self
    }

    /// The connect, read and write timeout of a sync (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1);
        self
    }

    /// What shared quotas do while Redis is unreachable (default
    /// [`OnUnavailable::FailOpen`]).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// The prefix of every key (default `wsguard:rl`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The most keys sent in one script call (default 1,000); a sync with
    /// more keys makes several calls.
    pub fn keys_per_call(mut self, keys: usize) -> Self {
        self.keys_per_call = keys.max(1);
        self
    }

    /// The clock syncs read (default the system clock). Give it the
    /// guard's [`ManualClock`](crate::time::ManualClock) in tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn interval(&self) -> Option<Duration> {
        (self.sync_interval_ms > 0).then(|| Duration::from_millis(self.sync_interval_ms))
    }
}

/// The Redis side of a [`RateLimit`](super::RateLimit).
pub(crate) struct Sync {
    config: RedisConfig,
    client: crate::redis_client::Client,
    script: redis::Script,
    conn: Mutex<Option<crate::redis_client::Conn>>,
    link: crate::redis_client::Link,
    /// Per rule index, the quota's fingerprint; the handshake quota's last.
    tags: Vec<String>,
    /// Unix microseconds at the store's nanosecond 0.
    anchor_us: OnceLock<u64>,
}

impl std::fmt::Debug for Sync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Sync")
            .field("interval", &self.config.interval())
            .field("on_unavailable", &self.config.on_unavailable)
            .field("available", &self.link.is_up())
            .finish_non_exhaustive()
    }
}

impl Sync {
    pub(crate) fn new(config: RedisConfig, rules: &[Rule], handshakes: Option<Quota>) -> Result<Self, ConfigError> {
        let client = crate::redis_client::Client::new(&config.url, &config.cluster, config.root.as_deref())?;
        let fingerprint = |settings: String| hex(&Sha256::digest(settings.as_bytes()), 8);
        // `v2`: the expiry scheme of `SCRIPT` (steps of 4 s).
        let mut tags: Vec<String> = rules.iter().map(|r| fingerprint(format!("v2 {r:?}"))).collect();
        tags.push(fingerprint(format!("v2 handshake {handshakes:?}")));
        Ok(Self {
            config,
            client,
            script: redis::Script::new(SCRIPT),
            conn: Mutex::new(None),
            link: crate::redis_client::Link::new("rate_limit_store"),
            tags,
            anchor_us: OnceLock::new(),
        })
    }

    /// Starts the background thread, which ends within one interval of the
    /// last clone of the layer being dropped.
    pub(crate) fn spawn(inner: &Arc<Inner>) -> Result<(), ConfigError> {
        let Some(interval) = inner.redis.as_ref().and_then(|s| s.config.interval()) else { return Ok(()) };
        let weak = Arc::downgrade(inner);
        std::thread::Builder::new()
            .name("wsguard-rate-limit-sync".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    let Some(inner) = weak.upgrade() else { return };
                    if let Some(sync) = &inner.redis {
                        // A failure is recorded (audit event, availability)
                        // by `run`; the next interval tries again.
                        let _ = sync.run(&inner);
                    }
                }
            })
            .map_err(|e| ConfigError::RateLimit { reason: format!("cannot start the sync thread: {e}") })?;
        Ok(())
    }

    /// While fail-closed and unavailable: how long clients should wait.
    pub(crate) fn refusing(&self) -> Option<Duration> {
        let closed = self.config.on_unavailable == OnUnavailable::FailClosed;
        (closed && !self.link.is_up()).then(|| self.config.interval().unwrap_or(Duration::from_secs(1)))
    }

    pub(crate) fn is_available(&self) -> bool {
        self.link.is_up()
    }

    /// One reconciliation; returns how many keys were sent.
    pub(crate) fn run(&self, inner: &Inner) -> Result<usize, Error> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let now = inner.nanos(self.config.clock.now());
        let anchor = *self.anchor_us.get_or_init(|| unix_us().saturating_sub(now / 1000));
        let pending = inner.store.take_pending();
        if pending.is_empty() && self.is_available() {
            return Ok(0);
        }
        let mut done = vec![false; pending.len()];
        let result = (|| -> redis::RedisResult<()> {
            if conn.is_none() {
                *conn = Some(self.client.connect(Duration::from_millis(self.config.timeout_ms))?);
            }
            let Some(c) = conn.as_mut() else { return Ok(()) };
            if pending.is_empty() {
                // Unavailable with nothing to send: probe, to recover.
                return redis::cmd("PING").query::<()>(c.as_mut());
            }
            // One call per chunk of keys of one slot (one shard on a
            // cluster; all keys on one server).
            let keys: Vec<(String, u8)> = pending.iter().map(|(key, ..)| self.redis_key(key.id())).collect();
            let mut order: Vec<usize> = (0..pending.len()).collect();
            order.sort_by_key(|&i| keys[i].1);
            for group in order.chunk_by(|&a, &b| keys[a].1 == keys[b].1) {
                for chunk in group.chunks(self.config.keys_per_call) {
                    let mut call = self.script.prepare_invoke();
                    call.arg(anchor + now / 1000);
                    for &i in chunk {
                        let (key, units, tat) = &pending[i];
                        call.key(&keys[i].0);
                        call.arg(self.units_us(inner, key.id(), *units));
                        call.arg(tat.saturating_sub(now) / 1000);
                    }
                    let leads: Vec<u64> = call.invoke(c.as_mut())?;
                    for (&i, lead) in chunk.iter().zip(leads) {
                        inner.store.raise(&pending[i].0, now.saturating_add(lead.saturating_mul(1000)));
                        done[i] = true;
                    }
                }
            }
            Ok(())
        })();
        self.link.record(&result);
        match result {
            Ok(()) => Ok(done.iter().filter(|d| **d).count()),
            Err(e) => {
                *conn = None;
                for ((key, units, _), done) in pending.iter().zip(&done) {
                    if !done {
                        inner.store.restore_pending(key, *units);
                    }
                }
                Err(Error::RateLimitStore(StoreError(Box::new(e))))
            }
        }
    }

    /// The key of `id`, and its shard: on a cluster, keys carry one of 16
    /// hash tags (`{<prefix>:<shard>}`) so that a call's keys share a slot
    /// while the keys spread over the nodes.
    fn redis_key(&self, id: &KeyId) -> (String, u8) {
        let (rule, identity) = match id {
            KeyId::Principal(rule, p) => (*rule, Sha256::new().chain_update("p:").chain_update(p.as_bytes())),
            KeyId::Ip(rule, ip) => (*rule, Sha256::new().chain_update("ip:").chain_update(ip.to_string())),
        };
        let tag = match rule {
            HANDSHAKE_RULE => self.tags.last(),
            rule => self.tags.get(usize::from(rule)),
        };
        let identity = identity.finalize();
        let (tag, identity) = (tag.map_or("", String::as_str), hex(&identity, 24));
        if self.client.is_cluster() {
            let shard = identity.as_bytes()[0];
            (format!("{{{}:{}}}:{tag}:{identity}", self.config.key_prefix, char::from(shard)), shard)
        } else {
            (format!("{}:{tag}:{identity}", self.config.key_prefix), 0)
        }
    }

    /// `units` of the key's quota, in microseconds of its state (rounded).
    fn units_us(&self, inner: &Inner, id: &KeyId, units: u64) -> u64 {
        let rule = match id {
            KeyId::Principal(rule, _) | KeyId::Ip(rule, _) => *rule,
        };
        let quota = match rule {
            HANDSHAKE_RULE => inner.handshakes,
            rule => inner.rules.get(usize::from(rule)).map(|r| r.quota),
        };
        let period = quota.map_or(0, |q| u128::from(q.period_ns()));
        u64::try_from((u128::from(units) * period + 500) / 1000).unwrap_or(u64::MAX)
    }
}

fn unix_us() -> u64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}
