//! The blocking adapter over `tungstenite::WebSocket<S>`.

use std::io::{self, Read, Write};

use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

use super::PeerInfo;
use crate::close::{CloseCode, CloseFrame};
use crate::error::Error;
use crate::guard::{Guard, HandshakePlan, HeadBuffer, ParsedHead, Verdict};
use crate::message::{Direction, Message};
use crate::rejection::Rejection;
use crate::session::Session;

/// Accepts a WebSocket connection on `stream`, guarded by `guard`, with the
/// guard's [`websocket_config`](Guard::websocket_config).
///
/// Reads the upgrade request (at most
/// [`Limits::max_header_bytes`](crate::layer::Limits::max_header_bytes)),
/// runs every layer's handshake hook, and answers with `101 Switching
/// Protocols` or the rejection's HTTP status.
///
/// This call blocks until the client has sent its request. To bound that
/// time against slow clients, set a read timeout on the stream first (for a
/// `TcpStream`, `set_read_timeout(Some(limits.handshake_timeout))`).
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
    let mut session = guard.new_session(stream.peer_addr()).with_tls(stream.is_tls());
    let (plan, tail) = match read_head(&mut stream, guard.limits().max_header_bytes)? {
        Ok(head) => (guard.plan_handshake(&head.request, &mut session), head.tail),
        Err(rejection) => (guard.plan_transport_rejection(&session, rejection), Vec::new()),
    };
    let config = Some(guard.clamp_config(config));
    match plan {
        HandshakePlan::Accept { response } => {
            stream.write_all(&response)?;
            stream.flush()?;
            let ws = WebSocket::from_partially_read(stream, tail, Role::Server, config);
            Ok(GuardedWebSocket { ws, guard: guard.clone(), session, close_notified: false })
        }
        HandshakePlan::Reject { response, rejection } => {
            // Best effort: the client may already be gone.
            let _ = stream.write_all(&response).and_then(|()| stream.flush());
            Err(Error::HandshakeRejected(Box::new(rejection)))
        }
        HandshakePlan::AcceptThenClose { response, close, rejection } => {
            if stream.write_all(&response).is_ok() {
                let mut ws = WebSocket::from_partially_read(stream, tail, Role::Server, config);
                let _ = ws.close(Some(close.into_tungstenite())).and_then(|()| ws.flush());
            }
            Err(Error::HandshakeRejected(Box::new(rejection)))
        }
    }
}

/// Reads the request head; the outer `Err` is an I/O failure, the inner a
/// request to refuse.
fn read_head<S: Read>(stream: &mut S, max: usize) -> io::Result<Result<ParsedHead, Rejection>> {
    let mut head = HeadBuffer::new(max);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match head.push(&chunk[..n]) {
            Ok(Some(parsed)) => return Ok(Ok(parsed)),
            Ok(None) => {}
            Err(rejection) => return Ok(Err(rejection)),
        }
    }
}

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
    guard: Guard,
    session: Session,
    close_notified: bool,
}

impl<S: Read + Write> GuardedWebSocket<S> {
    /// Reads the next message that every layer passed.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after a layer (or the size limit) closed the
    /// connection, or when the session has expired or was revoked (checked
    /// first, so a `read` that returns on a read timeout notices it);
    /// otherwise as tungstenite's `read`:
    /// [`Error::ConnectionClosed`] once the closing handshake is complete.
    pub fn read(&mut self) -> Result<Message, Error> {
        if !self.close_notified {
            let now = self.guard.now();
            if let Some((frame, rejection)) = self.guard.session_close(&self.session, Direction::Inbound, now) {
                return Err(self.send_close(frame, rejection));
            }
        }
        loop {
            let message = match self.ws.read() {
                Ok(message) => message,
                Err(e) => {
                    if let Some((frame, rejection)) = self.guard.close_unreadable(&self.session, &e) {
                        return Err(self.send_close(frame, rejection));
                    }
                    self.notify_close(None);
                    return Err(Error::from_tungstenite(e));
                }
            };
            let Some(message) = Message::from_tungstenite(message) else { continue };
            if self.close_notified && !matches!(message, Message::Close(_)) {
                // Closing: what the peer sent before it saw our close frame
                // is discarded (RFC 6455 5.5.1); a reply could not be sent.
                continue;
            }
            match self.guard.inbound(message, &mut self.session) {
                Verdict::Deliver(message) => {
                    self.notify_if_close(&message);
                    return Ok(message);
                }
                Verdict::Drop { reply: Some(reply) } => {
                    self.ws.send(reply.into_tungstenite()).map_err(Error::from_tungstenite)?
                }
                Verdict::Drop { reply: None } => {}
                Verdict::Close { frame, rejection } => return Err(self.send_close(frame, rejection)),
            }
        }
    }

    /// Runs the outbound hooks, then writes and flushes the message.
    ///
    /// A message a layer drops is not sent, and `send` returns `Ok(())`: the
    /// drop is audited, and for the client it is as if it was never sent.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if a layer closed the connection; otherwise as
    /// tungstenite's `send`.
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
        match self.guard.outbound(message, &mut self.session) {
            Verdict::Deliver(message) => {
                self.notify_if_close(&message);
                self.ws.write(message.into_tungstenite()).map_err(Error::from_tungstenite)
            }
            Verdict::Drop { .. } => Ok(()),
            Verdict::Close { frame, rejection } => Err(self.send_close(frame, rejection)),
        }
    }

    /// Flushes buffered writes (and automatic pong and close replies).
    ///
    /// # Errors
    ///
    /// As tungstenite's `flush`.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.ws.flush().map_err(Error::from_tungstenite)
    }

    /// Starts the closing handshake. Keep calling [`read`](Self::read) until
    /// it returns [`Error::ConnectionClosed`] to complete it.
    ///
    /// # Errors
    ///
    /// As tungstenite's `close`.
    pub fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.notify_close(frame.as_ref().map(|f| f.code));
        self.ws.close(frame.map(CloseFrame::into_tungstenite)).map_err(Error::from_tungstenite)
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
    /// corrupts the WebSocket stream.
    pub fn get_mut(&mut self) -> &mut S {
        self.ws.get_mut()
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

    fn send_close(&mut self, frame: CloseFrame, rejection: Rejection) -> Error {
        self.notify_close(Some(frame.code));
        // Best effort: the peer may be gone; the rejection is what matters.
        let _ = self.ws.close(Some(frame.into_tungstenite())).and_then(|()| self.ws.flush());
        Error::Closed(Box::new(rejection))
    }

    fn notify_if_close(&mut self, message: &Message) {
        if let Message::Close(frame) = message {
            self.notify_close(frame.as_ref().map(|f| f.code));
        }
    }

    fn notify_close(&mut self, code: Option<CloseCode>) {
        if !std::mem::replace(&mut self.close_notified, true) {
            self.guard.notify_close(&mut self.session, code);
        }
    }
}
