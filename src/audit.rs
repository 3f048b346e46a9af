//! Audit events: one `tracing` event per security decision that is not a pass.
//!
//! Events use the target `wsguard::audit`, so a subscriber can route them
//! apart from application logs. Every event has the same five fields first:
//! `conn_id` (the connection id), `peer`, `principal` (pseudonymised, see
//! below; empty when unknown), `layer` (which layer decided) and `code`
//! (the HTTP status, close code, reply code or action the peer saw), then
//! its own.
//!
//! # Events
//!
//! | `event` | level | `layer` | `code` | other fields |
//! |---------|-------|---------|--------|--------------|
//! | `connection_opened` | info | `connection` | 101 | `tls`, `subprotocol` |
//! | `connection_closed` | info | `connection` | close code sent or received (0: none) | `by` (`guard`, `peer`, `app`, `transport`), `duration_ms`, `messages_in`, `bytes_in`, `messages_out`, `bytes_out` |
//! | `handshake_rejected` | warn | the refusing layer (`caps`, `auth`, `origin`, `transport`, ...) | HTTP status | `kind`, `reason`, `detail` |
//! | `connection_closing` | warn | the closing layer (`session`, `liveness`, `limits`, `protocol`, ...) | close code | `kind`, `direction`, `reason`, `detail` |
//! | `message_dropped` | info | the dropping layer | reply code (`none` without reply) | `direction` |
//! | `access_denied` | warn | `rbac` | `forbidden` | `direction`, `message_type` (the policy's or `(other)`), `permission` (unfilled) |
//! | `outbound_invalid` | warn | `schema` | `invalid_message` | `message_type`, `schema_path`, `keyword` |
//! | `pii_detected` | warn | `pii` | the action (`rewritten`, `drop`, ...) | `direction`, `kinds` (`email:2,phone:1`), `count` |
//! | `rate_limit_store_unavailable` / `_recovered` | warn / info | | | `store`, `error` (its kind) |
//! | `fleet_unavailable` / `fleet_recovered` | warn / info | | | `store`, `error` (its kind) |
//! | `jwks_fetch_failed` | warn | | | `error` (its kind: `timeout`, `tls`, `connection`, `http status`, `invalid jwk set`, ...) |
//!
//! `connection_opened` and `connection_closed` come from a
//! [`Connection`](crate::Connection), so from every adapter; a hand-driven
//! [`Guard::inbound`](crate::Guard::inbound) has no connection to report.
//!
//! # Free of personal data by construction
//!
//! Every field is either a value from a known set (event names, layer
//! names, codes, PII kind names, the message types and permissions of the
//! configured policy and schemas) or a keyed hash. A client's own text
//! never reaches a field: an RBAC denial logs the message type only when
//! the policy names it (else `(other)`) and the rule's permission as
//! configured (`room:{/room}:write`, not the room the client sent); an
//! outbound schema failure logs the schema location, not the path in the
//! message, whose keys are the application's data.
//!
//! The principal id (often an email, a JWT `sub`) and the peer's IP
//! address are pseudonymised by default, as `p-` and `ip-` plus 16 hex
//! digits of an HMAC-SHA256 ([`AuditIdentities`]). The same id gives the
//! same pseudonym, so one user's events still correlate.
//!
//! Rejection reasons and details are the crate's fixed texts; a custom
//! [`Layer`](crate::Layer) or [`Verifier`](crate::auth::Verifier) that
//! builds its own must keep them free of personal data too.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hmac::Mac;

use crate::close::CloseCode;
use crate::message::Direction;
use crate::pii::{Counts, Keyed, keyed};
use crate::rejection::Rejection;
use crate::session::Session;

/// How audit events name principals and peers. Set it with
/// [`GuardBuilder::audit_identities`](crate::GuardBuilder::audit_identities).
///
/// | constructor | `principal` | `peer` |
/// |-------------|-------------|--------|
/// | [`default`](Self::default) | `p-` + keyed hash, key drawn once per process | `ip-` + keyed hash of the IP |
/// | [`pseudonymous`](Self::pseudonymous) | the same, under your key: pseudonyms agree across instances and restarts | the same |
/// | [`with_peers_in_clear`](Self::with_peers_in_clear) on either of the above | keyed hash | `ip:port` |
/// | [`in_clear`](Self::in_clear) | the id as is | `ip:port` |
///
/// To find the events of one user, compute their pseudonym with
/// [`principal`](Self::principal) under the same key.
///
/// # Cloning
///
/// An `Arc` inside: clones are cheap and share the key.
#[derive(Clone)]
pub struct AuditIdentities {
    /// `None` logs identities in clear.
    key: Option<Arc<Keyed>>,
    /// Peers in clear even with a key.
    peers_in_clear: bool,
}

