//! [`RateLimit`]: quotas on messages and bytes, and on new connections.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::Quota;
use super::gcra::{self, Refusal};
use super::store::MemoryStore;
use crate::layer::{self, Discriminator, HandshakeRequest, Layer};
use crate::message::Frame;
use crate::outcome::{ErrorReply, Outcome};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// What a quota is counted per.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Per {
    /// Each connection on its own (state in the session, no shared store).
    Connection,
    /// Each authenticated principal, across its connections; anonymous
    /// sessions are counted per connection.
    Principal,
    /// Each peer address (IPv6 grouped by the builder's prefix).
    Ip,
}

/// What one message costs in a quota.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// 1 per message.
    Messages,
    /// The message's length in bytes.
    Bytes,
}

#[derive(Clone, Debug)]
struct Rule {
    quota: Quota,
    per: Per,
    unit: Unit,
    message_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Principal(usize, String),
    Ip(usize, IpAddr),
}

/// Builds a [`RateLimit`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RateLimitBuilder {
    rules: Vec<Rule>,
    handshakes: Option<Quota>,
    violations: NonZeroU32,
    close_kind: RejectionKind,
    discriminator: Discriminator,
    ipv6_prefix: u8,
    max_keys: usize,
}

impl Default for RateLimitBuilder {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            handshakes: Some(
                Quota::per_second(NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN)),
            ),
            violations: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            close_kind: RejectionKind::RateLimited,
            discriminator: Discriminator::default(),
            ipv6_prefix: 64,
            max_keys: 100_000,
        }
    }
}

impl RateLimitBuilder {
    /// Adds a quota on messages or bytes per connection, principal or IP.
    pub fn quota(mut self, quota: Quota, unit: Unit, per: Per) -> Self {
        self.rules.push(Rule { quota, per, unit, message_type: None });
        self
    }

    /// Adds a quota that counts only messages of `message_type` (by the
    /// discriminator, default `/type`).
    pub fn quota_for_type(mut self, message_type: impl Into<String>, quota: Quota, unit: Unit, per: Per) -> Self {
        self.rules.push(Rule { quota, per, unit, message_type: Some(message_type.into()) });
        self
    }

    /// New connections per IP, checked at the handshake before
    /// authentication (default 10 per second, burst 20); `None` turns it off.
    pub fn handshakes_per_ip(mut self, quota: Option<Quota>) -> Self {
        self.handshakes = quota;
        self
    }

    /// Consecutive refused messages that close the connection (default 10).
    pub fn close_after(mut self, violations: NonZeroU32) -> Self {
        self.violations = violations;
        self
    }

    /// Close with 1013 "try again later" instead of 4429.
    pub fn close_with_1013(mut self) -> Self {
        self.close_kind = RejectionKind::Overloaded;
        self
    }

    /// The message type's location, for [`quota_for_type`](Self::quota_for_type).
    pub fn discriminator(mut self, discriminator: Discriminator) -> Self {
        self.discriminator = discriminator;
        self
    }

    /// The prefix IPv6 peers are grouped by (default /64: one subscriber).
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.min(128);
        self
    }

    /// The most principal and IP keys kept in memory (default 100,000).
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// The layer.
    pub fn build(&self) -> RateLimit {
        RateLimit {
            inner: Arc::new(Inner {
                rules: self.rules.clone(),
                handshakes: self.handshakes,
                violations: self.violations,
                close_kind: self.close_kind,
                discriminator: self.discriminator.clone(),
                ipv6_prefix: self.ipv6_prefix,
                store: MemoryStore::new(self.max_keys),
                epoch: OnceLock::new(),
            }),
        }
    }
}

/// Rate limiting: quotas per connection, principal, IP and message type,
/// and new connections per IP at the handshake.
#[derive(Clone, Debug)]
pub struct RateLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<Rule>,
    handshakes: Option<Quota>,
    violations: NonZeroU32,
    close_kind: RejectionKind,
    discriminator: Discriminator,
    ipv6_prefix: u8,
    store: MemoryStore<Key>,
    /// The instant nanosecond 0 stands for: the first one seen.
    epoch: OnceLock<Instant>,
}

