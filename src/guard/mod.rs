//! The [`Guard`]: an ordered stack of layers, built once, shared by all connections.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tungstenite::protocol::WebSocketConfig;

use crate::audit;
use crate::close::{CloseCode, CloseFrame};
use crate::layer::{HandshakeRequest, Layer, Limits};
use crate::message::{Direction, Frame, Message};
use crate::outcome::Outcome;
use crate::rejection::{Rejection, RejectionKind};
use crate::session::{ConnectionId, Session};
use crate::time::Clock;

mod builder;
mod handshake;

pub use builder::GuardBuilder;
pub(crate) use handshake::{HandshakePlan, HeadBuffer, ParsedHead};

/// How a refused handshake is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
/// The [`Limits`] layer always runs first; the layers added to the builder
/// follow in the order they were added, for the handshake and for both
/// directions. The first layer that does not pass decides, and later layers
/// do not see the message. Put cheap checks (size, rate) before costly ones
/// (schema validation, PII scrubbing).
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
    /// Limits first, then the builder's layers.
    layers: Vec<Arc<dyn Layer>>,
    /// The same layer as `layers[0]`, kept typed for its settings.
    limits: Arc<Limits>,
    clock: Arc<dyn Clock>,
    websocket_config: WebSocketConfig,
    handshake_rejection: HandshakeRejection,
    close_code_overrides: Vec<(RejectionKind, CloseCode)>,
    next_id: AtomicU64,
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
    /// Starts building a guard.
    pub fn builder() -> GuardBuilder {
        GuardBuilder::new()
    }

    /// A fresh session for a new connection from `peer_addr`, with a unique id.
    pub fn new_session(&self, peer_addr: Option<std::net::SocketAddr>) -> Session {
        let id = ConnectionId::new(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        Session::new(id, peer_addr, self.now())
    }

    /// The current instant, from the guard's clock.
    pub fn now(&self) -> Instant {
        self.inner.clock.now()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
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

    /// `config` with its message and frame limits lowered to the guard's.
    pub(crate) fn clamp_config(&self, config: WebSocketConfig) -> WebSocketConfig {
        let limits = &self.inner.limits;
        let clamp = |own: Option<usize>, limit: usize| Some(own.map_or(limit, |own| own.min(limit)));
        let message = clamp(config.max_message_size, limits.max_message_size);
        let frame = clamp(config.max_frame_size, limits.max_frame_size);
        config.max_message_size(message).max_frame_size(frame)
    }

    /// Runs the handshake hooks of every layer, in order.
    ///
    /// Records the request's `Origin` and offered subprotocols on the
    /// session first. The first rejection stops the stack and is audited.
    ///
    /// # Errors
    ///
    /// The first layer's rejection. Answer it with
    /// [`Rejection::to_http_response`], or in accept-then-close mode with
    /// [`close_frame`](Self::close_frame).
    pub fn check_handshake(&self, request: &HandshakeRequest, session: &mut Session) -> Result<(), Rejection> {
        session.record_request(request);
        let now = self.now();
        for layer in &self.inner.layers {
            if let Err(rejection) = layer.on_handshake(request, session, now) {
                audit::handshake_rejected(session, layer.name(), &rejection);
                return Err(rejection);
            }
        }
        Ok(())
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
        for layer in &self.inner.layers {
            let outcome = match direction {
                Direction::Inbound => layer.on_inbound(frame, session, now),
                Direction::Outbound => layer.on_outbound(frame, session, now),
            };
            match &outcome {
                Outcome::Pass => continue,
                Outcome::Drop { reply } => {
                    audit::message_dropped(session, layer.name(), direction, reply.as_ref().map(|r| r.code()));
                }
                Outcome::Close(rejection) => {
                    let code = self.close_code(rejection);
                    audit::connection_closed(session, layer.name(), direction, rejection, code);
                }
            }
            return outcome;
        }
        Outcome::Pass
    }

    /// Decides what to do with a message from the client.
    ///
    /// Control messages (ping, pong, close) are delivered unchanged; text and
    /// binary messages go through every layer's inbound hook.
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
        let mut frame = match Frame::from_message(message) {
            Ok(frame) => frame,
            Err(control) => return Verdict::Deliver(control),
        };
        let now = self.now();
        match self.check(direction, &mut frame, session, now) {
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

    /// The limits layer's verdict on a message that tungstenite refused while
    /// reading it, because it exceeded the size limits: audited like any
    /// close the layer decides itself.
    pub(crate) fn close_oversized(&self, session: &Session) -> (CloseFrame, Rejection) {
        let rejection = Limits::too_large();
        let frame = self.close_frame(&rejection);
        audit::connection_closed(session, self.inner.limits.name(), Direction::Inbound, &rejection, frame.code);
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
