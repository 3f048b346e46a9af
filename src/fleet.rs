//! Many instances, one policy: revocations and a token deny-list shared
//! through Redis (feature `redis`).
//!
//! A [`Fleet`] is a [`Layer`]: add the same one to every guard of an
//! instance, and point every instance at the same Redis.
//!
//! - [`Fleet::revoke_principal`] on any instance closes that principal's
//!   sessions on this instance at once (4403) and on every other instance
//!   within milliseconds (Redis pub/sub), and refuses the principal's new
//!   handshakes everywhere (403, or 4403 in accept-then-close mode) until
//!   the deny-list entry ends: by default when the revoked token would
//!   have expired (the latest expiry among the principal's sessions here),
//!   else after [`FleetBuilder::default_deny`].
//! - [`Fleet::deny_token`] does the same for one token, by its `jti` claim.
//! - [`Fleet::revoke_session`] closes one session wherever it is, by its
//!   fleet-wide [`session_id`](Fleet::session_id), without a denial.
//! - [`FleetBuilder::shared_caps`] counts concurrent connections per
//!   principal, per IP and in all across the instances (429 beyond).
//!
//! # Shared connection caps
//!
//! Each admitted connection holds a lease in Redis (a sorted-set member
//! whose score is its expiry), taken by one script at the handshake (the
//! handshake may consult Redis; messages never do) and renewed by the
//! background thread every third of the [lease](FleetBuilder::lease). A
//! closed connection gives its lease back; the leases of a crashed
//! instance expire within one lease time (15 s by default), and their
//! places free themselves.
//!
//! While an instance cannot reach Redis it admits under
//! [`OnUnavailable::FailOpen`] (the default) by its local
//! [`ConnectionCaps`] alone, so during a partition
//! the fleet admits at most the shared cap plus, per partitioned instance,
//! its local cap; and its leases lapse after one lease time, so
//! connections admitted before the partition stop counting elsewhere
//! (`tests/fleet.rs` measures both). Under
//! [`OnUnavailable::FailClosed`] it refuses authenticated handshakes (503).
//!
//! # The hot path never waits on Redis
//!
//! Handshakes read a local copy of the deny-list; messages never look at
//! it (a revoked session is closed through its registry, the same way a
//! local revocation is). A background thread keeps the copy in sync: it
//! subscribes to the revocation channel and, on every (re)connection and
//! every [`resync_interval`](FleetBuilder::resync_interval), loads the whole
//! list from Redis, so revocations published while it was disconnected are
//! applied when it comes back.
//!
//! # When Redis is unreachable
//!
//! A revocation still takes effect on the instance that made it, and is
//! kept and published when Redis is reachable again (no operator action).
//! Other instances learn of it then. Meanwhile handshakes are admitted by
//! the local copy ([`OnUnavailable::FailOpen`], the default) or refused with
//! 503 ([`OnUnavailable::FailClosed`]). The audit events `fleet_unavailable`
//! and `fleet_recovered` mark the outage.
//!
//! # Keys
//!
//! `{<prefix>}:deny` (a sorted set: entry → end of the entry, Unix ms) and
//! the channel `{<prefix>}:revoked`. Entries are `p:` or `j:` and a SHA-256
//! prefix of the principal id or `jti`: Redis holds no ids in clear. The
//! prefix is a hash tag, so on Redis Cluster ([`FleetBuilder::cluster`],
//! feature `redis-cluster`) every script runs in one slot; connection
//! caps use the sets `{<prefix>}:conn:p:...`, `{<prefix>}:conn:ip:...` and
//! `{<prefix>}:conn:all`.
//!
//! # Redis setups
//!
//! ACL users and passwords go in the URL (`redis://user:password@host/`);
//! `rediss://` (TLS) needs the feature `redis-tls`
//! ([`FleetBuilder::root_certificate`] for a private CA); a cluster, the
//! feature `redis-cluster`. Sentinel is not supported.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::error::ConfigError;
use crate::hex::hex;
use crate::layer::{HandshakeRequest, Layer};
use crate::rate_limit::OnUnavailable;
use crate::registry::{ConnectionCaps, Control};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// Configures a [`Fleet`].
///
/// | setting | default |
/// |---------|---------|
/// | [`key_prefix`](Self::key_prefix) | `wsguard` |
/// | [`default_deny`](Self::default_deny) | 1 hour, for principals without a known token expiry |
/// | [`resync_interval`](Self::resync_interval) | 5 s |
/// | [`timeout`](Self::timeout) | 250 ms (connect, read, write) |
/// | [`on_unavailable`](Self::on_unavailable) | [`OnUnavailable::FailOpen`] |
/// | [`shared_caps`](Self::shared_caps) | none: only each instance's own caps |
/// | [`lease`](Self::lease) | 15 s, renewed every 5 s |
#[must_use]
#[derive(Debug, Clone)]
pub struct FleetBuilder {
    url: String,
    prefix: String,
    default_deny: Duration,
    resync: Duration,
    timeout: Duration,
    on_unavailable: OnUnavailable,
    caps: Option<ConnectionCaps>,
    lease: Duration,
    root: Option<Vec<u8>>,
    cluster: Vec<String>,
}