impl AuditIdentities {
    /// Pseudonyms under `key`: give every instance the same key (from your
    /// secret store) to correlate events across them and across restarts.
    pub fn pseudonymous(key: &[u8; 32]) -> Self {
        Self { key: Some(Arc::new(keyed(key))), peers_in_clear: false }
    }

    /// Principal ids and peer addresses in clear.
    ///
    /// **Warning:** ids are often email addresses, and IP addresses are
    /// personal data in much of the world: your logs then hold personal
    /// data, with the retention and access duties that come with it.
    pub fn in_clear() -> Self {
        Self { key: None, peers_in_clear: true }
    }

    /// Peer addresses in clear (as `ip:port`), principal ids still
    /// pseudonymised: for operators who block abusive addresses from the
    /// audit log. The warning of [`in_clear`](Self::in_clear) applies to
    /// the addresses.
    #[must_use]
    pub fn with_peers_in_clear(mut self) -> Self {
        self.peers_in_clear = true;
        self
    }

    /// How a principal id appears in audit events.
    pub fn principal(&self, id: &str) -> String {
        self.name("p-", b"principal", id.as_bytes())
    }

    /// How a peer appears in audit events (its IP address; the port only
    /// in clear).
    pub fn peer(&self, peer: SocketAddr) -> String {
        match self.key {
            Some(_) if !self.peers_in_clear => self.name("ip-", b"peer", peer.ip().to_string().as_bytes()),
            _ => peer.to_string(),
        }
    }

    fn name(&self, prefix: &str, domain: &[u8], value: &[u8]) -> String {
        let Some(key) = &self.key else { return String::from_utf8_lossy(value).into_owned() };
        let mut mac = Keyed::clone(key);
        mac.update(domain);
        mac.update(&[0]);
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        format!("{prefix}{}", crate::hex::hex(&digest, 16))
    }
}

impl Default for AuditIdentities {
    /// Pseudonyms under a key drawn from the operating system once per
    /// process (shared by every guard in it).
    fn default() -> Self {
        static DEFAULT: OnceLock<AuditIdentities> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let mut key = [0u8; 32];
                // Without an OS random source, a fixed key still hides ids
                // from a casual reader; it cannot fail on supported targets.
                let _ = getrandom::fill(&mut key);
                Self::pseudonymous(&key)
            })
            .clone()
    }
}

impl fmt::Debug for AuditIdentities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.key.is_some() { "AuditIdentities::Pseudonymous" } else { "AuditIdentities::InClear" })
    }
}

/// Emits one audit event at `level`: the five fields every event starts
/// with (`conn_id`, `peer`, `principal`, `layer`, `code`), then its own.
macro_rules! audit_event {
    ($level:ident, $session:expr, $event:literal, $layer:expr, $code:expr $(, $($field:tt)+)?) => {
        tracing::$level!(
            target: TARGET,
            event = $event,
            conn_id = $session.id().get(),
            peer = peer($session),
            principal = principal($session),
            layer = $layer,
            code = $code,
            $($($field)+)?
        )
    };
}

fn principal(session: &Session) -> String {
    session.principal().map_or_else(String::new, |p| session.audit_identities().principal(&p.id))
}

fn peer(session: &Session) -> String {
    session.peer_addr().map_or_else(String::new, |a| session.audit_identities().peer(a))
}

/// The `tracing` target of every audit event.
pub const TARGET: &str = "wsguard::audit";

pub(crate) fn handshake_rejected(session: &Session, layer: &str, rejection: &Rejection) {
    audit_event!(
        warn,
        session,
        "handshake_rejected",
        layer,
        rejection.http_status().as_u16(),
        kind = rejection.kind().as_str(),
        reason = rejection.reason(),
        detail = rejection.detail().unwrap_or("")
    );
}

pub(crate) fn message_dropped(session: &Session, layer: &str, direction: Direction, reply_code: Option<&str>) {
    audit_event!(info, session, "message_dropped", layer, reply_code.unwrap_or("none"), direction = direction.as_str());
}

/// A layer (or the session check, a read failure, a liveness timer)
/// decided to close the connection; `connection_closed` follows when a
/// [`Connection`](crate::Connection) drives it.
pub(crate) fn connection_closing(
    session: &Session,
    layer: &str,
    direction: Direction,
    rejection: &Rejection,
    close_code: CloseCode,
) {
    audit_event!(
        warn,
        session,
        "connection_closing",
        layer,
        close_code.get(),
        kind = rejection.kind().as_str(),
        direction = direction.as_str(),
        reason = rejection.reason(),
        detail = rejection.detail().unwrap_or("")
    );
}

