//! The blocking adapter over `tungstenite::WebSocket<S>`.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

use super::PeerInfo;
use crate::connection::{Connection, Handshake, Head, Timeout};
use crate::{CloseFrame, Error, Guard, Message, Rejection, Session, Verdict};

/// Accepts a WebSocket connection on `stream`, guarded by `guard`, with the
/// guard's [`websocket_config`](Guard::websocket_config).
///
/// Reads the upgrade request (at most
/// [`Limits::max_header_bytes`](crate::layer::Limits::max_header_bytes)),
/// runs every layer's handshake hook, and answers with `101 Switching
/// Protocols` or the rejection's HTTP status.
///
/// The adapter manages the stream's read and write timeouts through
/// [`PeerInfo`]: reads wait at most until the connection's next deadline
/// (here the [handshake timeout](crate::layer::Limits::handshake_timeout),
/// answered with 408), writes at most the
/// [write timeout](crate::Liveness::write_timeout). For a stream type whose
/// `PeerInfo` cannot set timeouts, the timers act only when a read returns.
///
/// # Errors
///
/// [`Error::HandshakeRejected`] when a layer or the request itself was
/// refused (the client has been answered), [`Error::Io`] when the stream
/// failed.
///
/// # Examples
///
/// ```no_run
/// use std::net::TcpListener;
///
/// let guard = wsguard::Guard::builder().without_auth().build()?;
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// for stream in listener.incoming() {
///     let guard = guard.clone();
///     std::thread::spawn(move || -> Result<(), wsguard::Error> {
///         let mut ws = wsguard::accept(stream?, &guard)?;
///         loop {
///             let message = ws.read()?;
///             if message.is_data() {
///                 ws.send(message)?;
///             }
///         }
///     });
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept<S>(stream: S, guard: &Guard) -> Result<GuardedWebSocket<S>, Error>
where
    S: Read + Write + PeerInfo,
{
    accept_with_config(stream, guard, guard.websocket_config())
}

/// Like [`accept`], with your own tungstenite configuration.
///
/// The configuration's message and frame sizes are lowered to the guard's
/// [`Limits`](crate::layer::Limits) if they are larger.
///
/// # Errors
///
/// As for [`accept`].
///
/// # Panics
///
/// As tungstenite, if `config.max_write_buffer_size <= config.write_buffer_size`.
pub fn accept_with_config<S>(
    mut stream: S,
    guard: &Guard,
    config: WebSocketConfig,
) -> Result<GuardedWebSocket<S>, Error>
where
    S: Read + Write + PeerInfo,
{
    let mut conn = guard.connection(stream.peer_addr()).with_tls(stream.is_tls());
    let (answer, tail) = read_head(&mut stream, &mut conn)?;
    // Best effort for refusals: the client may already be gone.
    let written = stream.write_all(answer.response()).and_then(|()| stream.flush());
    let config = Some(guard.clamp_config(config));
    match answer {
        Handshake::Accept { .. } => {
            written?;
            stream.set_write_timeout(Some(guard.liveness().write_timeout))?;
            let ws = WebSocket::from_partially_read(stream, tail, Role::Server, config);
            Ok(GuardedWebSocket { ws, conn, read_timeout: None })
        }
        Handshake::AcceptThenClose { close, rejection, .. } => {
            if written.is_ok() {
                let mut ws = WebSocket::from_partially_read(stream, tail, Role::Server, config);
                let _ = ws.close(Some(close.into())).and_then(|()| ws.flush());
            }
            Err(Error::HandshakeRejected(Box::new(rejection)))
        }
        Handshake::Reject { rejection, .. } => Err(Error::HandshakeRejected(Box::new(rejection))),
    }
}

/// Reads the request head under the handshake deadline (as read timeouts)
/// and answers it; the `Vec` holds bytes read past the head.
fn read_head<S: Read + PeerInfo>(stream: &mut S, conn: &mut Connection) -> io::Result<(Handshake, Vec<u8>)> {
    let mut chunk = vec![0u8; 1024];
    loop {
        let now = conn.guard().now();
        stream.set_read_timeout(read_timeout(conn, now))?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if super::timed_out(&e) => match conn.handle_timeout(conn.guard().now()) {
                Some(Timeout::Refuse(answer)) => return Ok((answer, Vec::new())),
                _ => continue,
            },
            Err(e) => return Err(e),
        };
        match conn.handle_head(&chunk[..n]) {
            Head::Partial => {}
            Head::Complete { request, tail } => return Ok((conn.handshake(&request), tail)),
            Head::Refused(answer) => return Ok((answer, Vec::new())),
        }
    }
}

