//! Per-connection state: who is connected, from where, and what layers keep.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};

use crate::audit::AuditIdentities;
use crate::registry::Ticket;
use crate::rejection::Rejection;

/// A connection's identifier, unique within one [`Guard`](crate::Guard).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// The numeric value.
    pub const fn get(self) -> u64 {
        self.0
    }

    pub(crate) const fn new(id: u64) -> Self {
        Self(id)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An authenticated identity: an id, roles and claims.
///
/// Filled in by an authentication layer; `None` on the session until then.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Principal {
    /// The stable identifier (user id, API client id).
    pub id: String,
    /// Role names, in no particular order.
    pub roles: Vec<String>,
    /// Extra claims (for example from a JWT).
    pub claims: Map<String, Value>,
    /// When the credentials stop being valid (for a JWT: `exp` plus the
    /// verifier's leeway). The connection is closed with 4401 then.
    pub expires_at: Option<SystemTime>,
}

impl Principal {
    /// A principal with `id`, no roles and no claims.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), ..Self::default() }
    }

    /// Adds roles.
    #[must_use]
    pub fn with_roles<I, R>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether the principal has `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The state of one connection, shared by all layers.
///
/// Created by [`Guard::new_session`](crate::Guard::new_session) (the adapters
/// do it for you), filled in at the handshake, and passed to every hook.
/// Layers keep their own per-connection state in [`extensions`](Self::extensions),
/// keyed by type.
#[derive(Debug)]
pub struct Session {
    id: ConnectionId,
    peer_addr: Option<SocketAddr>,
    /// The trusted proxy the connection came through, when the client's
    /// address came from its forwarding header.
    proxy_addr: Option<SocketAddr>,
    tls: bool,
    connected_at: Instant,
    origin: Option<String>,
    requested_protocols: Vec<String>,
    selected_protocol: Option<String>,
    principal: Option<Principal>,
    expires_at: Option<Instant>,
    ticket: Option<Ticket>,
    audit: AuditIdentities,
    extensions: http::Extensions,
}

impl Session {
    pub(crate) fn new(id: ConnectionId, peer_addr: Option<SocketAddr>, connected_at: Instant) -> Self {
        Self {
            id,
            peer_addr,
            proxy_addr: None,
            tls: false,
            connected_at,
            origin: None,
            requested_protocols: Vec::new(),
            selected_protocol: None,
            principal: None,
            expires_at: None,
            ticket: None,
            audit: AuditIdentities::default(),
            extensions: http::Extensions::new(),
        }
    }

    /// Marks the transport as TLS (the adapters do this for TLS streams).
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.set_tls(tls);
        self
    }

    pub(crate) fn set_tls(&mut self, tls: bool) {
        self.tls = tls;
    }

    pub(crate) fn with_audit_identities(mut self, audit: AuditIdentities) -> Self {
        self.audit = audit;
        self
    }

    /// How this session's audit events name its principal and peer.
    pub(crate) fn audit_identities(&self) -> &AuditIdentities {
        &self.audit
    }

    /// The connection id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The trusted proxy the connection came through, when
    /// [`peer_addr`](Self::peer_addr) is the client's address from the
    /// proxy's forwarding header (see
    /// [`TrustedProxies`](crate::layer::TrustedProxies)).
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy_addr
    }

    /// Records what a trusted proxy at `proxy` says of the client: its
    /// address (if readable) and whether it used TLS.
    pub(crate) fn set_forwarded(&mut self, proxy: SocketAddr, client: Option<SocketAddr>, tls: bool) {
        self.proxy_addr = Some(proxy);
        if let Some(client) = client {
            self.peer_addr = Some(client);
        }
        self.tls |= tls;
    }

    /// The peer's address, when the stream knows it: the client's, read
    /// from a trusted proxy's forwarding header once the handshake has been
    /// checked (see [`proxy_addr`](Self::proxy_addr)).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// Whether the transport is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// When the session was created, by the guard's clock.
    pub fn connected_at(&self) -> Instant {
        self.connected_at
    }

    /// The `Origin` header of the upgrade request, if any.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The subprotocols the client offered in `Sec-WebSocket-Protocol`, in order.
    pub fn requested_protocols(&self) -> &[String] {
        &self.requested_protocols
    }

    /// The subprotocol the server will answer with, if a layer selected one.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.selected_protocol.as_deref()
    }

    /// Selects the subprotocol to echo in the handshake response.
    ///
    /// Browsers fail a connection whose response names a protocol they did
    /// not offer, so select one of [`requested_protocols`](Self::requested_protocols).
    pub fn select_protocol(&mut self, protocol: impl Into<String>) {
        self.selected_protocol = Some(protocol.into());
    }

    /// Selects the first offered subprotocol, if there is one.
    pub(crate) fn select_first_requested_protocol(&mut self) {
        self.selected_protocol = self.requested_protocols.first().cloned();
    }

    /// The authenticated principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Sets (or, with `None`, clears) the principal.
    ///
    /// It does not change [`expires_at`](Self::expires_at): an
    /// authentication layer sets both.
    ///
    /// # Errors
    ///
    /// A [`RejectionKind::RateLimited`](crate::RejectionKind::RateLimited)
    /// rejection when the session is registered with a guard and the new
    /// principal already holds
    /// [`ConnectionCaps::per_principal`](crate::ConnectionCaps::per_principal)
    /// connections. The session then keeps its previous principal.
    pub fn set_principal(&mut self, principal: Option<Principal>) -> Result<(), Rejection> {
        if let Some(ticket) = &self.ticket {
            ticket.registry().bind_principal(ticket, principal.as_ref().map(|p| p.id.as_str()))?;
        }
        self.principal = principal;
        Ok(())
    }

    /// When the session stops being valid, by the guard's clock: the token's
    /// expiry, or the deadline for first-message authentication. The guard
    /// closes the connection with 4401 once it passes.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Sets (or clears) the instant the session stops being valid.
    pub fn set_expires_at(&mut self, expires_at: Option<Instant>) {
        self.expires_at = expires_at;
    }

    /// Whether the session was revoked through the guard's
    /// [`SessionRegistry`](crate::SessionRegistry).
    pub fn is_revoked(&self) -> bool {
        self.ticket.as_ref().is_some_and(|t| t.control.is_revoked())
    }

    /// Forgets offered subprotocols that fail `keep` (token entries).
    pub(crate) fn retain_requested_protocols(&mut self, keep: impl Fn(&str) -> bool) {
        self.requested_protocols.retain(|p| keep(p));
    }

    /// The registration, once the guard has admitted the session.
    pub(crate) fn ticket(&self) -> Option<&Ticket> {
        self.ticket.as_ref()
    }

    pub(crate) fn set_ticket(&mut self, ticket: Option<Ticket>) {
        self.ticket = ticket;
    }

    /// Typed per-connection state for layers.
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// Mutable typed per-connection state for layers.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// Records what the upgrade request says about the client.
    pub(crate) fn record_request(&mut self, request: &http::Request<()>) {
        let headers = request.headers();
        self.origin = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
        self.requested_protocols = headers
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
    }
}
