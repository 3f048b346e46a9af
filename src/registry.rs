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
}

impl Default for ConnectionCaps {
    fn default() -> Self {
        Self { per_principal: Some(5), per_ip: Some(20), global: None }
    }
}

impl ConnectionCaps {
    /// No caps at all.
    pub const fn unlimited() -> Self {
        Self { per_principal: None, per_ip: None, global: None }
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
            None => Ok(()),
        }
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
/// stream, and at the next `read` or `send` by the blocking adapter (set a
/// read timeout so that `read` returns regularly). Revocation ends sessions,
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

    fn revoke(&self) {
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
            if let Some(ip) = entry.peer_addr.map(|a| a.ip()) {
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
        let ip = session.peer_addr().map(|a| a.ip());
        let mut state = self.lock();
        if caps.global.is_some_and(|cap| state.sessions.len() >= cap as usize) {
            return Err(over_cap("too many connections"));
        }
        if let (Some(ip), Some(cap)) = (ip, caps.per_ip) {
            if state.per_ip.get(&ip).is_some_and(|n| *n >= cap) {
                return Err(over_cap("too many connections from this address"));
            }
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
        if let (Some(new), Some(cap)) = (principal, cap) {
            if state.per_principal.get(new).is_some_and(|n| *n >= cap) {
                return Err(over_cap("too many connections for this user"));
            }
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