/// The upgrade was accepted.
pub(crate) fn connection_opened(session: &Session) {
    audit_event!(
        info,
        session,
        "connection_opened",
        "connection",
        101,
        tls = session.is_tls(),
        subprotocol = session.selected_protocol().unwrap_or("")
    );
}

/// The end of an accepted connection: who closed it, with which code (0
/// when no close frame), how long it lived and what it carried.
pub(crate) fn connection_closed(session: &Session, code: Option<CloseCode>, by: &str, traffic: &Traffic) {
    audit_event!(
        info,
        session,
        "connection_closed",
        "connection",
        code.map_or(0, CloseCode::get),
        by,
        duration_ms = traffic.duration_ms,
        messages_in = traffic.messages_in,
        bytes_in = traffic.bytes_in,
        messages_out = traffic.messages_out,
        bytes_out = traffic.bytes_out
    );
}

/// What one connection carried, for its `connection_closed` event.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) duration_ms: u64,
    pub(crate) messages_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) messages_out: u64,
    pub(crate) bytes_out: u64,
}

/// Which schema rule an outbound message broke; the guard's
/// `message_dropped` event follows. `message_type` is a configured type or
/// `(other)`, `schema_path` a location in the configured schema: never the
/// offending value or a key of the message.
pub(crate) fn outbound_invalid(session: &Session, message_type: &str, schema_path: &str, keyword: &str) {
    audit_event!(warn, session, "outbound_invalid", "schema", "invalid_message", message_type, schema_path, keyword);
}

/// An RBAC denial: who, which message type, which permission was missing.
/// Both come from the policy (`(other)` for a type it does not name), never
/// from the message.
pub(crate) fn access_denied(session: &Session, direction: Direction, message_type: &str, permission: &str) {
    audit_event!(
        warn,
        session,
        "access_denied",
        "rbac",
        "forbidden",
        direction = direction.as_str(),
        message_type,
        permission
    );
}

/// Personal data found in a frame: the action taken (as `code`) and the
/// kinds with their counts (`email:2,phone:1`), never the values.
pub(crate) fn pii_detected(
    session: &Session,
    direction: Direction,
    action: &str,
    kinds: impl FnOnce() -> Counts,
    count: usize,
) {
    // The summary is written only when a subscriber takes the event.
    if tracing::enabled!(target: TARGET, tracing::Level::WARN) {
        let kinds = kinds().to_string();
        audit_event!(warn, session, "pii_detected", "pii", action, direction = direction.as_str(), kinds, count);
    }
}

/// A Redis user (`name`: `rate_limit_store`, `fleet`) lost its link
/// (`error`: the error's kind, never the URL) or got it back: the events
/// `<name>_unavailable` and `<name>_recovered`.
#[cfg(feature = "redis")]
pub(crate) fn store_link(name: &'static str, available: bool, error: &str) {
    if available {
        tracing::info!(target: TARGET, event = format!("{name}_recovered"), store = "redis");
    } else {
        tracing::warn!(target: TARGET, event = format!("{name}_unavailable"), store = "redis", error);
    }
}

/// A background fetch of a JWK set failed (`error`: its kind, never the
/// URL); the last good set stays in use.
#[cfg(feature = "jwks")]
pub(crate) fn jwks_fetch_failed(error: &str) {
    tracing::warn!(target: TARGET, event = "jwks_fetch_failed", error);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_key_and_hide_the_value() {
        let a = AuditIdentities::pseudonymous(&[1; 32]);
        let b = AuditIdentities::pseudonymous(&[2; 32]);
        let id = "alice@example.com";
        assert_eq!(a.principal(id), a.principal(id));
        assert_ne!(a.principal(id), b.principal(id), "another key, another pseudonym");
        assert_ne!(a.principal(id), a.principal("bob@example.com"));
        assert!(!a.principal(id).contains("alice") && a.principal(id).starts_with("p-"));
        let default = AuditIdentities::default();
        assert_eq!(default.principal(id), AuditIdentities::default().principal(id), "one key per process");
        assert_ne!(default.principal(id), id);
        // A peer is its IP: the same host on another port is the same pseudonym.
        let (one, two) = ("198.51.100.7:1000".parse().unwrap(), "198.51.100.7:2000".parse().unwrap());
        assert_eq!(a.peer(one), a.peer(two));
        assert!(a.peer(one).starts_with("ip-") && !a.peer(one).contains("198"));
        assert_eq!(AuditIdentities::in_clear().peer(one), "198.51.100.7:1000");
        assert_eq!(AuditIdentities::in_clear().principal(id), id);
        let operator = AuditIdentities::pseudonymous(&[1; 32]).with_peers_in_clear();
        assert_eq!(operator.peer(one), "198.51.100.7:1000");
        assert_eq!(operator.principal(id), a.principal(id), "principals stay pseudonymised");
    }
}
