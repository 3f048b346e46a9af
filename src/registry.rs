//! Live sessions: listing, revocation and concurrent-connection caps.
//!
//! Every connection that passes [`Guard::check_handshake`](crate::Guard::check_handshake)
//! is registered in its guard's [`SessionRegistry`] until its [`Session`] is
//! dropped. The registry enforces [`ConnectionCaps`] and lets an operator
//! list sessions and revoke them ("log this user out everywhere now").

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::rejection::{Rejection, RejectionKind};
use crate::session::{ConnectionId, Session};

/// Maximum numbers of concurrent connections, checked at the handshake.
///
/// A connection over a cap is refused with [`RejectionKind::RateLimited`]:
/// HTTP 429, or close code 4429 in accept-then-close mode. `None` means no cap.
///
/// | field | default |
/// |-------|---------|
/// | [`per_principal`](Self::per_principal) | 5 |
/// | [`per_ip`](Self::per_ip) | 20 |
/// | [`global`](Self::global) | none |
/// | [`ipv6_prefix`](Self::ipv6_prefix) | 64 |
///
/// # Examples
///
/// ```
/// use wsguard::ConnectionCaps;
///
/// let caps = ConnectionCaps::default().per_ip(Some(100)).global(Some(10_000));
/// assert_eq!(caps.per_principal, Some(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ConnectionCaps {
    /// Connections one authenticated principal may hold at once. Default 5.
    pub per_principal: Option<u32>,
    /// Connections one peer IP address may hold at once. Default 20.
    pub per_ip: Option<u32>,
    /// Connections the guard accepts at once, in all. Default: no cap.
    pub global: Option<u32>,
    /// The prefix length IPv6 peers are counted by for
    /// [`per_ip`](Self::per_ip). Default 64, as the rate limits'
    /// [`ipv6_prefix`](crate::rate_limit::RateLimitBuilder::ipv6_prefix):
    /// one subscriber usually gets a whole /64, so counting full addresses
    /// would let one host open `per_ip` connections from each of 2^64
    /// addresses. IPv4-mapped addresses count as IPv4. At most 128.
    pub ipv6_prefix: u8,
}

impl Default for ConnectionCaps {
    fn default() -> Self {
        Self { per_principal: Some(5), per_ip: Some(20), global: None, ipv6_prefix: 64 }
    }
}

impl ConnectionCaps {
    /// No caps at all.
    pub const fn unlimited() -> Self {
        Self { per_principal: None, per_ip: None, global: None, ipv6_prefix: 64 }
    }

    /// Sets the per-principal cap.
    #[must_use]
    pub const fn per_principal(mut self, cap: Option<u32>) -> Self {
        self.per_principal = cap;
        self
    }

    /// Sets the per-IP cap.
    #[must_use]
    pub const fn per_ip(mut self, cap: Option<u32>) -> Self {
        self.per_ip = cap;
        self
    }

    /// Sets the prefix length IPv6 peers are grouped by.
    #[must_use]
    pub const fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits;
        self
    }

    /// Sets the global cap.
    #[must_use]
    pub const fn global(mut self, cap: Option<u32>) -> Self {
        self.global = cap;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let caps =
            [("caps.per_principal", self.per_principal), ("caps.per_ip", self.per_ip), ("caps.global", self.global)];
        match caps.into_iter().find(|(_, cap)| *cap == Some(0)) {
            Some((name, _)) => Err(ConfigError::InvalidLimit {
                name,
                reason: "a cap of 0 refuses every connection; use None for no cap",
            }),
            None if self.ipv6_prefix > 128 => Err(ConfigError::InvalidLimit {
                name: "caps.ipv6_prefix",
                reason: "an IPv6 prefix is at most 128 bits",
            }),
            None => Ok(()),
        }
    }

    /// The key a peer's connections are counted under.
    pub(crate) fn ip_key(&self, peer: Option<SocketAddr>) -> Option<IpAddr> {
        peer.map(|a| crate::layer::client_group(a.ip(), self.ipv6_prefix))
    }
}

/// One live session, as listed by [`SessionRegistry::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The connection id.
    pub id: ConnectionId,
    /// The authenticated principal's id, once there is one.
    pub principal: Option<String>,
    /// The peer's address, when known.
    pub peer_addr: Option<SocketAddr>,
    /// When the connection was accepted, by the guard's clock.
    pub connected_at: Instant,
    /// Whether the session has been revoked and is closing.
    pub revoked: bool,
}