/// Per-connection state, in the session's extensions.
#[derive(Clone, Debug, Default)]
struct ConnectionState {
    tats: Vec<u64>,
    consecutive: u32,
}

impl RateLimit {
    /// A builder with the defaults.
    pub fn builder() -> RateLimitBuilder {
        RateLimitBuilder::default()
    }

    fn nanos(&self, now: Instant) -> u64 {
        let epoch = *self.inner.epoch.get_or_init(|| now);
        u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn ip(&self, session: &Session) -> Option<IpAddr> {
        session.peer_addr().map(|a| match a.ip() {
            IpAddr::V6(v6) => layer::mask(IpAddr::V6(v6), self.inner.ipv6_prefix),
            v4 => v4,
        })
    }
}

impl Layer for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn on_handshake(&self, _: &HandshakeRequest, session: &mut Session, now: Instant) -> Result<(), Rejection> {
        let (Some(quota), Some(ip)) = (self.inner.handshakes, self.ip(session)) else { return Ok(()) };
        match self.inner.store.check(&Key::Ip(usize::MAX, ip), self.nanos(now), &quota, 1) {
            Ok(()) => Ok(()),
            Err(Refusal::Wait(wait)) => {
                Err(Rejection::new(RejectionKind::RateLimited, "too many connections").with_retry_after(wait))
            }
            Err(Refusal::TooLarge) => Err(Rejection::new(RejectionKind::RateLimited, "too many connections")),
        }
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        let inner = &self.inner;
        let at = self.nanos(now);
        let typed = inner.rules.iter().any(|r| r.message_type.is_some());
        let message_type: Option<String> = if typed {
            frame.json().and_then(|v| inner.discriminator.message_type(v)).map(str::to_owned)
        } else {
            None
        };
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let principal = session.principal().map(|p| p.id.clone());
        let ip = self.ip(session);
        let mut state = session.extensions_mut().remove::<ConnectionState>().unwrap_or_default();
        state.tats.resize(inner.rules.len(), 0);
        // A refused message costs nothing: connection quotas are decided on
        // a copy, shared ones are refunded if a later quota refuses.
        let mut tats = state.tats.clone();
        let mut taken: Vec<(Key, usize, u32)> = Vec::new();
        let mut refusal = None;
        for (k, rule) in inner.rules.iter().enumerate() {
            if rule.message_type.is_some() && rule.message_type != message_type {
                continue;
            }
            let cost = match rule.unit {
                Unit::Messages => 1,
                Unit::Bytes => len,
            };
            let key = match (rule.per, &principal, ip) {
                (Per::Principal, Some(p), _) => Some(Key::Principal(k, p.clone())),
                (Per::Ip, _, Some(ip)) => Some(Key::Ip(k, ip)),
                _ => None,
            };
            let result = match &key {
                Some(key) => inner.store.check(key, at, &rule.quota, cost),
                None => gcra::check(&mut tats[k], at, &rule.quota, cost),
            };
            match (result, key) {
                (Ok(()), Some(key)) => taken.push((key, k, cost)),
                (Ok(()), None) => {}
                (Err(r), _) => {
                    refusal = Some(r);
                    break;
                }
            }
        }
        if refusal.is_some() {
            for (key, k, cost) in &taken {
                inner.store.refund(key, &inner.rules[*k].quota, *cost);
            }
        } else {
            state.tats = tats;
        }
        let outcome = match refusal {
            None => {
                state.consecutive = 0;
                Outcome::Pass
            }
            Some(r) => {
                state.consecutive += 1;
                if state.consecutive >= inner.violations.get() {
                    Outcome::Close(Rejection::new(inner.close_kind, "rate limit exceeded"))
                } else {
                    let wait = match r {
                        Refusal::Wait(wait) => wait,
                        Refusal::TooLarge => std::time::Duration::ZERO,
                    };
                    Outcome::drop_with(ErrorReply::rate_limited(wait))
                }
            }
        };
        session.extensions_mut().insert(state);
        outcome
    }
}