/// Takes a lease in every cap's set, unless one is full: drops expired
/// leases first, answers the index (1-based) of the first full set, else
/// 0. KEYS: the sets; ARGV: now, the lease's expiry, the member, then each
/// set's cap.
const TAKE_LEASE: &str = r"
local now, expiry, member = tonumber(ARGV[1]), ARGV[2], ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, expiry, member)
  redis.call('PEXPIREAT', key, expiry, 'GT')
  redis.call('PEXPIREAT', key, expiry, 'NX')
end
return 0
";

/// Renews (`+member`, until ARGV[1]) or gives back (`-member`) leases:
/// KEYS[i] is the set of ARGV[i + 1].
const LEASES: &str = r"
local expiry = ARGV[1]
for i, key in ipairs(KEYS) do
  local op, member = string.sub(ARGV[i + 1], 1, 1), string.sub(ARGV[i + 1], 2)
  if op == '+' then
    redis.call('ZADD', key, expiry, member)
    redis.call('PEXPIREAT', key, expiry, 'GT')
    redis.call('PEXPIREAT', key, expiry, 'NX')
  else
    redis.call('ZREM', key, member)
  end
end
return 0
";

/// Adds a denial (KEYS[1] the list; ARGV: channel, now, until, entry),
/// drops the ended ones, and announces it.
const PUBLISH: &str = r"
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('PUBLISH', ARGV[1], ARGV[4] .. ' ' .. ARGV[3])
return 0
";

/// One connection's lease: the sets it is counted in, while its session lives.
struct Lease {
    keys: Vec<String>,
    control: Weak<Control>,
}

/// The lease a session holds, in its extensions.
#[derive(Clone, Copy, Debug)]
struct LeaseId(u64);

/// Revocations and a deny-list shared by every instance through Redis. See
/// the [module docs](self).
///
/// ```no_run
/// use wsguard::{Guard, fleet::Fleet};
///
/// let fleet = Fleet::builder("redis://redis.internal:6379/").build()?;
/// let guard = Guard::builder().without_auth().layer(fleet.clone()).build()?;
/// // An operator's kick, on any instance:
/// fleet.revoke_principal("alice", None);
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Fleet {
    shared: Arc<Shared>,
    /// Stops the background thread when the last clone goes.
    _owner: Arc<Owner>,
}

struct Shared {
    client: crate::redis_client::Client,
    settings: FleetBuilder,
    deny_key: String,
    channel: String,
    /// Entry → end of its denial (Unix ms).
    deny: Mutex<HashMap<String, u64>>,
    /// Entry → the live sessions it names on this instance.
    live: Mutex<HashMap<String, Vec<Weak<Control>>>>,
    /// Latest token expiry seen per principal entry (Unix ms).
    expiry: Mutex<HashMap<String, u64>>,
    /// Revocations not yet written to Redis.
    pending: Mutex<Vec<(String, u64)>>,
    /// The connection for writes.
    conn: Mutex<Option<crate::redis_client::Conn>>,
    link: crate::redis_client::Link,
    stop: AtomicBool,
    /// This instance's random id, in its lease members.
    instance: String,
    leases: Mutex<HashMap<u64, Lease>>,
    /// Numbers leases and fleet session ids.
    sequence: AtomicU64,
    scripts: Scripts,
}

