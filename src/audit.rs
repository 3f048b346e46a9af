//! Audit events: one `tracing` event per security decision that is not a pass.
//!
//! Events use the target `wsguard::audit`, so a subscriber can route them
//! apart from application logs. Fields: `event`, `session` (connection id),
//! `peer`, `layer`, `direction`, `kind` / `code`, and for closes the close
//! code. They never contain the message payload, a token or detected
//! personal data: the only text is a rejection's fixed reason.

use crate::close::CloseCode;
use crate::message::Direction;
use crate::rejection::Rejection;
use crate::session::Session;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "wsguard::audit";

pub(crate) fn handshake_rejected(session: &Session, layer: &str, rejection: &Rejection) {
    tracing::warn!(
        target: TARGET,
        event = "handshake_rejected",
        session = session.id().get(),
        peer = ?session.peer_addr(),
        layer,
        kind = rejection.kind().as_str(),
        status = rejection.http_status().as_u16(),
        reason = rejection.reason(),
        detail = rejection.detail().unwrap_or(""),
    );
}

pub(crate) fn message_dropped(session: &Session, layer: &str, direction: Direction, reply_code: Option<&str>) {
    tracing::info!(
        target: TARGET,
        event = "message_dropped",
        session = session.id().get(),
        peer = ?session.peer_addr(),
        layer,
        direction = direction.as_str(),
        code = reply_code.unwrap_or("none"),
    );
}

pub(crate) fn connection_closed(
    session: &Session,
    layer: &str,
    direction: Direction,
    rejection: &Rejection,
    close_code: CloseCode,
) {
    tracing::warn!(
        target: TARGET,
        event = "connection_closed",
        session = session.id().get(),
        peer = ?session.peer_addr(),
        layer,
        direction = direction.as_str(),
        kind = rejection.kind().as_str(),
        close_code = close_code.get(),
        reason = rejection.reason(),
        detail = rejection.detail().unwrap_or(""),
    );
}

/// Which rule an outbound message broke; the guard's `message_dropped`
/// event follows. Never the offending value.
pub(crate) fn outbound_invalid(session: &Session, message_type: &str, path: &str, keyword: &str) {
    tracing::warn!(
        target: TARGET,
        event = "outbound_invalid",
        session = session.id().get(),
        message_type,
        path,
        keyword,
    );
}

/// An RBAC denial: who, which message type, which permission was missing.
/// The type is cut to 64 bytes; it is the client's text.
pub(crate) fn access_denied(session: &Session, direction: Direction, message_type: &str, permission: &str) {
    tracing::warn!(
        target: TARGET,
        event = "access_denied",
        session = session.id().get(),
        principal = session.principal().map_or("", |p| p.id.as_str()),
        direction = direction.as_str(),
        message_type = crate::close::truncate_at(message_type, 64),
        permission,
    );
}

pub(crate) fn pii_detected(session: &Session, direction: Direction, action: &str, kinds: &str, count: usize) {
    tracing::warn!(
        target: TARGET,
        event = "pii_detected",
        session = session.id().get(),
        principal = session.principal().map_or("", |p| p.id.as_str()),
        direction = direction.as_str(),
        action,
        kinds,
        count,
    );
}

/// The shared rate-limit store became unreachable (`error` is the error's
/// kind, never the URL) or reachable again.
#[cfg(feature = "redis")]
pub(crate) fn rate_limit_store(available: bool, error: &str) {
    if available {
        tracing::info!(target: TARGET, event = "rate_limit_store_recovered", store = "redis");
    } else {
        tracing::warn!(target: TARGET, event = "rate_limit_store_unavailable", store = "redis", error);
    }
}
