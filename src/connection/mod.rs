//! [`Connection`]: one connection's sans-IO state machine. It owns every
//! decision and every deadline; the adapters are drivers over its public API.
//!
//! ```text
//!            bytes of the request head ──► handle_head ──► Head::Complete(request)
//!                             request ──► handshake(_async) ──► Handshake (101, HTTP error, or 101 + close)
//!  message read from the socket ──► handle_inbound ──► Verdict (deliver, drop + reply, close)
//!  message the application sends ──► send ──► Verdict
//!                                     poll_timeout ──► the next deadline, on the guard's clock
//!                                handle_timeout(now) ──► Timeout (ping, close, abort, 408)
//! ```
//!
//! A driver loops: read what arrived and feed it, write what the verdicts
//! and timeouts ask for, and sleep until [`Connection::poll_timeout`] (or
//! until the socket is readable, or the revocation waker fires). All time
//! comes from the guard's [`Clock`](crate::time::Clock), so every timer can
//! be driven with [`ManualClock`](crate::time::ManualClock) in tests, with
//! no socket.
//!
//! # Example: a connection driven by hand
//!
//! ```
//! use std::time::Duration;
//! use wsguard::connection::{Head, Timeout};
//! use wsguard::time::ManualClock;
//! use wsguard::{Guard, Liveness, Message, Verdict};
//!
//! let clock = ManualClock::new();
//! let liveness = Liveness::default().ping_interval(Some(Duration::from_secs(30)));
//! let guard = Guard::builder().without_auth().liveness(liveness).clock(clock.clone()).build()?;
//! let mut conn = guard.connection(None);
//!
//! let head = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
//!             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
//! let Head::Complete { request, .. } = conn.handle_head(head.as_bytes()) else { panic!() };
//! assert!(conn.handshake(&request).is_accept());
//!
//! assert_eq!(conn.handle_inbound(Message::text("hi")), Verdict::Deliver(Message::text("hi")));
//! clock.advance(Duration::from_secs(30));
//! assert_eq!(conn.poll_timeout(), Some(guard.now()));
//! assert!(matches!(conn.handle_timeout(guard.now()), Some(Timeout::Ping)));
//! # Ok::<(), wsguard::ConfigError>(())
//! ```

use std::net::SocketAddr;
use std::task::Waker;
use std::time::Instant;

use crate::audit::{self, Traffic};
use crate::close::{CloseCode, CloseFrame};
use crate::guard::{Guard, HeadBuffer, Verdict, too_large};
use crate::layer::HandshakeRequest;
use crate::layer::{ProxyHeader, proxy_header};
use crate::message::{Direction, Message};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

pub use crate::guard::Handshake;

/// Progress of reading the request head, from [`Connection::handle_head`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Head {
    /// The head is not complete yet: read more bytes.
    Partial,
    /// The head is complete: answer it with [`Connection::handshake`].
    Complete {
        /// The parsed upgrade request.
        request: HandshakeRequest,
        /// Bytes read past the head: the first WebSocket frames, to hand to
        /// the WebSocket reader.
        tail: Vec<u8>,
    },
    /// The head is refused (too large: 431, or malformed: 400): write the
    /// answer and drop the connection.
    Refused(Handshake),
}

/// What a deadline asks for, from [`Connection::handle_timeout`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Timeout {
    /// Send a ping (the heartbeat is due).
    Ping,
    /// Send `frame` and close: the token expired, the first-message
    /// deadline passed, the session was revoked, or a liveness timeout
    /// (no pong, idle, lifetime) struck.
    Close {
        /// The close frame to send.
        frame: CloseFrame,
        /// Why.
        rejection: Rejection,
    },
    /// Drop the connection without a close frame: a send waited longer
    /// than the write timeout, so the peer is not reading.
    Abort(Rejection),
    /// The handshake timed out: write the answer (408) and drop the
    /// connection.
    Refuse(Handshake),
}

/// Why the WebSocket reader could not read a message, for
/// [`Connection::handle_read_failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadFailure {
    /// The message or a frame was over the size limits (tungstenite's
    /// capacity error).
    TooLarge,
    /// A text message was not UTF-8.
    InvalidUtf8,
}

/// Where the connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading the request head, until the handshake deadline.
    Handshake { deadline: Instant },
    /// Upgraded: messages flow.
    Open,
    /// A close was sent or received, or the connection ended.
    Closed,
}

/// The liveness timers, on the guard's clock.
#[derive(Clone, Copy, Debug)]
struct Timers {
    opened: Instant,
    /// The last frame of any kind received.
    last_frame: Instant,
    /// The last text or binary message received.
    last_data: Instant,
    /// When the unanswered ping was sent.
    ping_sent: Option<Instant>,
    /// Since when a send has been waiting for the peer.
    write_blocked: Option<Instant>,
}

