//! The [`Guard`]: an ordered stack of layers, built once, shared by all connections.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tungstenite::protocol::WebSocketConfig;

use crate::audit;
use crate::auth::{AuthError, Authenticator};
use crate::close::{CloseCode, CloseFrame};
use crate::connection::ReadFailure;
use crate::layer::{HandshakeRequest, Layer, Limits};
use crate::liveness::Liveness;
use crate::message::{Direction, Frame, Message};
use crate::metrics;
use crate::outcome::Outcome;
use crate::registry::SessionRegistry;
use crate::rejection::{Rejection, RejectionKind};
use crate::session::{ConnectionId, Principal, Session};
use crate::time::Clock;

mod builder;
mod handle;
mod handshake;

pub use builder::{AuthDecided, GuardBuilder, WantsAuth};
pub use handle::GuardHandle;
pub use handshake::Handshake;
pub(crate) use handshake::{HeadBuffer, too_large};

/// How a refused handshake is answered.
///
/// In configuration: `"http"` or `"accept_then_close"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HandshakeRejection {
    /// An HTTP error response (401, 403, 429, ...) before any upgrade. The
    /// default: a refused client costs almost nothing.
    #[default]
    Http,
    /// Complete the upgrade, then close with the matching close code (4401,
    /// 4403, 4429, ...). Browsers report a refused handshake only as close
    /// code 1006; this mode lets a browser app tell the user why. Malformed
    /// requests (not a WebSocket upgrade, oversized head, timeout) are still
    /// answered with HTTP.
    AcceptThenClose,
}

/// What to do with one message, as decided by the whole stack.
///
/// [`Guard::inbound`] and [`Guard::outbound`] return it; the adapters act on
/// it, and so can applications that own their socket (see the crate docs,
/// "Manual use").
#[must_use]
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Deliver this message (possibly rewritten by a layer).
    Deliver(Message),
    /// Do not deliver; send `reply` to the peer if there is one.
    Drop {
        /// The error reply, ready to send.
        reply: Option<Message>,
    },
    /// Send `frame` and close the connection.
    Close {
        /// The close frame to send.
        frame: CloseFrame,
        /// Why.
        rejection: Rejection,
    },
}