/// How long the next read may block: until the connection's next deadline,
/// and at most [`REVOCATION_POLL`] while the session can be revoked.
fn read_timeout(conn: &Connection, now: Instant) -> Option<Duration> {
    let until_deadline = conn.poll_timeout().map(|at| at.saturating_duration_since(now));
    let poll = conn.is_open().then_some(REVOCATION_POLL);
    // A zero timeout means "block" to std: wait at least a millisecond.
    [until_deadline, poll].into_iter().flatten().min().map(|d| d.max(Duration::from_millis(1)))
}

/// How often a blocked read comes back to notice a revocation: a blocking
/// read cannot be woken, so a revoked session is closed within this time.
const REVOCATION_POLL: Duration = Duration::from_secs(1);

/// A guarded WebSocket over a blocking stream, returned by [`accept`].
///
/// It has tungstenite's verbs. [`read`](Self::read) returns only the messages
/// every layer passed: dropped messages never reach the application (their
/// error replies go to the client), and a layer's close sends the close frame
/// and returns [`Error::Closed`]. [`send`](Self::send) runs the outbound
/// hooks. Pings are answered and close handshakes completed as in tungstenite.
#[derive(Debug)]
pub struct GuardedWebSocket<S> {
    ws: WebSocket<S>,
    conn: Connection,
    /// The stream's read timeout as last set (`None`: none set).
    read_timeout: Option<Duration>,
}