/// One connection's sans-IO state: the handshake, the verdicts on its
/// messages, and its deadlines (heartbeat, pong, idle, lifetime, token
/// expiry, first-message deadline, write stall, handshake timeout). Made by
/// [`Guard::connection`].
///
/// Methods come in four kinds, after quinn-proto's `Connection`: getters
/// ([`session`](Self::session)); `handle_*` for what arrives from the
/// network or the clock; mutators for what the application asks
/// ([`send`](Self::send), [`close`](Self::close)); and
/// [`poll_timeout`](Self::poll_timeout) for when to come back.
///
/// See the [module docs](self) for the driver loop.
#[derive(Debug)]
pub struct Connection {
    guard: Guard,
    session: Session,
    head: Option<HeadBuffer>,
    /// While a trusted proxy's PROXY protocol header is expected: the bytes
    /// read so far.
    proxy_header: Option<Vec<u8>>,
    phase: Phase,
    timers: Timers,
    /// What the connection carried, for its `connection_closed` event.
    traffic: Traffic,
    close_notified: bool,
    waker: Option<Waker>,
}

impl Guard {
    /// The sans-IO state for a new connection from `peer`, with its
    /// handshake deadline starting now.
    pub fn connection(&self, peer: Option<SocketAddr>) -> Connection {
        let now = self.now();
        let timers = Timers { opened: now, last_frame: now, last_data: now, ping_sent: None, write_blocked: None };
        let expects_proxy_header = self
            .trusted_proxies()
            .is_some_and(|p| p.expects_proxy_protocol() && peer.is_some_and(|peer| p.contains(peer.ip())));
        Connection {
            guard: self.clone(),
            session: self.new_session(peer),
            head: None,
            proxy_header: expects_proxy_header.then(Vec::new),
            phase: Phase::Handshake { deadline: now + self.limits().handshake_timeout },
            timers,
            traffic: Traffic::default(),
            close_notified: false,
            waker: None,
        }
    }
}

