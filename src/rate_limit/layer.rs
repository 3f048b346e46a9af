//! [`RateLimit`]: quotas on messages and bytes, and on new connections.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::Quota;
use super::gcra::{self, Refusal};
use super::store::{KeyId, MemoryStore, StoreKey};
use crate::error::ConfigError;
use crate::layer::{self, Discriminator, HandshakeRequest, Layer};
use crate::message::Frame;
use crate::outcome::{ErrorReply, Outcome};
use crate::rejection::{Rejection, RejectionKind};
use crate::schema::StructureLimits;
use crate::session::Session;

/// What a quota is counted per.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Each connection on its own (state in the session, no shared store).
    Connection,
    /// Each authenticated principal, across its connections; anonymous
    /// sessions are counted per connection.
    Principal,
    /// Each peer address (IPv6 grouped by the builder's
    /// [prefix](RateLimitBuilder::ipv6_prefix)); sessions without a peer
    /// address are counted per connection.
    Ip,
}

/// What one message costs in a quota.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 1 per message.
    Messages,
    /// The message's length in bytes.
    Bytes,
}

/// One quota and what it counts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    pub(crate) quota: Quota,
    pub(crate) unit: Unit,
    pub(crate) per: Per,
    #[serde(default, rename = "type")]
    pub(crate) message_type: Option<String>,
}

/// The rule index of the handshake quota in store keys.
pub(crate) const HANDSHAKE_RULE: u16 = u16::MAX;

/// At most this many quotas (a message's admitted shared quotas are a bit
/// set, so refunds need no allocation).
const MAX_RULES: usize = 64;

/// Builds a [`RateLimit`]. Reusable: [`build`](Self::build) borrows it.
///
/// | setting | default |
/// |---------|---------|
/// | [`quota`](Self::quota), [`quota_for_type`](Self::quota_for_type) | none: every message passes |
/// | [`handshakes_per_ip`](Self::handshakes_per_ip) | 10 per second, burst 20 |
/// | [`close_after`](Self::close_after) | 10 consecutive refused messages |
/// | close code | 4429 ([`RejectionKind::RateLimited`]); [`close_with_1013`](Self::close_with_1013) |
/// | [`discriminator`](Self::discriminator) | `/type` |
/// | [`structure`](Self::structure) | [`StructureLimits::default()`]: depth 32, strings 16 KiB, 1,024 items, 256 keys |
/// | [`ipv6_prefix`](Self::ipv6_prefix) | 64 |
/// | [`max_keys`](Self::max_keys) | 100,000 |
/// | store | in memory; `redis` with the `redis` feature |
///
/// Deserializes from configuration (all fields optional, names as below):
///
/// ```
/// # use wsguard::rate_limit::RateLimitBuilder;
/// let builder: RateLimitBuilder = serde_json::from_str(r#"{
///     "quotas": [
///         {"quota": {"per_second": 20}, "unit": "messages", "per": "connection"},
///         {"quota": {"per_second": 1048576}, "unit": "bytes", "per": "principal"},
///         {"quota": {"per_second": 5}, "unit": "messages", "per": "connection", "type": "typing"}
///     ],
///     "handshakes_per_ip": {"per_second": 10, "burst": 20},
///     "close_after": 10
/// }"#).unwrap();
/// let limit = builder.build().unwrap();
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[must_use]
pub struct RateLimitBuilder {
    quotas: Vec<Rule>,
    handshakes_per_ip: Option<Quota>,
    close_after: NonZeroU32,
    close_with_1013: bool,
    discriminator: Discriminator,
    structure: StructureLimits,
    ipv6_prefix: u8,
    max_keys: usize,
    #[cfg(feature = "redis")]
    redis: Option<super::redis::RedisConfig>,
}