/// A stack of security layers, applied to every connection.
///
/// Build it once at start-up with [`Guard::builder`], then hand it to the
/// adapters ([`accept`](crate::accept), `wsguard::tokio::accept`) or call its
/// checks by hand.
///
/// # Order
///
/// The order in which the layers run, at the handshake and for each
/// message, is described once, in the [crate documentation](crate#order).
/// Put cheap checks (size, rate) before costly ones (schema validation,
/// PII scrubbing).
///
/// # Cloning
///
/// A `Guard` is an `Arc` inside: cloning it is cheap and clones share the
/// layers, so build one and clone it into every connection's task.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    /// Limits, transport, origin, then (from `pre_auth`) the authenticator's
    /// message layer and the builder's layers.
    layers: Vec<Arc<dyn Layer>>,
    /// How many layers run before authentication at the handshake.
    pre_auth: usize,
    /// The same layer as `layers[0]`, kept typed for its settings.
    limits: Arc<Limits>,
    liveness: Liveness,
    auth: Option<Authenticator>,
    registry: SessionRegistry,
    clock: Arc<dyn Clock>,
    websocket_config: WebSocketConfig,
    handshake_rejection: HandshakeRejection,
    close_code_overrides: Vec<(RejectionKind, CloseCode)>,
    audit: crate::audit::AuditIdentities,
    proxies: Option<crate::layer::TrustedProxies>,
    /// Per direction: whether a layer builds every message's tree anyway.
    trees: [bool; 2],
    next_id: AtomicU64,
    metrics: crate::metrics::Metrics,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.inner.layers.iter().map(|l| l.name()).collect();
        f.debug_struct("Guard")
            .field("layers", &names)
            .field("limits", &self.inner.limits)
            .field("handshake_rejection", &self.inner.handshake_rejection)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Starts building a guard. Choose authentication
    /// ([`with_authenticator`](GuardBuilder::with_authenticator) or
    /// [`without_auth`](GuardBuilder::without_auth)) before
    /// [`build`](GuardBuilder::build).
    pub fn builder() -> GuardBuilder<builder::WantsAuth> {
        GuardBuilder::new()
    }

    /// The live sessions: list them, revoke them.
    pub fn sessions(&self) -> &SessionRegistry {
        &self.inner.registry
    }

    /// A fresh session for a new connection from `peer_addr`, with a unique id.
    pub fn new_session(&self, peer_addr: Option<std::net::SocketAddr>) -> Session {
        let id = ConnectionId::new(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        Session::new(id, peer_addr, self.now()).with_audit_identities(self.inner.audit.clone())
    }

    /// The trusted proxies, if any.
    pub(crate) fn trusted_proxies(&self) -> Option<&crate::layer::TrustedProxies> {
        self.inner.proxies.as_ref()
    }

    /// The current instant, from the guard's clock.
    pub fn now(&self) -> Instant {
        self.inner.clock.now()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The heartbeat and timeouts every connection runs under.
    pub fn liveness(&self) -> &Liveness {
        &self.inner.liveness
    }

    /// How refused handshakes are answered.
    pub fn handshake_rejection(&self) -> HandshakeRejection {
        self.inner.handshake_rejection
    }

    /// The tungstenite configuration the adapters use: the builder's
    /// [`websocket_config`](GuardBuilder::websocket_config) with the message
    /// and frame size limits of [`Limits`].
    pub fn websocket_config(&self) -> WebSocketConfig {
        self.clamp_config(self.inner.websocket_config)
    }

    /// `config` with its message and frame size limits lowered to the
    /// guard's [`Limits`]: what a driver gives its WebSocket library.
    pub fn clamp_config(&self, config: WebSocketConfig) -> WebSocketConfig {
        let limits = &self.inner.limits;
        let clamp = |own: Option<usize>, limit: usize| Some(own.map_or(limit, |own| own.min(limit)));
        let message = clamp(config.max_message_size, limits.max_message_size);
        let frame = clamp(config.max_frame_size, limits.max_frame_size);
        config.max_message_size(message).max_frame_size(frame)
    }

    /// Runs the handshake checks of every layer, in order (see "Order").
    ///
    /// Records the request's `Origin` and offered subprotocols on the
    /// session, registers it with the [`SessionRegistry`] (it stays
    /// registered until the session is dropped), and authenticates it. The
    /// first rejection stops the checks, is audited, and unregisters the
    /// session.
    ///
    /// An [`AsyncVerifier`](crate::auth::AsyncVerifier) cannot run here:
    /// use [`check_handshake_async`](Self::check_handshake_async).
    ///
    /// # Errors
    ///
    /// The first rejection. Answer it with
    /// [`Rejection::to_http_response`], or in accept-then-close mode with
    /// [`close_frame`](Self::close_frame).
    pub fn check_handshake(&self, request: &HandshakeRequest, session: &mut Session) -> Result<(), Rejection> {
        let now = self.now();
        let result = self.handshake_until_auth(request, session, now).and_then(|credential| {
            let verified = match (&self.inner.auth, credential) {
                (Some(auth), Some(credential)) => {
                    let Some(verified) = auth.verify_now(&credential.token) else {
                        let rejection = Rejection::new(RejectionKind::Internal, "handshake failed")
                            .with_detail("an async verifier needs check_handshake_async or the tokio adapter");
                        return Err(self.audited(session, "auth", rejection));
                    };
                    Some((credential.source, verified))
                }
                _ => None,
            };
            self.handshake_after_auth(request, session, verified, now)
        });
        Self::end_handshake(session, result)
    }

    /// Like [`check_handshake`](Self::check_handshake), awaiting an
    /// [`AsyncVerifier`](crate::auth::AsyncVerifier). The tokio adapter
    /// calls it; the future does no I/O of its own and needs no runtime
    /// beyond what the verifier awaits.
    ///
    /// # Errors
    ///
    /// As [`check_handshake`](Self::check_handshake).
    pub async fn check_handshake_async(
        &self,
        request: &HandshakeRequest,
        session: &mut Session,
    ) -> Result<(), Rejection> {
        let now = self.now();
        let result = match (self.handshake_until_auth(request, session, now), &self.inner.auth) {
            (Ok(Some(credential)), Some(auth)) => {
                let verified = auth.verify(&credential.token).await;
                self.handshake_after_auth(request, session, Some((credential.source, verified)), self.now())
            }
            (Ok(_), _) => self.handshake_after_auth(request, session, None, now),
            (Err(rejection), _) => Err(rejection),
        };
        Self::end_handshake(session, result)
    }

    /// Everything before verification: records the request, registers the
    /// session under the IP and global caps, runs the layers before
    /// authentication, and finds the token.
    fn handshake_until_auth(
        &self,
        request: &HandshakeRequest,
        session: &mut Session,
        now: Instant,
    ) -> Result<Option<crate::auth::Credential>, Rejection> {
        session.record_request(request);
        // The peer as the socket saw it (also when checked again), before
        // the caps count it: behind a trusted proxy, the client.
        if let (Some(proxies), Some(peer)) = (&self.inner.proxies, session.proxy_addr().or(session.peer_addr()))
            && let Some((client, tls)) = proxies.client(peer, request)
        {
            session.set_forwarded(peer, client, tls);
        }
        session.set_ticket(None);
        let ticket = self.inner.registry.register(session).map_err(|r| self.audited(session, "caps", r))?;
        session.set_ticket(Some(ticket));
        self.run_handshake_layers(&self.inner.layers[..self.inner.pre_auth], request, session, now)?;
        match &self.inner.auth {
            Some(auth) => auth.extract(request, session, now).map_err(|r| self.audited(session, "auth", r)),
            None => Ok(None),
        }
    }

    /// Everything after verification: puts the principal on the session
    /// (under the per-principal cap), then runs the remaining layers.
    fn handshake_after_auth(
        &self,
        request: &HandshakeRequest,
        session: &mut Session,
        verified: Option<(&'static str, Result<Principal, AuthError>)>,
        now: Instant,
    ) -> Result<(), Rejection> {
        if let (Some(auth), Some((source, verified))) = (&self.inner.auth, verified) {
            auth.admit(session, verified, source, now).map_err(|r| self.audited(session, "auth", r))?;
        }
        self.run_handshake_layers(&self.inner.layers[self.inner.pre_auth..], request, session, now)
    }

    fn run_handshake_layers(
        &self,
        layers: &[Arc<dyn Layer>],
        request: &HandshakeRequest,
        session: &mut Session,
        now: Instant,
    ) -> Result<(), Rejection> {
        for layer in layers {
            layer.on_handshake(request, session, now).map_err(|r| self.audited(session, layer.name(), r))?;
        }
        Ok(())
    }

    fn end_handshake(session: &mut Session, result: Result<(), Rejection>) -> Result<(), Rejection> {
        if result.is_err() {
            session.set_ticket(None);
        }
        result
    }

    fn audited(&self, session: &Session, layer: &str, rejection: Rejection) -> Rejection {
        audit::handshake_rejected(session, layer, &rejection);
        rejection
    }

    /// Whether the session may go on at `now`: its token has not expired
    /// (nor its first-message deadline passed), and it was not revoked.
    /// [`inbound`](Self::inbound) and [`outbound`](Self::outbound) check it
    /// before any layer runs.
    ///
    /// # Errors
    ///
    /// [`RejectionKind::Unauthenticated`] ("token expired" or
    /// "authentication timed out", 4401) or [`RejectionKind::Forbidden`]
    /// ("session revoked", 4403).
    pub fn check_session(&self, session: &Session, now: Instant) -> Result<(), Rejection> {
        if session.expires_at().is_some_and(|at| now >= at) {
            let reason = if session.principal().is_some() { "token expired" } else { "authentication timed out" };
            return Err(Rejection::new(RejectionKind::Unauthenticated, reason));
        }
        if session.is_revoked() {
            return Err(Rejection::new(RejectionKind::Forbidden, "session revoked"));
        }
        Ok(())
    }

    /// [`check_session`](Self::check_session) as a close frame, audited.
    pub(crate) fn session_close(
        &self,
        session: &Session,
        direction: Direction,
        now: Instant,
    ) -> Option<(CloseFrame, Rejection)> {
        let rejection = self.check_session(session, now).err()?;
        let frame = self.close_frame(&rejection);
        audit::connection_closing(session, "session", direction, &rejection, frame.code);
        Some((frame, rejection))
    }

    /// Runs the inbound hooks on one frame; the first non-pass outcome wins
    /// and is audited.
    pub fn check_inbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        self.check(Direction::Inbound, frame, session, now)
    }

    /// Runs the outbound hooks on one frame; the first non-pass outcome wins
    /// and is audited.
    pub fn check_outbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        self.check(Direction::Outbound, frame, session, now)
    }

    fn check(&self, direction: Direction, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        frame.want_tree(self.inner.trees[direction.index()]);
        for layer in &self.inner.layers {
            let outcome = match direction {
                Direction::Inbound => layer.on_inbound(frame, session, now),
                Direction::Outbound => layer.on_outbound(frame, session, now),
            };
            match &outcome {
                Outcome::Pass => continue,
                Outcome::Drop { reply } => {
                    audit::message_dropped(session, layer.name(), direction, reply.as_ref().map(|r| r.code()));
                    metrics::refused(direction, layer.name(), "dropped");
                }
                Outcome::Close(rejection) => {
                    let code = self.close_code(rejection);
                    audit::connection_closing(session, layer.name(), direction, rejection, code);
                    metrics::refused(direction, layer.name(), "closed");
                }
            }
            return outcome;
        }
        self.inner.metrics.passed(direction);
        Outcome::Pass
    }

    /// Decides what to do with a message from the client.
    ///
    /// An expired or revoked session is closed first (see
    /// [`check_session`](Self::check_session)). Control messages (ping,
    /// pong, close) are then delivered unchanged; text and binary messages
    /// go through every layer's inbound hook.
    pub fn inbound(&self, message: Message, session: &mut Session) -> Verdict {
        self.verdict(Direction::Inbound, message, session)
    }

    /// Decides what to do with a message the application sends.
    ///
    /// An outbound drop never carries a reply: the application is the sender.
    pub fn outbound(&self, message: Message, session: &mut Session) -> Verdict {
        self.verdict(Direction::Outbound, message, session)
    }

    fn verdict(&self, direction: Direction, message: Message, session: &mut Session) -> Verdict {
        self.verdict_at(direction, message, session, self.now())
    }

    /// [`inbound`](Self::inbound) or [`outbound`](Self::outbound) at a time
    /// the caller already read from the clock.
    pub(crate) fn verdict_at(
        &self,
        direction: Direction,
        message: Message,
        session: &mut Session,
        now: Instant,
    ) -> Verdict {
        if let Some((frame, rejection)) = self.session_close(session, direction, now) {
            metrics::refused(direction, "session", "closed");
            return Verdict::Close { frame, rejection };
        }
        let mut frame = match Frame::from_message(message) {
            Ok(frame) => frame,
            Err(control) => return Verdict::Deliver(control),
        };
        match self.inner.metrics.timed(direction, || self.check(direction, &mut frame, session, now)) {
            Outcome::Pass => Verdict::Deliver(frame.into_message()),
            Outcome::Drop { reply } => Verdict::Drop {
                reply: reply.filter(|_| direction == Direction::Inbound).map(|r| Message::text(r.to_json())),
            },
            Outcome::Close(rejection) => Verdict::Close { frame: self.close_frame(&rejection), rejection },
        }
    }

    /// The close code for `rejection`: the table in
    /// [`RejectionKind::wire`], unless the builder overrode that row.
    pub fn close_code(&self, rejection: &Rejection) -> CloseCode {
        self.inner
            .close_code_overrides
            .iter()
            .find(|(kind, _)| *kind == rejection.kind())
            .map_or_else(|| rejection.kind().wire().close_code, |(_, code)| *code)
    }

    /// The close frame that answers `rejection`: its close code and reason.
    pub fn close_frame(&self, rejection: &Rejection) -> CloseFrame {
        CloseFrame::new(self.close_code(rejection), rejection.reason())
    }

    /// The close that answers a message the WebSocket reader refused: over
    /// the size limits (the limits layer's 1009), or text that is not UTF-8
    /// (1007). Audited like a close a layer decides.
    pub(crate) fn close_unreadable(&self, session: &Session, failure: ReadFailure) -> (CloseFrame, Rejection) {
        let (layer, rejection) = match failure {
            ReadFailure::TooLarge => (self.inner.limits.name(), Limits::too_large()),
            ReadFailure::InvalidUtf8 => ("protocol", Rejection::new(RejectionKind::InvalidPayload, "invalid utf-8")),
        };
        let frame = self.close_frame(&rejection);
        audit::connection_closing(session, layer, Direction::Inbound, &rejection, frame.code);
        metrics::refused(Direction::Inbound, layer, "closed");
        (frame, rejection)
    }

    /// A close for a [`Liveness`] timeout (`reason` names it), audited.
    pub(crate) fn liveness_close(&self, session: &Session, reason: &'static str) -> (CloseFrame, Rejection) {
        let rejection = Rejection::new(RejectionKind::Timeout, reason);
        let frame = self.close_frame(&rejection);
        audit::connection_closing(session, "liveness", Direction::Outbound, &rejection, frame.code);
        (frame, rejection)
    }

    /// Tells every layer the connection closed. Call once per session; the
    /// adapters do.
    pub fn notify_close(&self, session: &mut Session, code: Option<CloseCode>) {
        for layer in &self.inner.layers {
            layer.on_close(session, code);
        }
    }
}

#[cfg(test)]
mod tests;