/// The live sessions of one guard. Obtain it with
/// [`Guard::sessions`](crate::Guard::sessions).
///
/// # Revocation
///
/// [`revoke`](Self::revoke) and [`revoke_principal`](Self::revoke_principal)
/// mark sessions revoked. A revoked session is closed with 4403 ("session
/// revoked"): at once by the tokio adapter while the application polls the
/// stream (the connection's revocation waker wakes it), and within a second
/// by the blocking adapter while `read` waits (a blocking read cannot be
/// woken; it polls). Revocation ends sessions,
/// not credentials: reject the token in your verifier too if the user must
/// not reconnect.
///
/// # Cloning
///
/// Clones share the same registry.
#[derive(Clone, Default)]
pub struct SessionRegistry {
    inner: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    caps: ConnectionCaps,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<ConnectionId, Entry>,
    per_ip: HashMap<IpAddr, u32>,
    per_principal: HashMap<String, u32>,
}

struct Entry {
    principal: Option<String>,
    peer_addr: Option<SocketAddr>,
    connected_at: Instant,
    control: Arc<Control>,
}

/// The part of a registered session that other threads may touch.
#[derive(Debug, Default)]
pub(crate) struct Control {
    revoked: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Control {
    pub(crate) fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Wakes `waker`'s task when the session is revoked.
    pub(crate) fn register_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(current) if current.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    pub(crate) fn revoke(&self) {
        self.revoked.store(true, Ordering::Release);
        if let Some(waker) = self.waker.lock().unwrap_or_else(PoisonError::into_inner).take() {
            waker.wake();
        }
    }
}

/// A session's registration; dropping it (with the session) unregisters.
pub(crate) struct Ticket {
    registry: SessionRegistry,
    id: ConnectionId,
    pub(crate) control: Arc<Control>,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Ticket {
    pub(crate) fn registry(&self) -> &SessionRegistry {
        &self.registry
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        if let Some(entry) = state.sessions.remove(&self.id) {
            if let Some(ip) = self.registry.inner.caps.ip_key(entry.peer_addr) {
                decrement(&mut state.per_ip, &ip);
            }
            if let Some(principal) = entry.principal {
                decrement(&mut state.per_principal, &principal);
            }
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

fn over_cap(what: &'static str) -> Rejection {
    Rejection::new(RejectionKind::RateLimited, what)
}

impl SessionRegistry {
    pub(crate) fn new(caps: ConnectionCaps) -> Self {
        Self { inner: Arc::new(Shared { caps, state: Mutex::default() }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic: every update is a
        // single insert or remove.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The caps in force.
    pub fn caps(&self) -> ConnectionCaps {
        self.inner.caps
    }

    /// Registers `session` under the global and per-IP caps.
    pub(crate) fn register(&self, session: &Session) -> Result<Ticket, Rejection> {
        let caps = self.inner.caps;
        let ip = caps.ip_key(session.peer_addr());
        let mut state = self.lock();
        if caps.global.is_some_and(|cap| state.sessions.len() >= cap as usize) {
            return Err(over_cap("too many connections"));
        }
        if let (Some(ip), Some(cap)) = (ip, caps.per_ip)
            && state.per_ip.get(&ip).is_some_and(|n| *n >= cap)
        {
            return Err(over_cap("too many connections from this address"));
        }
        if let Some(ip) = ip {
            *state.per_ip.entry(ip).or_default() += 1;
        }
        let control = Arc::new(Control::default());
        let entry = Entry {
            principal: None,
            peer_addr: session.peer_addr(),
            connected_at: session.connected_at(),
            control: control.clone(),
        };
        state.sessions.insert(session.id(), entry);
        Ok(Ticket { registry: self.clone(), id: session.id(), control })
    }

    /// Moves a registered session to `principal`, under the per-principal cap.
    pub(crate) fn bind_principal(&self, ticket: &Ticket, principal: Option<&str>) -> Result<(), Rejection> {
        let cap = self.inner.caps.per_principal;
        let mut state = self.lock();
        let state = &mut *state;
        let Some(entry) = state.sessions.get_mut(&ticket.id) else { return Ok(()) };
        if entry.principal.as_deref() == principal {
            return Ok(());
        }
        if let (Some(new), Some(cap)) = (principal, cap)
            && state.per_principal.get(new).is_some_and(|n| *n >= cap)
        {
            return Err(over_cap("too many connections for this user"));
        }
        if let Some(old) = entry.principal.take() {
            decrement(&mut state.per_principal, &old);
        }
        if let Some(new) = principal {
            *state.per_principal.entry(new.to_owned()).or_default() += 1;
            entry.principal = Some(new.to_owned());
        }
        Ok(())
    }

    /// The number of live sessions.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether there are no live sessions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the live sessions, ordered by id.
    pub fn list(&self) -> Vec<SessionInfo> {
        let state = self.lock();
        let mut list: Vec<_> = state
            .sessions
            .iter()
            .map(|(id, e)| SessionInfo {
                id: *id,
                principal: e.principal.clone(),
                peer_addr: e.peer_addr,
                connected_at: e.connected_at,
                revoked: e.control.is_revoked(),
            })
            .collect();
        list.sort_by_key(|s| s.id);
        list
    }

    /// Revokes one session. Returns whether it was live.
    pub fn revoke(&self, id: ConnectionId) -> bool {
        let state = self.lock();
        let entry = state.sessions.get(&id);
        entry.inspect(|e| e.control.revoke()).is_some()
    }

    /// Revokes every session of the principal `id`. Returns how many.
    pub fn revoke_principal(&self, id: &str) -> usize {
        let state = self.lock();
        state.sessions.values().filter(|e| e.principal.as_deref() == Some(id)).inspect(|e| e.control.revoke()).count()
    }
}

impl fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRegistry").field("caps", &self.inner.caps).field("live", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;
    use crate::time::ManualClock;
    use crate::{Guard, Principal, RejectionKind};

    fn guard(caps: ConnectionCaps) -> Guard {
        Guard::builder().without_auth().connection_caps(caps).build().unwrap()
    }

    fn admitted(guard: &Guard, peer: &str) -> Result<Session, Rejection> {
        let mut session = guard.new_session(Some(peer.parse::<SocketAddr>().unwrap()));
        let request = http::Request::get("/").body(()).unwrap();
        guard.check_handshake(&request, &mut session).map(|()| session)
    }

    #[test]
    fn caps_count_live_sessions_and_free_places_on_drop() {
        let guard = guard(ConnectionCaps::unlimited().per_ip(Some(2)).global(Some(3)));
        let a1 = admitted(&guard, "10.0.0.1:1").unwrap();
        let _a2 = admitted(&guard, "10.0.0.1:2").unwrap();
        let refused = admitted(&guard, "10.0.0.1:3").unwrap_err();
        assert_eq!(
            (refused.kind(), refused.reason()),
            (RejectionKind::RateLimited, "too many connections from this address")
        );
        let _b1 = admitted(&guard, "10.0.0.2:1").unwrap();
        assert_eq!(admitted(&guard, "10.0.0.3:1").unwrap_err().reason(), "too many connections");
        assert_eq!(guard.sessions().len(), 3, "refused sessions are not registered");
        drop(a1);
        assert_eq!(guard.sessions().len(), 2);
        assert!(admitted(&guard, "10.0.0.1:4").is_ok(), "a dropped session frees its place");
    }

    /// The review's finding: forty addresses of one /64 got past a per-IP
    /// cap of 20, while the rate limits grouped them.
    #[test]
    fn ipv6_peers_count_per_prefix_and_mapped_ipv4_per_address() {
        let guard = guard(ConnectionCaps::unlimited().per_ip(Some(20)));
        let held: Vec<_> = (1..=20).map(|i| admitted(&guard, &format!("[2001:db8:1:2::{i:x}]:1")).unwrap()).collect();
        for i in 21..=40 {
            let refused = admitted(&guard, &format!("[2001:db8:1:2:{i:x}::1]:1")).unwrap_err();
            assert_eq!(refused.reason(), "too many connections from this address", "address {i} of the same /64");
        }
        assert!(admitted(&guard, "[2001:db8:1:3::1]:1").is_ok(), "the next /64 is someone else");
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: each
        // counts as its own IPv4 address, and together with its plain form.
        let _v4: Vec<_> = (1..=20).map(|i| admitted(&guard, &format!("[::ffff:192.0.2.{i}]:1")).unwrap()).collect();
        let _same = (1..=19).map(|_| admitted(&guard, "192.0.2.1:2").unwrap()).collect::<Vec<_>>();
        assert!(admitted(&guard, "[::ffff:192.0.2.1]:3").is_err(), "mapped and plain are one address");
        drop(held);
        assert!(admitted(&guard, "[2001:db8:1:2::ffff]:1").is_ok(), "dropped sessions free the prefix's places");

        // The prefix is configurable: /128 counts full addresses.
        let guard = super::tests::guard(ConnectionCaps::unlimited().per_ip(Some(1)).ipv6_prefix(128));
        let _a = admitted(&guard, "[2001:db8::1]:1").unwrap();
        assert!(admitted(&guard, "[2001:db8::2]:1").is_ok());
        let err = Guard::builder().without_auth().connection_caps(ConnectionCaps::default().ipv6_prefix(129)).build();
        assert!(matches!(err, Err(ConfigError::InvalidLimit { name: "caps.ipv6_prefix", .. })));
    }

    #[test]
    fn checking_a_handshake_twice_registers_once() {
        let guard = guard(ConnectionCaps::unlimited().per_ip(Some(1)));
        let mut session = admitted(&guard, "10.0.0.1:1").unwrap();
        let request = http::Request::get("/").body(()).unwrap();
        guard.check_handshake(&request, &mut session).unwrap();
        assert_eq!(guard.sessions().len(), 1);
    }

    #[test]
    fn per_principal_cap_keeps_the_previous_principal() {
        let guard = guard(ConnectionCaps::unlimited().per_principal(Some(1)));
        let mut first = admitted(&guard, "10.0.0.1:1").unwrap();
        let mut second = admitted(&guard, "10.0.0.1:2").unwrap();
        first.set_principal(Some(Principal::new("alice"))).unwrap();
        second.set_principal(Some(Principal::new("bob"))).unwrap();
        let refused = second.set_principal(Some(Principal::new("alice"))).unwrap_err();
        assert_eq!(refused.kind(), RejectionKind::RateLimited);
        assert_eq!(second.principal().unwrap().id, "bob");
        // Re-binding the same principal does not count twice.
        first.set_principal(Some(Principal::new("alice").with_roles(["admin"]))).unwrap();
        drop(first);
        second.set_principal(Some(Principal::new("alice"))).unwrap();
        let listed = guard.sessions().list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].principal.as_deref(), Some("alice"));
    }

    #[test]
    fn revocation_by_id_and_by_principal() {
        let guard = guard(ConnectionCaps::unlimited());
        let mut sessions: Vec<_> = (1..=3).map(|i| admitted(&guard, &format!("10.0.0.{i}:1")).unwrap()).collect();
        for (session, who) in sessions.iter_mut().zip(["alice", "alice", "bob"]) {
            session.set_principal(Some(Principal::new(who))).unwrap();
        }
        assert!(!guard.sessions().revoke(ConnectionId::new(999)));
        assert!(guard.sessions().revoke(sessions[2].id()));
        assert_eq!(guard.sessions().revoke_principal("alice"), 2);
        assert_eq!(guard.sessions().revoke_principal("nobody"), 0);
        assert!(sessions.iter().all(Session::is_revoked));
        let rejection = guard.check_session(&sessions[0], guard.now()).unwrap_err();
        assert_eq!((rejection.kind(), rejection.reason()), (RejectionKind::Forbidden, "session revoked"));
        assert!(guard.sessions().list().iter().all(|s| s.revoked));
    }

    #[test]
    fn expiry_is_checked_on_the_guard_clock() {
        let clock = ManualClock::new();
        let guard = Guard::builder().without_auth().clock(clock.clone()).build().unwrap();
        let mut session = guard.new_session(None);
        assert!(guard.check_session(&session, guard.now()).is_ok(), "no expiry: never expires");
        session.set_expires_at(Some(guard.now() + Duration::from_secs(10)));
        clock.advance(Duration::from_millis(9_999));
        assert!(guard.check_session(&session, guard.now()).is_ok());
        clock.advance(Duration::from_millis(1));
        assert_eq!(guard.check_session(&session, guard.now()).unwrap_err().reason(), "authentication timed out");
        session.set_principal(Some(Principal::new("a"))).unwrap();
        assert_eq!(guard.check_session(&session, guard.now()).unwrap_err().reason(), "token expired");
        // Control messages are checked too.
        assert!(matches!(
            guard.inbound(crate::Message::Ping(Default::default()), &mut session),
            crate::Verdict::Close { .. }
        ));
    }

    #[test]
    fn zero_caps_are_config_errors() {
        let err = Guard::builder().without_auth().connection_caps(ConnectionCaps::default().per_ip(Some(0))).build();
        assert!(matches!(err, Err(ConfigError::InvalidLimit { name: "caps.per_ip", .. })));
    }
}