impl Default for RateLimitBuilder {
    fn default() -> Self {
        Self {
            quotas: Vec::new(),
            handshakes_per_ip: Some(Quota::per_second(nz(10)).allow_burst(nz(20))),
            close_after: nz(10),
            close_with_1013: false,
            discriminator: Discriminator::default(),
            structure: StructureLimits::default(),
            ipv6_prefix: 64,
            max_keys: 100_000,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimitBuilder {
    /// Adds a quota on messages or bytes per connection, principal or IP.
    /// A message must fit every quota that applies to it.
    pub fn quota(mut self, quota: Quota, unit: Unit, per: Per) -> Self {
        self.quotas.push(Rule { quota, unit, per, message_type: None });
        self
    }

    /// Adds a quota that counts only messages of `message_type` (found by
    /// the [discriminator](Self::discriminator)).
    pub fn quota_for_type(mut self, message_type: impl Into<String>, quota: Quota, unit: Unit, per: Per) -> Self {
        self.quotas.push(Rule { quota, unit, per, message_type: Some(message_type.into()) });
        self
    }

    /// New connections per IP, checked at the handshake before
    /// authentication (default 10 per second, burst 20); `None` turns it off.
    pub fn handshakes_per_ip(mut self, quota: Option<Quota>) -> Self {
        self.handshakes_per_ip = quota;
        self
    }

    /// Consecutive refused messages that close the connection (default 10).
    /// A message that passes starts the count again.
    pub fn close_after(mut self, violations: NonZeroU32) -> Self {
        self.close_after = violations;
        self
    }

    /// Close with 1013 "try again later" ([`RejectionKind::Overloaded`])
    /// instead of 4429 ([`RejectionKind::RateLimited`]).
    pub fn close_with_1013(mut self) -> Self {
        self.close_with_1013 = true;
        self
    }

    /// Where the message type is, for [`quota_for_type`](Self::quota_for_type)
    /// (default `/type`; the same as schema validation's).
    pub fn discriminator(mut self, discriminator: Discriminator) -> Self {
        self.discriminator = discriminator;
        self
    }

    /// The shapes a message may have for the rate limit to parse it and
    /// find its type (default [`StructureLimits::default()`], as schema
    /// validation's). The rate limit runs before schema validation, so this
    /// keeps parser bombs from being parsed there; a message over them
    /// counts only under quotas without a type, and schema validation then
    /// refuses it. Give it the same limits as schema validation.
    pub fn structure(mut self, limits: StructureLimits) -> Self {
        self.structure = limits;
        self
    }

    /// The prefix length IPv6 peers are grouped by (default 64: one
    /// subscriber usually gets a whole /64). At most 128.
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits;
        self
    }

    /// The most principal and IP keys kept in memory (default 100,000,
    /// rounded up to a multiple of 64). See the
    /// [module docs](super#memory) for what a key costs.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// Shares the per-principal and per-IP quotas with other instances
    /// through Redis (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn redis(mut self, config: super::redis::RedisConfig) -> Self {
        self.redis = Some(config);
        self
    }

    /// The layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError::RateLimit`] for more than 64 quotas, an IPv6 prefix
    /// over 128, or (with `redis`) an unusable Redis URL or a background
    /// thread that cannot start.
    pub fn build(&self) -> Result<RateLimit, ConfigError> {
        let invalid = |reason: &str| Err(ConfigError::RateLimit { reason: reason.to_owned() });
        if self.quotas.len() > MAX_RULES {
            return invalid("at most 64 quotas");
        }
        if self.ipv6_prefix > 128 {
            return invalid("the IPv6 prefix is at most 128 bits");
        }
        #[cfg(feature = "redis")]
        let redis = self
            .redis
            .as_ref()
            .map(|c| super::redis::Sync::new(c.clone(), &self.quotas, self.handshakes_per_ip))
            .transpose()?;
        #[cfg(not(feature = "redis"))]
        let tracks_pending = false;
        #[cfg(feature = "redis")]
        let tracks_pending = redis.is_some();
        let inner = Arc::new(Inner {
            rules: self.quotas.clone(),
            typed: self.quotas.iter().any(|r| r.message_type.is_some()),
            handshakes: self.handshakes_per_ip,
            violations: self.close_after,
            close_kind: if self.close_with_1013 { RejectionKind::Overloaded } else { RejectionKind::RateLimited },
            discriminator: self.discriminator.clone(),
            structure: self.structure,
            ipv6_prefix: self.ipv6_prefix,
            store: MemoryStore::new(self.max_keys, tracks_pending),
            epoch: OnceLock::new(),
            #[cfg(feature = "redis")]
            redis,
        });
        #[cfg(feature = "redis")]
        super::redis::Sync::spawn(&inner)?;
        Ok(RateLimit { inner })
    }
}

/// Rate limiting: quotas per connection, principal, IP and message type,
/// and new connections per IP at the handshake.
///
/// # Cloning
///
/// Clones share the quotas and the store: build one and add it to the
/// guard (or share it between guards in one process).
#[derive(Clone, Debug)]
pub struct RateLimit {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) rules: Vec<Rule>,
    typed: bool,
    pub(crate) handshakes: Option<Quota>,
    violations: NonZeroU32,
    close_kind: RejectionKind,
    discriminator: Discriminator,
    structure: StructureLimits,
    ipv6_prefix: u8,
    pub(crate) store: MemoryStore,
    /// The instant nanosecond 0 stands for: the first one seen.
    epoch: OnceLock<Instant>,
    #[cfg(feature = "redis")]
    pub(crate) redis: Option<super::redis::Sync>,
}