impl<S: Read + Write + PeerInfo> GuardedWebSocket<S> {
    /// Reads the next message that every layer passed.
    ///
    /// While it waits, the connection's deadlines run: the read timeout of
    /// the stream is set to the next one (see [`PeerInfo::set_read_timeout`]),
    /// so pings are sent, and dead, idle, too old, expired or revoked
    /// connections are closed (revocation within a second).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after the guard closed the connection: a layer, the
    /// size limit, a liveness timeout, the token's expiry or a revocation;
    /// otherwise as tungstenite's `read`: [`Error::ConnectionClosed`] once
    /// the closing handshake is complete.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            let now = self.conn.guard().now();
            if self.conn.poll_timeout().is_some_and(|at| at <= now) {
                self.on_timeout(now)?;
                continue;
            }
            self.arm_read_timeout(read_timeout(&self.conn, now))?;
            let message = match self.ws.read() {
                Ok(message) => message,
                Err(tungstenite::Error::Io(e)) if super::timed_out(&e) => {
                    // A revocation has no deadline: look at it now.
                    self.on_timeout(self.conn.guard().now())?;
                    continue;
                }
                Err(e) => {
                    if let Some(failure) = super::read_failure(&e) {
                        let (frame, rejection) = self.conn.handle_read_failure(failure);
                        return Err(self.send_close(frame, rejection));
                    }
                    self.conn.handle_closed();
                    return Err(Error::from(e));
                }
            };
            let Ok(message) = Message::try_from(message) else { continue };
            match self.conn.handle_inbound(message) {
                Verdict::Deliver(message) => return Ok(message),
                Verdict::Drop { reply: Some(reply) } => self.ws.send(reply.into()).map_err(Error::from)?,
                Verdict::Drop { reply: None } => {}
                Verdict::Close { frame, rejection } => return Err(self.send_close(frame, rejection)),
            }
        }
    }

    /// Sets the stream's read timeout to `wanted`, unless the one set already
    /// fits: not longer (a read must come back by the deadline) and not less
    /// than half (or reads would wake too often). A read then costs no
    /// system call for the timeout in the common case.
    fn arm_read_timeout(&mut self, wanted: Option<Duration>) -> Result<(), Error> {
        let fits = match (self.read_timeout, wanted) {
            (None, None) => true,
            (Some(set), Some(wanted)) => set <= wanted && set >= wanted / 2,
            _ => false,
        };
        if !fits {
            self.ws.get_ref().set_read_timeout(wanted).map_err(Error::Io)?;
            self.read_timeout = wanted;
        }
        Ok(())
    }

    /// Acts on what is due: a ping, or a close.
    fn on_timeout(&mut self, now: Instant) -> Result<(), Error> {
        match self.conn.handle_timeout(now) {
            Some(Timeout::Ping) => self.ws.send(tungstenite::Message::Ping(Default::default())).map_err(Error::from),
            Some(Timeout::Close { frame, rejection }) => Err(self.send_close(frame, rejection)),
            Some(Timeout::Abort(rejection)) => Err(Error::Closed(Box::new(rejection))),
            _ => Ok(()),
        }
    }

    /// Runs the outbound hooks, then writes and flushes the message.
    ///
    /// A message a layer drops is not sent, and `send` returns `Ok(())`: the
    /// drop is audited, and for the client it is as if it was never sent.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if a layer closed the connection, or the peer did
    /// not read for the [`write_timeout`](crate::Liveness::write_timeout)
    /// (a slow consumer); otherwise as tungstenite's `send`.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.write(message)?;
        self.flush()
    }

    /// Runs the outbound hooks and writes the message without flushing.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn write(&mut self, message: Message) -> Result<(), Error> {
        match self.conn.send(message) {
            Verdict::Deliver(message) => {
                let written = self.ws.write(message.into());
                self.stalled(written)
            }
            Verdict::Close { frame, rejection } => Err(self.send_close(frame, rejection)),
            Verdict::Drop { .. } => Ok(()),
        }
    }

    /// Flushes buffered writes (and automatic pong and close replies).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn flush(&mut self) -> Result<(), Error> {
        let flushed = self.ws.flush();
        self.stalled(flushed)
    }

    /// A write that timed out waited the whole write timeout (the stream's
    /// write timeout): the peer is a slow consumer, and the connection is
    /// dropped without a close frame.
    fn stalled(&mut self, result: tungstenite::Result<()>) -> Result<(), Error> {
        match result {
            Err(tungstenite::Error::Io(e)) if super::timed_out(&e) => {
                let now = self.conn.guard().now();
                let since = now.checked_sub(self.conn.guard().liveness().write_timeout).unwrap_or(now);
                self.conn.set_write_blocked(Some(since));
                match self.conn.handle_timeout(self.conn.guard().now()) {
                    Some(Timeout::Abort(rejection)) => Err(Error::Closed(Box::new(rejection))),
                    _ => Err(Error::Io(e)),
                }
            }
            other => other.map_err(Error::from),
        }
    }

    /// Starts the closing handshake. Keep calling [`read`](Self::read) until
    /// it returns [`Error::ConnectionClosed`] to complete it.
    ///
    /// # Errors
    ///
    /// As tungstenite's `close`.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.conn.close(frame.as_ref());
        self.ws.close(frame.map(Into::into)).map_err(Error::from)
    }

    /// Whether messages may still be read.
    pub fn can_read(&self) -> bool {
        self.ws.can_read()
    }

    /// Whether messages may still be written.
    pub fn can_write(&self) -> bool {
        self.ws.can_write()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.ws.get_ref()
    }

    /// The underlying stream, mutably. Reading or writing it directly
    /// corrupts the WebSocket stream; its read and write timeouts belong to
    /// the adapter (they carry the connection's deadlines).
    pub fn get_mut(&mut self) -> &mut S {
        self.ws.get_mut()
    }

    /// This connection's session.
    pub fn session(&self) -> &Session {
        self.conn.session()
    }

    /// This connection's session, mutably (e.g. to set the principal after
    /// an application-level login).
    pub fn session_mut(&mut self) -> &mut Session {
        self.conn.session_mut()
    }

    /// The connection core this adapter drives.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn send_close(&mut self, frame: CloseFrame, rejection: Rejection) -> Error {
        // Best effort: the peer may be gone; the rejection is what matters.
        let _ = self.ws.close(Some(frame.into())).and_then(|()| self.ws.flush());
        Error::Closed(Box::new(rejection))
    }
}