impl Connection {
    /// Marks the transport as TLS (drivers do this for TLS streams).
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.session.set_tls(tls);
        self
    }

    /// The guard this connection belongs to.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// This connection's session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// This connection's session, mutably (e.g. to set the principal after
    /// an application-level login).
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Whether the connection is upgraded and not closing.
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Feeds bytes of the request head (after a trusted proxy's PROXY
    /// protocol header, when [`TrustedProxies::proxy_protocol`](crate::layer::TrustedProxies::proxy_protocol)
    /// is on), at most
    /// [`Limits::max_header_bytes`](crate::layer::Limits::max_header_bytes)
    /// in all.
    pub fn handle_head(&mut self, bytes: &[u8]) -> Head {
        if let Some(mut read) = self.proxy_header.take() {
            read.extend_from_slice(bytes);
            return match proxy_header(&read) {
                ProxyHeader::Partial => {
                    self.proxy_header = Some(read);
                    Head::Partial
                }
                ProxyHeader::Complete { len, client } => {
                    if let Some(proxy) = self.session.peer_addr() {
                        self.session.set_forwarded(proxy, client, false);
                    }
                    self.handle_head(&read[len..])
                }
                ProxyHeader::Invalid => {
                    let rejection = Rejection::new(RejectionKind::BadRequest, "malformed proxy protocol header");
                    Head::Refused(self.refuse(rejection))
                }
            };
        }
        let max = self.guard.limits().max_header_bytes;
        let head = self.head.get_or_insert_with(|| HeadBuffer::new(max));
        match head.push(bytes) {
            Ok(None) => Head::Partial,
            Ok(Some(parsed)) => {
                self.head = None;
                Head::Complete { request: parsed.request, tail: parsed.tail }
            }
            Err(rejection) => {
                self.head = None;
                Head::Refused(self.refuse(rejection))
            }
        }
    }

    /// Answers the upgrade request: runs every layer's handshake check with
    /// a synchronous verifier. A request whose head is larger than
    /// [`Limits::max_header_bytes`](crate::layer::Limits::max_header_bytes)
    /// is refused with 431, however it arrived. The answer is a 101 (with the chosen
    /// subprotocol, never a token), an HTTP error, or in accept-then-close
    /// mode a 101 followed by a close frame.
    pub fn handshake(&mut self, request: &HandshakeRequest) -> Handshake {
        if let Some(refused) = self.oversized(request) {
            return refused;
        }
        let answer = self.guard.plan_handshake(request, &mut self.session);
        self.answered(answer)
    }

    /// A request that did not come through [`handle_head`](Self::handle_head)
    /// (a framework parsed it) is held to the same head-size limit: 431.
    fn oversized(&mut self, request: &HandshakeRequest) -> Option<Handshake> {
        let target = request.uri().path_and_query().map_or(1, |p| p.as_str().len());
        let headers: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
        let size = request.method().as_str().len() + target + " HTTP/1.1\r\n\r\n".len() + 1 + headers;
        (size > self.guard.limits().max_header_bytes).then(|| self.refuse(too_large()))
    }

    /// Like [`handshake`](Self::handshake), awaiting an
    /// [`AsyncVerifier`](crate::auth::AsyncVerifier). The future does no I/O
    /// of its own; bound it with the handshake deadline
    /// ([`poll_timeout`](Self::poll_timeout)).
    pub async fn handshake_async(&mut self, request: &HandshakeRequest) -> Handshake {
        if let Some(refused) = self.oversized(request) {
            return refused;
        }
        let answer = self.guard.plan_handshake_async(request, &mut self.session).await;
        self.answered(answer)
    }

    fn answered(&mut self, answer: Handshake) -> Handshake {
        crate::metrics::handshake(answer.rejection());
        if answer.is_accept() {
            let now = self.guard.now();
            audit::connection_opened(&self.session);
            self.phase = Phase::Open;
            self.timers = Timers { opened: now, last_frame: now, last_data: now, ping_sent: None, write_blocked: None };
        } else {
            self.phase = Phase::Closed;
        }
        answer
    }

    fn refuse(&mut self, rejection: Rejection) -> Handshake {
        crate::metrics::handshake(Some(&rejection));
        self.phase = Phase::Closed;
        self.guard.plan_transport_rejection(&self.session, rejection)
    }

    /// Decides on a message read from the socket; the session's expiry and
    /// revocation are checked first (once). Pings, pongs and close frames
    /// are delivered (the WebSocket library answers pings and close frames).
    /// While closing, data messages are discarded (RFC 6455 5.5.1): the
    /// verdict is a drop without a reply.
    pub fn handle_inbound(&mut self, message: Message) -> Verdict {
        let now = self.guard.now();
        self.timers.last_frame = now;
        self.timers.ping_sent = None;
        if message.is_data() {
            self.timers.last_data = now;
            self.traffic.messages_in += 1;
            self.traffic.bytes_in += message.len() as u64;
        }
        match (self.phase, &message) {
            (Phase::Open, _) => {}
            // The peer's answer to a close: nothing more to decide.
            (_, Message::Close(_)) => {
                self.closing(None, "peer");
                return Verdict::Deliver(message);
            }
            _ => return Verdict::Drop { reply: None },
        }
        let verdict = self.guard.verdict_at(Direction::Inbound, message, &mut self.session, now);
        self.after(&verdict, "peer");
        verdict
    }

    /// Decides on a message the application sends: the outbound hooks.
    pub fn send(&mut self, message: Message) -> Verdict {
        let verdict = self.guard.outbound(message, &mut self.session);
        if let Verdict::Deliver(message) = &verdict
            && message.is_data()
        {
            self.traffic.messages_out += 1;
            self.traffic.bytes_out += message.len() as u64;
        }
        self.after(&verdict, "app");
        verdict
    }

    /// The close that answers a message the WebSocket reader refused:
    /// 1009 for one over the size limits, 1007 for text that is not UTF-8.
    /// Audited like a close a layer decides.
    pub fn handle_read_failure(&mut self, failure: ReadFailure) -> (CloseFrame, Rejection) {
        let (frame, rejection) = self.guard.close_unreadable(&self.session, failure);
        self.closing(Some(frame.code), "guard");
        (frame, rejection)
    }

    /// The application closes the connection (with `frame`, or none).
    pub fn close(&mut self, frame: Option<&CloseFrame>) {
        self.closing(frame.map(|f| f.code), "app");
    }

    /// The connection ended (the peer went away, or an I/O error): tells
    /// every layer once.
    pub fn handle_closed(&mut self) {
        self.closing(None, "transport");
    }

    /// Tells the connection since when a send has been waiting for the
    /// peer to read (`None`: no send is waiting). After
    /// [`Liveness::write_timeout`](crate::Liveness::write_timeout) of
    /// waiting, [`handle_timeout`](Self::handle_timeout) answers
    /// [`Timeout::Abort`]. An earlier `since` already given is kept.
    pub fn set_write_blocked(&mut self, since: Option<Instant>) {
        self.timers.write_blocked = since.map(|since| self.timers.write_blocked.map_or(since, |t| t.min(since)));
    }

    /// Wakes `waker` when the session is revoked, so that a driver waiting
    /// on a silent socket comes back and calls
    /// [`handle_timeout`](Self::handle_timeout), which closes it with 4403.
    /// Cheap when called again with the same waker.
    pub fn register_waker(&mut self, waker: &Waker) {
        if self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            return;
        }
        if let Some(ticket) = self.session.ticket() {
            ticket.control.register_waker(waker);
            self.waker = Some(waker.clone());
        }
    }

    /// The next deadline, on the guard's clock: the handshake timeout while
    /// handshaking; then the earliest of the token expiry (or first-message
    /// deadline), the heartbeat, the pong, the idle timeout, the lifetime
    /// cap and a waiting send's write timeout. `None` when nothing is due
    /// (or the connection is closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Handshake { deadline } => Some(deadline),
            Phase::Closed => None,
            Phase::Open => {
                let (liveness, timers) = (self.guard.liveness(), &self.timers);
                let ping = liveness.ping_interval.filter(|_| timers.ping_sent.is_none()).map(|d| timers.last_frame + d);
                [
                    self.session.expires_at(),
                    liveness.max_lifetime.map(|d| timers.opened + d),
                    liveness.idle_timeout.map(|d| timers.last_data + d),
                    timers.ping_sent.map(|at| at + liveness.pong_timeout),
                    timers.write_blocked.map(|at| at + liveness.write_timeout),
                    ping,
                ]
                .into_iter()
                .flatten()
                .min()
            }
        }
    }

    /// What is due at `now` (call it when the deadline from
    /// [`poll_timeout`](Self::poll_timeout) passes, or the revocation waker
    /// fires): at most one action per call, the most severe first; call
    /// again until it answers `None`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Timeout> {
        match self.phase {
            Phase::Open => {}
            Phase::Closed => return None,
            Phase::Handshake { deadline } if now < deadline => return None,
            Phase::Handshake { .. } => {
                let rejection = Rejection::new(RejectionKind::Timeout, "handshake timed out");
                return Some(Timeout::Refuse(self.refuse(rejection)));
            }
        }
        if let Some((frame, rejection)) = self.guard.session_close(&self.session, Direction::Inbound, now) {
            self.closing(Some(frame.code), "guard");
            return Some(Timeout::Close { frame, rejection });
        }
        let (liveness, timers) = (*self.guard.liveness(), self.timers);
        if timers.write_blocked.is_some_and(|at| now >= at + liveness.write_timeout) {
            // The peer is not reading: no close frame could reach it.
            let (frame, rejection) = self.guard.liveness_close(&self.session, "send timed out");
            self.closing(Some(frame.code), "guard");
            return Some(Timeout::Abort(rejection));
        }
        let expired = [
            (liveness.max_lifetime.map(|d| timers.opened + d), "connection lifetime exceeded"),
            (liveness.idle_timeout.map(|d| timers.last_data + d), "idle timeout"),
            (timers.ping_sent.map(|at| at + liveness.pong_timeout), "no pong"),
        ];
        if let Some((_, reason)) = expired.into_iter().find(|(at, _)| at.is_some_and(|at| now >= at)) {
            let (frame, rejection) = self.guard.liveness_close(&self.session, reason);
            self.closing(Some(frame.code), "guard");
            return Some(Timeout::Close { frame, rejection });
        }
        let ping = liveness.ping_interval.filter(|_| timers.ping_sent.is_none()).map(|d| timers.last_frame + d);
        if ping.is_some_and(|at| now >= at) {
            self.timers.ping_sent = Some(now);
            return Some(Timeout::Ping);
        }
        None
    }

    /// Closes on a close frame delivered (by `sender`) or a close verdict
    /// (by the guard).
    fn after(&mut self, verdict: &Verdict, sender: &'static str) {
        match verdict {
            Verdict::Deliver(Message::Close(frame)) => self.closing(frame.as_ref().map(|f| f.code), sender),
            Verdict::Close { frame, .. } => self.closing(Some(frame.code), "guard"),
            _ => {}
        }
    }

    /// Enters the closing phase and, once, tells every layer and the audit
    /// trail (`by`: who closed it).
    fn closing(&mut self, code: Option<CloseCode>, by: &'static str) {
        let was_open = self.phase == Phase::Open;
        self.phase = Phase::Closed;
        if !std::mem::replace(&mut self.close_notified, true) {
            self.guard.notify_close(&mut self.session, code);
            if was_open {
                let lived = self.guard.now().saturating_duration_since(self.timers.opened);
                let traffic = Traffic { duration_ms: lived.as_millis().try_into().unwrap_or(u64::MAX), ..self.traffic };
                audit::connection_closed(&self.session, code, by, &traffic);
                crate::metrics::closed(code, by == "peer");
            }
        }
    }
}

impl Drop for Connection {
    /// An open connection dropped without a close (a driver's task ended):
    /// closed by the transport, so layers, the audit trail and the
    /// connection gauge hear of it once.
    fn drop(&mut self) {
        if self.phase == Phase::Open {
            self.handle_closed();
        }
    }
}

#[cfg(test)]
mod tests;