impl Inner {
    /// `now` as nanoseconds on the store's time base.
    pub(crate) fn nanos(&self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_init(|| now);
        u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether shared quotas must refuse because their store is down
    /// (fail-closed), and for how long to tell clients to wait.
    fn shared_unavailable(&self) -> Option<Duration> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            return redis.refusing();
        }
        None
    }
}

/// Per-connection state, in the session's extensions.
#[derive(Clone, Debug, Default)]
struct ConnectionState {
    /// The principal the keys were made for.
    principal: Option<Box<str>>,
    /// Per rule: the shared key, or `None` when counted here, in `tats`.
    /// Empty until the first message.
    keys: Vec<Option<StoreKey>>,
    tats: Vec<u64>,
    consecutive: u32,
}

impl RateLimit {
    /// A builder with the defaults.
    pub fn builder() -> RateLimitBuilder {
        RateLimitBuilder::default()
    }

    fn ip(&self, session: &Session) -> Option<IpAddr> {
        session.peer_addr().map(|a| layer::client_group(a.ip(), self.inner.ipv6_prefix))
    }

    /// Makes the connection's shared keys, once per connection and again
    /// if its principal changes.
    fn rekey(&self, state: &mut ConnectionState, principal: Option<&str>, ip: Option<IpAddr>) {
        let inner = &self.inner;
        state.principal = principal.map(Box::from);
        state.tats.resize(inner.rules.len(), 0);
        state.keys = (0..inner.rules.len())
            .map(|k| {
                let rule = u16::try_from(k).unwrap_or(HANDSHAKE_RULE);
                let id = match (inner.rules[k].per, principal, ip) {
                    (Per::Principal, Some(p), _) => KeyId::Principal(rule, p.into()),
                    (Per::Ip, _, Some(ip)) => KeyId::Ip(rule, ip),
                    _ => return None,
                };
                Some(inner.store.key(id))
            })
            .collect();
    }
}