/// The fleet's scripts: each touches keys of one hash tag, so one slot.
struct Scripts {
    take_lease: redis::Script,
    leases: redis::Script,
    publish: redis::Script,
}

struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Fleet")
            .field("available", &self.shared.link.is_up())
            .field("denied", &lock(&self.shared.deny).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_ms(time: SystemTime) -> u64 {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// The deny-list entry of a principal id (`p`) or a token id (`j`).
fn entry(kind: &str, id: &str) -> String {
    let digest = Sha256::new().chain_update(kind).chain_update(":").chain_update(id).finalize();
    format!("{kind}:{}", hex(&digest, 16))
}

/// The entries naming `session`: its principal, and its token's `jti`.
fn entries(session: &Session) -> Vec<String> {
    let Some(principal) = session.principal() else { return Vec::new() };
    let mut entries = vec![entry("p", &principal.id)];
    if let Some(jti) = principal.claims.get("jti").and_then(serde_json::Value::as_str) {
        entries.push(entry("j", jti));
    }
    entries
}

/// A session's id across the fleet (`s:<instance>:<n>`), in its extensions.
#[derive(Clone, Debug)]
struct FleetSessionId(String);

impl Fleet {
    /// Starts configuring a fleet around the Redis at `url`
    /// (`redis://[user:password@]host:port/db`; ACL users are given in the
    /// URL; `rediss://` for TLS needs the feature `redis-tls`).
    pub fn builder(url: impl Into<String>) -> FleetBuilder {
        FleetBuilder {
            url: url.into(),
            prefix: "wsguard".into(),
            default_deny: Duration::from_secs(3600),
            resync: Duration::from_secs(5),
            timeout: Duration::from_millis(250),
            on_unavailable: OnUnavailable::FailOpen,
            caps: None,
            lease: Duration::from_secs(15),
            root: None,
            cluster: Vec::new(),
        }
    }

    /// Revokes principal `id` on every instance: closes its sessions here
    /// now and elsewhere on receipt, and refuses its handshakes until
    /// `until` (default: the latest expiry of its tokens seen here, else
    /// now plus [`default_deny`](FleetBuilder::default_deny)). Returns how
    /// many sessions it closed on this instance.
    ///
    /// Never fails: when Redis is unreachable the revocation is kept and
    /// published once it is back.
    pub fn revoke_principal(&self, id: &str, until: Option<SystemTime>) -> usize {
        let entry = entry("p", id);
        let until = until.map(unix_ms).or_else(|| lock(&self.shared.expiry).get(&entry).copied());
        self.shared.revoke(entry, until.unwrap_or_else(|| now_ms() + millis(self.shared.settings.default_deny)))
    }

    /// Refuses the token whose `jti` claim is `jti` on every instance until
    /// `until`, and closes the sessions it opened. Returns how many on this
    /// instance.
    pub fn deny_token(&self, jti: &str, until: SystemTime) -> usize {
        self.shared.revoke(entry("j", jti), unix_ms(until))
    }

    /// The session's id across the fleet, for
    /// [`revoke_session`](Self::revoke_session) on any instance (an admin
    /// view lists it beside [`SessionRegistry::list`](crate::SessionRegistry::list)'s
    /// local ids). `None` before the fleet layer admitted it.
    pub fn session_id(session: &Session) -> Option<&str> {
        session.extensions().get::<FleetSessionId>().map(|id| id.0.as_str())
    }

    /// Closes one session (4403), on whichever instance holds it; unlike
    /// [`revoke_principal`](Self::revoke_principal), the principal may
    /// reconnect at once. Returns whether it was on this instance; `false`
    /// as well for an id that is not a fleet session id.
    pub fn revoke_session(&self, id: &str) -> bool {
        if !id.starts_with("s:") {
            return false;
        }
        // A short entry: it only has to reach the live session.
        self.shared.revoke(id.to_owned(), now_ms() + 1000) > 0
    }

    /// Whether the link to Redis is up (the last write or sync succeeded).
    pub fn is_available(&self) -> bool {
        self.shared.link.is_up()
    }

    /// Denials in force on this instance's copy.
    pub fn denied(&self) -> usize {
        let now = now_ms();
        lock(&self.shared.deny).values().filter(|until| **until > now).count()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl FleetBuilder {
    /// The prefix of the keys and channel (default `wsguard`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a revoked principal is refused when no token expiry is
    /// known for it (default 1 hour).
    pub fn default_deny(mut self, duration: Duration) -> Self {
        self.default_deny = duration;
        self
    }

    /// How often the whole deny-list is reloaded, besides the pub/sub
    /// messages (default 5 s); also the longest a dropped subscription
    /// goes unnoticed.
    pub fn resync_interval(mut self, interval: Duration) -> Self {
        self.resync = interval;
        self
    }

    /// The connect, read and write timeout (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What handshakes do while Redis is unreachable (default
    /// [`OnUnavailable::FailOpen`]: trust the local copy).
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// Caps concurrent connections across the fleet: `per_principal`,
    /// `per_ip` (IPv6 grouped by its `ipv6_prefix`) and `global`, counted in
    /// Redis with leases (see the module docs). Each instance's own caps
    /// ([`GuardBuilder::connection_caps`](crate::GuardBuilder::connection_caps))
    /// still apply.
    pub fn shared_caps(mut self, caps: ConnectionCaps) -> Self {
        self.caps = Some(caps);
        self
    }

    /// How long a lease lasts without renewal (default 15 s; renewed every
    /// third of it): the time a crashed instance's connections keep their
    /// places.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// For `rediss://` URLs (feature `redis-tls`): also trust this CA
    /// certificate (PEM), e.g. a private CA's.
    pub fn root_certificate(mut self, pem: &[u8]) -> Self {
        self.root = Some(pem.to_vec());
        self
    }

    /// Uses the Redis Cluster of these nodes (`redis://host:port` each;
    /// feature `redis-cluster`) instead of the builder's URL. Every key of
    /// the fleet carries the prefix as a hash tag, so each script runs in
    /// one slot; subscriptions go to the first node that answers.
    pub fn cluster<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cluster = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// Connects, loads the deny-list and starts the background thread. An
    /// unreachable Redis at start is not an error: the fleet starts
    /// unavailable and keeps trying.
    ///
    /// # Errors
    ///
    /// [`ConfigError::RateLimit`] for an invalid URL or zero intervals.
    pub fn build(self) -> Result<Fleet, ConfigError> {
        let client = crate::redis_client::Client::new(&self.url, &self.cluster, self.root.as_deref())?;
        if self.resync.is_zero() || self.timeout.is_zero() || self.lease < Duration::from_millis(30) {
            return Err(ConfigError::RateLimit { reason: "fleet intervals must be positive".into() });
        }
        let shared = Arc::new(Shared {
            client,
            deny_key: format!("{{{}}}:deny", self.prefix),
            channel: format!("{{{}}}:revoked", self.prefix),
            settings: self,
            deny: Mutex::default(),
            live: Mutex::default(),
            expiry: Mutex::default(),
            pending: Mutex::default(),
            conn: Mutex::new(None),
            link: crate::redis_client::Link::new("fleet"),
            stop: AtomicBool::new(false),
            instance: {
                let mut id = [0u8; 8];
                let _ = getrandom::fill(&mut id);
                hex(&id, 16)
            },
            leases: Mutex::default(),
            sequence: AtomicU64::new(1),
            scripts: Scripts {
                take_lease: redis::Script::new(TAKE_LEASE),
                leases: redis::Script::new(LEASES),
                publish: redis::Script::new(PUBLISH),
            },
        });
        if shared.load().is_err() {
            shared.link.set(false, "connect");
        }
        let thread = shared.clone();
        std::thread::Builder::new()
            .name("wsguard-fleet".into())
            .spawn(move || thread.run())
            .map_err(|e| ConfigError::RateLimit { reason: format!("cannot start the fleet thread: {}", e.kind()) })?;
        Ok(Fleet { _owner: Arc::new(Owner(shared.clone())), shared })
    }
}

impl Shared {
    /// Denies `entry` until `until` here, closes its sessions here, and
    /// publishes it (or keeps it for when Redis is back).
    fn revoke(&self, entry: String, until: u64) -> usize {
        let closed = self.apply(&entry, until);
        if self.publish(&entry, until).is_err() {
            lock(&self.pending).push((entry, until));
        }
        closed
    }

    /// Records a denial and revokes the live sessions it names.
    fn apply(&self, entry: &str, until: u64) -> usize {
        if until <= now_ms() {
            return 0;
        }
        let mut deny = lock(&self.deny);
        let known = deny.entry(entry.to_owned()).or_insert(0);
        *known = (*known).max(until);
        drop(deny);
        let live = lock(&self.live);
        let controls = live.get(entry).map(Vec::as_slice).unwrap_or_default();
        controls.iter().filter_map(Weak::upgrade).filter(|c| !c.is_revoked()).inspect(|c| c.revoke()).count()
    }

    /// Runs `f` on the write connection, connecting if needed.
    fn with_conn<T>(
        &self,
        f: impl Fn(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let mut conn = lock(&self.conn);
        if conn.is_none() {
            *conn = Some(self.client.connect(self.settings.timeout)?);
        }
        let Some(c) = conn.as_mut() else { unreachable!("connected above") };
        let result = f(c.as_mut());
        if result.is_err() {
            *conn = None;
        }
        result
    }

    fn publish(&self, entry: &str, until: u64) -> redis::RedisResult<()> {
        let result = self.with_conn(|c| {
            let mut call = self.scripts.publish.prepare_invoke();
            call.key(&self.deny_key).arg(&self.channel).arg(now_ms()).arg(until).arg(entry);
            call.invoke::<()>(c)
        });
        self.link.record(&result);
        result
    }

    /// Loads the whole deny-list and applies it.
    fn load(&self) -> redis::RedisResult<()> {
        let result = self.with_conn(|c| {
            redis::cmd("ZRANGEBYSCORE")
                .arg(&self.deny_key)
                .arg(now_ms())
                .arg("+inf")
                .arg("WITHSCORES")
                .query::<Vec<(String, f64)>>(c)
        });
        self.link.record(&result);
        for (entry, until) in result? {
            // Scores are whole milliseconds, far below 2^53.
            self.apply(&entry, until as u64);
        }
        let now = now_ms();
        lock(&self.deny).retain(|_, until| *until > now);
        lock(&self.live).retain(|_, controls| {
            controls.retain(|c| c.strong_count() > 0);
            !controls.is_empty()
        });
        Ok(())
    }

    /// Publishes revocations made while Redis was unreachable.
    fn flush_pending(&self) -> redis::RedisResult<()> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        for (i, (entry, until)) in pending.iter().enumerate() {
            if let Err(e) = self.publish(entry, *until) {
                lock(&self.pending).extend_from_slice(&pending[i..]);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The subscriber: applies published revocations as they come, and
    /// reloads the whole list on (re)connection and every resync interval.
    fn run(&self) {
        let backoff = self.settings.resync.min(Duration::from_secs(1));
        while !self.stop.load(Ordering::Relaxed) {
            if let Err(e) = self.subscribe() {
                self.link.set(false, &format!("{:?}", e.kind()));
                let until = Instant::now() + backoff;
                while Instant::now() < until && !self.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// One subscription, until it fails or the fleet is dropped.
    fn subscribe(&self) -> redis::RedisResult<()> {
        let mut conn = self.client.subscriber(self.settings.timeout)?;
        let mut pubsub = conn.as_pubsub();
        pubsub.subscribe(&self.channel)?;
        // Subscribed first, then caught up: nothing falls in between.
        self.flush_pending()?;
        self.load()?;
        let beat = self.settings.lease / 3;
        pubsub.set_read_timeout(Some(self.settings.resync.min(beat).min(Duration::from_secs(1))))?;
        self.renew_leases()?;
        let mut next_load = Instant::now() + self.settings.resync;
        let mut next_beat = Instant::now() + beat;
        while !self.stop.load(Ordering::Relaxed) {
            match pubsub.get_message() {
                Ok(message) => {
                    let payload: String = message.get_payload()?;
                    if let Some((entry, until)) = payload.split_once(' ')
                        && let Ok(until) = until.parse()
                    {
                        self.apply(entry, until);
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= next_beat {
                self.renew_leases()?;
                next_beat = Instant::now() + beat;
            }
            if Instant::now() >= next_load {
                self.flush_pending()?;
                self.load()?;
                next_load = Instant::now() + self.settings.resync;
            }
        }
        Ok(())
    }

    /// The sets a session is counted in under the shared caps, with each
    /// set's cap.
    fn cap_keys(&self, session: &Session) -> Vec<(String, u32)> {
        let Some(caps) = &self.settings.caps else { return Vec::new() };
        let prefix = &self.settings.prefix;
        let mut keys = Vec::new();
        if let (Some(cap), Some(principal)) = (caps.per_principal, session.principal()) {
            keys.push((format!("{{{prefix}}}:conn:{}", entry("p", &principal.id)), cap));
        }
        if let (Some(cap), Some(ip)) = (caps.per_ip, caps.ip_key(session.peer_addr())) {
            keys.push((format!("{{{prefix}}}:conn:{}", entry("ip", &ip.to_string())), cap));
        }
        if let Some(cap) = caps.global {
            keys.push((format!("{{{prefix}}}:conn:all"), cap));
        }
        keys
    }

    /// Takes a lease for `session`: `Ok(true)` when admitted, `Ok(false)`
    /// when a shared cap is full.
    fn take_lease(&self, session: &mut Session) -> redis::RedisResult<bool> {
        let keys = self.cap_keys(session);
        let Some(control) = session.ticket().map(|t| Arc::downgrade(&t.control)) else { return Ok(true) };
        if keys.is_empty() {
            return Ok(true);
        }
        let id = self.sequence.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let full: usize = self.with_conn(|c| {
            let mut call = self.scripts.take_lease.prepare_invoke();
            call.arg(now).arg(now + millis(self.settings.lease)).arg(format!("{}:{id}", self.instance));
            for (key, cap) in &keys {
                call.key(key).arg(*cap);
            }
            call.invoke(c)
        })?;
        if full > 0 {
            return Ok(false);
        }
        let keys = keys.into_iter().map(|(key, _)| key).collect();
        lock(&self.leases).insert(id, Lease { keys, control });
        session.extensions_mut().insert(LeaseId(id));
        Ok(true)
    }

    /// Renews the leases of live sessions, and gives back those of sessions
    /// that ended unnoticed.
    fn renew_leases(&self) -> redis::RedisResult<()> {
        let expiry = now_ms() + millis(self.settings.lease);
        let (live, dead): (Vec<_>, Vec<_>) = {
            let mut leases = lock(&self.leases);
            let dead: Vec<(u64, Lease)> = {
                let ids: Vec<u64> =
                    leases.iter().filter(|(_, l)| l.control.strong_count() == 0).map(|(id, _)| *id).collect();
                ids.into_iter().filter_map(|id| leases.remove(&id).map(|l| (id, l))).collect()
            };
            let live: Vec<(u64, Vec<String>)> = leases.iter().map(|(id, l)| (*id, l.keys.clone())).collect();
            (live, dead)
        };
        if live.is_empty() && dead.is_empty() {
            return Ok(());
        }
        let mut call = self.scripts.leases.prepare_invoke();
        call.arg(expiry);
        for (id, keys) in &live {
            for key in keys {
                call.key(key).arg(format!("+{}:{id}", self.instance));
            }
        }
        for (id, lease) in &dead {
            for key in &lease.keys {
                call.key(key).arg(format!("-{}:{id}", self.instance));
            }
        }
        self.with_conn(|c| call.invoke::<()>(c))
    }

    /// Gives a closed session's lease back (if Redis is unreachable, it
    /// expires by itself).
    fn give_back(&self, session: &Session) {
        let Some(LeaseId(id)) = session.extensions().get::<LeaseId>().copied() else { return };
        let Some(lease) = lock(&self.leases).remove(&id) else { return };
        let mut call = self.scripts.leases.prepare_invoke();
        call.arg(0);
        for key in &lease.keys {
            call.key(key).arg(format!("-{}:{id}", self.instance));
        }
        let _ = self.with_conn(|c| call.invoke::<()>(c));
    }

    /// Forgets a session that ends, and any that ended unnoticed.
    fn forget(&self, session: &Session) {
        let this = session.ticket().map(|t| Arc::downgrade(&t.control));
        let id = Fleet::session_id(session).map(str::to_owned);
        let mut live = lock(&self.live);
        for entry in entries(session).into_iter().chain(id) {
            if let Some(controls) = live.get_mut(&entry) {
                controls.retain(|c| c.strong_count() > 0 && !this.as_ref().is_some_and(|t| t.ptr_eq(c)));
                if controls.is_empty() {
                    live.remove(&entry);
                }
            }
        }
    }
}

impl Layer for Fleet {
    fn name(&self) -> &'static str {
        "fleet"
    }

    /// Refuses a denied principal or token (403, "access revoked"), or any
    /// principal while Redis is unreachable under fail-closed (503), and
    /// remembers the session so that a revocation from elsewhere reaches it.
    fn on_handshake(&self, _: &HandshakeRequest, session: &mut Session, _: Instant) -> Result<(), Rejection> {
        let shared = &self.shared;
        let entries = entries(session);
        let available = shared.link.is_up();
        let fail_closed = shared.settings.on_unavailable == OnUnavailable::FailClosed;
        if !entries.is_empty() {
            let now = now_ms();
            let deny = lock(&shared.deny);
            let denied = entries.iter().any(|e| deny.get(e).is_some_and(|until| *until > now));
            drop(deny);
            if denied {
                return Err(Rejection::new(RejectionKind::Forbidden, "access revoked"));
            }
            if fail_closed && !available {
                return Err(Rejection::new(RejectionKind::Overloaded, "revocation list unavailable"));
            }
            if let Some(expires) = session.principal().and_then(|p| p.expires_at) {
                let mut expiry = lock(&shared.expiry);
                let known = expiry.entry(entries[0].clone()).or_insert(0);
                *known = (*known).max(unix_ms(expires));
            }
        }
        // While Redis is known to be down, the caps do not try it on every
        // handshake: the background thread notices its return.
        let lease = if available {
            shared.take_lease(session)
        } else {
            Err(redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::NotConnected)))
        };
        match lease {
            Ok(true) => {}
            Ok(false) => return Err(Rejection::new(RejectionKind::RateLimited, "too many connections")),
            Err(e) => {
                shared.link.set(false, &format!("{:?}", e.kind()));
                if fail_closed && shared.settings.caps.is_some() {
                    return Err(Rejection::new(RejectionKind::Overloaded, "connection caps unavailable"));
                }
            }
        }
        if let Some(ticket) = session.ticket() {
            let control = Arc::downgrade(&ticket.control);
            let id = format!("s:{}:{}", shared.instance, shared.sequence.fetch_add(1, Ordering::Relaxed));
            let mut live = lock(&shared.live);
            for entry in entries.into_iter().chain([id.clone()]) {
                live.entry(entry).or_default().push(control.clone());
            }
            drop(live);
            session.extensions_mut().insert(FleetSessionId(id));
        }
        Ok(())
    }

    fn on_close(&self, session: &mut Session, _: Option<crate::CloseCode>) {
        self.shared.forget(session);
        self.shared.give_back(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hide_the_id_and_differ_by_kind() {
        let p = entry("p", "alice@example.com");
        assert!(p.starts_with("p:") && p.len() == 18 && !p.contains("alice"), "{p}");
        assert_ne!(p, entry("j", "alice@example.com"));
        assert_eq!(p, entry("p", "alice@example.com"));
    }
}