impl Layer for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn on_handshake(&self, _: &HandshakeRequest, session: &mut Session, now: Instant) -> Result<(), Rejection> {
        let inner = &self.inner;
        let (Some(quota), Some(ip)) = (inner.handshakes, self.ip(session)) else { return Ok(()) };
        if let Some(wait) = inner.shared_unavailable() {
            return Err(Rejection::new(RejectionKind::Overloaded, "rate limiting unavailable").with_retry_after(wait));
        }
        let key = inner.store.key(KeyId::Ip(HANDSHAKE_RULE, ip));
        match inner.store.check(&key, inner.nanos(now), &quota, 1) {
            Ok(()) => Ok(()),
            Err(Refusal::Wait(wait)) => {
                Err(Rejection::new(RejectionKind::RateLimited, "too many connections").with_retry_after(wait))
            }
            Err(Refusal::TooLarge) => Err(Rejection::new(RejectionKind::RateLimited, "too many connections")),
        }
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        let inner = &*self.inner;
        if inner.rules.is_empty() {
            return Outcome::Pass;
        }
        let at = inner.nanos(now);
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        // Parsed (once, shared with later layers) only within the structural
        // limits: schema validation runs after this layer.
        let parsable = inner.typed && !frame.is_binary() && frame.check_structure(&inner.structure).is_ok();
        let message_type = if parsable { frame.message_type(&inner.discriminator) } else { None };
        let principal = session.principal().map(|p| p.id.as_str());
        let stale = session
            .extensions()
            .get::<ConnectionState>()
            .is_none_or(|s| s.keys.is_empty() || s.principal.as_deref() != principal);
        let fresh = stale.then(|| (principal.map(Box::<str>::from), self.ip(session)));
        let state = session.extensions_mut().get_or_insert_default::<ConnectionState>();
        if let Some((principal, ip)) = fresh {
            self.rekey(state, principal.as_deref(), ip);
        }
        let applies = |rule: &Rule| rule.message_type.is_none() || rule.message_type.as_deref() == message_type;
        let cost = |rule: &Rule| match rule.unit {
            Unit::Messages => 1,
            Unit::Bytes => len,
        };
        // A refused message costs nothing. Quotas counted here are tried on
        // copies first and committed last; shared ones are taken, and given
        // back if a later quota refuses.
        let mut refusal = None;
        for (k, rule) in inner.rules.iter().enumerate() {
            if state.keys[k].is_none()
                && applies(rule)
                && let Err(r) = gcra::check(&mut state.tats[k].clone(), at, &rule.quota, cost(rule))
            {
                refusal = Some(r);
                break;
            }
        }
        if refusal.is_none() {
            let mut taken = 0u64;
            let unavailable = inner.shared_unavailable();
            for (k, rule) in inner.rules.iter().enumerate() {
                let Some(key) = state.keys[k].as_ref().filter(|_| applies(rule)) else { continue };
                let result = match unavailable {
                    Some(wait) => Err(Refusal::Wait(wait)),
                    None => inner.store.check(key, at, &rule.quota, cost(rule)),
                };
                match result {
                    Ok(()) => taken |= 1 << k,
                    Err(r) => {
                        refusal = Some(r);
                        break;
                    }
                }
            }
            if refusal.is_some() {
                for (k, rule) in inner.rules.iter().enumerate().filter(|(k, _)| taken & (1 << k) != 0) {
                    if let Some(key) = &state.keys[k] {
                        inner.store.refund(key, &rule.quota, cost(rule));
                    }
                }
            }
        }
        let Some(refusal) = refusal else {
            for (k, rule) in inner.rules.iter().enumerate() {
                if state.keys[k].is_none() && applies(rule) {
                    // Admitted on a copy above, so this cannot refuse.
                    let _ = gcra::check(&mut state.tats[k], at, &rule.quota, cost(rule));
                }
            }
            state.consecutive = 0;
            return Outcome::Pass;
        };
        state.consecutive = state.consecutive.saturating_add(1);
        if state.consecutive >= inner.violations.get() {
            return Outcome::Close(Rejection::new(inner.close_kind, "rate limit exceeded"));
        }
        Outcome::drop_with(match refusal {
            Refusal::Wait(wait) => ErrorReply::rate_limited(wait),
            // Larger than the burst: waiting would not make it fit.
            Refusal::TooLarge => ErrorReply::too_large(),
        })
    }
}
