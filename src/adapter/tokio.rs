//! The tokio adapter over tokio-tungstenite's `WebSocketStream<S>`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, protocol::Role, protocol::WebSocketConfig};

use super::PeerInfo;
use super::coalesce::Coalesce;
use crate::connection::{Connection, Handshake, Head, Timeout};
use crate::{CloseFrame, Error, Guard, Message, Rejection, Session, Verdict};

/// How long a refused client gets to read its answer (HTTP error, or close
/// frame in accept-then-close mode) before the connection is dropped.
const REJECTION_GRACE: Duration = Duration::from_secs(2);

/// Accepts a WebSocket connection on `stream`, guarded by `guard`, with the
/// guard's [`websocket_config`](Guard::websocket_config).
///
/// Reads the upgrade request (at most
/// [`Limits::max_header_bytes`](crate::layer::Limits::max_header_bytes)),
/// runs every layer's handshake hook and answers, all within
/// [`Limits::handshake_timeout`](crate::layer::Limits::handshake_timeout):
/// a client that is too slow gets `408 Request Timeout`.
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
/// use futures_util::{SinkExt, StreamExt};
/// use tokio::net::TcpListener;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let guard = wsguard::Guard::builder().without_auth().build()?;
/// let listener = TcpListener::bind("127.0.0.1:9001").await?;
/// loop {
///     // An accept error (out of file descriptors, a reset before accept)
///     // is one connection's problem: `?` here would stop the server.
///     let stream = match listener.accept().await {
///         Ok((stream, _)) => stream,
///         Err(_) => {
///             tokio::time::sleep(std::time::Duration::from_millis(50)).await;
///             continue;
///         }
///     };
///     let guard = guard.clone();
///     tokio::spawn(async move {
///         let Ok(mut ws) = wsguard::tokio::accept(stream, &guard).await else { return };
///         while let Some(Ok(message)) = ws.next().await {
///             if message.is_data() && ws.send(message).await.is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # }
/// ```
pub async fn accept<S>(stream: S, guard: &Guard) -> Result<GuardedStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + PeerInfo,
{
    accept_with_config(stream, guard, guard.websocket_config()).await
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
pub async fn accept_with_config<S>(stream: S, guard: &Guard, config: WebSocketConfig) -> Result<GuardedStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + PeerInfo,
{
    // The handshake's state (its read buffer, an async verifier's future:
    // about 2 KiB) lives in a box freed when the handshake ends. Unboxed it
    // would sit in the caller's task, whose size is fixed at spawn, for the
    // whole life of every connection.
    Box::pin(handshake(stream, guard, config)).await
}

async fn handshake<S>(mut stream: S, guard: &Guard, config: WebSocketConfig) -> Result<GuardedStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + PeerInfo,
{
    let mut conn = guard.connection(stream.peer_addr()).with_tls(stream.is_tls());
    let (answer, tail) = answer(&mut stream, &mut conn).await?;
    let config = Some(guard.clamp_config(config));
    match answer {
        Handshake::Accept { response } => {
            match timeout(remaining(&conn), stream.write_all(&response)).await {
                Ok(written) => written?,
                Err(_elapsed) => return Err(Error::Io(io::ErrorKind::TimedOut.into())),
            }
            let ws = WebSocketStream::from_partially_read(Coalesce::new(stream), tail, Role::Server, config).await;
            Ok(GuardedStream::new(ws, conn))
        }
        Handshake::Reject { response, rejection } => {
            let _ = timeout(REJECTION_GRACE, async {
                stream.write_all(&response).await?;
                stream.shutdown().await
            })
            .await;
            Err(Error::HandshakeRejected(Box::new(rejection)))
        }
        Handshake::AcceptThenClose { response, close, rejection } => {
            let _ = timeout(REJECTION_GRACE, async {
                stream.write_all(&response).await?;
                let mut ws = WebSocketStream::from_partially_read(stream, tail, Role::Server, config).await;
                ws.close(Some(close.into_tungstenite())).await.map_err(io::Error::other)?;
                // Wait for the client's close reply, so that closing the TCP
                // connection cannot reset it before the close frame is read.
                while let Some(Ok(_)) = futures_util::StreamExt::next(&mut ws).await {}
                Ok::<_, io::Error>(())
            })
            .await;
            Err(Error::HandshakeRejected(Box::new(rejection)))
        }
    }
}

/// Reads the request head and answers it (awaiting an async verifier), all
/// before the connection's handshake deadline; the `Vec` holds bytes read
/// past the head.
async fn answer<S>(stream: &mut S, conn: &mut Connection) -> Result<(Handshake, Vec<u8>), Error>
where
    S: AsyncRead + Unpin,
{
    let mut chunk = vec![0u8; 1024];
    let (request, tail) = loop {
        // Reading is cancel-safe: a timeout loses no byte.
        let Ok(read) = timeout(remaining(conn), stream.read(&mut chunk)).await else {
            match conn.handle_timeout(conn.guard().now()) {
                Some(Timeout::Refuse(answer)) => return Ok((answer, Vec::new())),
                _ => continue,
            }
        };
        let n = read?;
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match conn.handle_head(&chunk[..n]) {
            Head::Partial => {}
            Head::Complete { request, tail } => break (request, tail),
            Head::Refused(answer) => return Ok((answer, Vec::new())),
        }
    };
    if let Ok(answer) = timeout(remaining(conn), conn.handshake_async(&request)).await {
        return Ok((answer, tail));
    }
    // The verifier outlived the deadline: refuse once the guard's clock
    // agrees (at once, unless it is a manual clock in a test).
    loop {
        if let Some(Timeout::Refuse(answer)) = conn.handle_timeout(conn.guard().now()) {
            return Ok((answer, Vec::new()));
        }
        tokio::time::sleep(remaining(conn)).await;
    }
}

/// Real time until the connection's next deadline on the guard's clock.
fn remaining(conn: &Connection) -> Duration {
    conn.poll_timeout().map_or(Duration::from_secs(3600), |at| at.saturating_duration_since(conn.guard().now()))
}

/// A guarded WebSocket over an async stream, returned by [`accept`].
///
/// It is a [`Stream`] of the messages every layer passed and a [`Sink`] of
/// messages to send through the outbound hooks, like tokio-tungstenite's
/// `WebSocketStream`, and can be [`split`](futures_util::StreamExt::split).
/// Dropped inbound messages never reach the application; their error replies
/// are sent while reading. When a layer closes the connection, the close
/// frame is flushed and the stream (or sink) yields [`Error::Closed`] once;
/// keep polling to complete the closing handshake, or drop it.
#[derive(Debug)]
pub struct GuardedStream<S> {
    ws: WebSocketStream<Coalesce<S>>,
    conn: Connection,
    /// A reply, ping or close frame produced while reading, not yet handed
    /// to the sink.
    pending: Option<tungstenite::Message>,
    /// Whether replies may still sit in tungstenite's write buffer.
    unflushed: bool,
    /// A guard-initiated close to report once its frame is flushed.
    closing: Option<Rejection>,
    /// Fires at the connection's next deadline; `armed` is that deadline on
    /// the guard's clock.
    timer: Pin<Box<Sleep>>,
    armed: Option<std::time::Instant>,
}

impl<S> GuardedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn new(ws: WebSocketStream<Coalesce<S>>, conn: Connection) -> Self {
        let timer = Box::pin(tokio::time::sleep(Duration::ZERO));
        Self { ws, conn, pending: None, unflushed: false, closing: None, timer, armed: None }
    }

    /// This connection's session.
    pub fn session(&self) -> &Session {
        self.conn.session()
    }

    /// This connection's session, mutably.
    pub fn session_mut(&mut self) -> &mut Session {
        self.conn.session_mut()
    }

    /// The connection core this adapter drives.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.ws.get_ref().inner
    }

    /// The underlying stream, mutably. Reading or writing it directly
    /// corrupts the WebSocket stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.ws.get_mut().inner
    }

    /// Sends a close frame and flushes it.
    ///
    /// # Errors
    ///
    /// As the sink's `send`.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.send(Message::Close(frame)).await
    }

    /// Hands a pending reply, ping or close frame to tungstenite.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(message) = self.pending.take() {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    Pin::new(&mut self.ws).start_send(message).map_err(Error::from_tungstenite)?;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::from_tungstenite(e))),
                Poll::Pending => {
                    self.pending = Some(message);
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Once a guard-initiated close frame is flushed, the error to report.
    fn poll_closing(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        if self.closing.is_none() {
            return Poll::Ready(None);
        }
        // Best effort: a flush failure must not hide the rejection.
        let _ = ready!(Pin::new(&mut self.ws).poll_flush(cx));
        self.unflushed = false;
        Poll::Ready(self.closing.take().map(|r| Error::Closed(Box::new(r))))
    }

    /// Acts on what the connection has due (a ping, a close, an abort), and
    /// otherwise arranges to be woken at its next deadline or revocation.
    /// `Ready(None)` when something was queued (the caller loops),
    /// `Ready(Some(error))` on an abort, `Pending` when nothing is due.
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        self.conn.register_waker(cx.waker());
        loop {
            let now = self.conn.guard().now();
            let due = self.conn.poll_timeout();
            // A revocation has no deadline: the waker brought us here.
            if due.is_some_and(|at| at <= now) || self.conn.session().is_revoked() {
                match self.conn.handle_timeout(now) {
                    Some(Timeout::Ping) => self.pending = Some(tungstenite::Message::Ping(Default::default())),
                    Some(Timeout::Close { frame, rejection }) => self.start_close(frame, rejection),
                    Some(Timeout::Abort(rejection)) => return Poll::Ready(Some(Error::Closed(Box::new(rejection)))),
                    Some(Timeout::Refuse(_)) | None => return Poll::Pending,
                }
                return Poll::Ready(None);
            }
            let Some(at) = due else { return Poll::Pending };
            // Activity only moves deadlines later, so a timer armed for an
            // earlier one is left alone (it wakes us early once, and is
            // re-armed then): no timer-wheel update per message.
            if self.armed.is_none_or(|armed| armed > at) || self.timer.is_elapsed() {
                let wait = at.saturating_duration_since(now);
                self.timer.as_mut().reset(tokio::time::Instant::now() + wait);
                self.armed = Some(at);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.armed = None;
        }
    }

    /// Records whether a send waits for the peer, and aborts a slow consumer
    /// once it has waited the write timeout.
    fn poll_stall(&mut self, cx: &mut Context<'_>, waiting: bool) -> Option<Error> {
        if !waiting {
            self.conn.set_write_blocked(None);
            return None;
        }
        let now = self.conn.guard().now();
        self.conn.set_write_blocked(Some(now));
        match self.poll_deadlines(cx) {
            Poll::Ready(Some(error)) => Some(error),
            _ => None,
        }
    }

    fn start_close(&mut self, frame: CloseFrame, rejection: Rejection) {
        self.pending = Some(tungstenite::Message::Close(Some(frame.into_tungstenite())));
        self.closing = Some(rejection);
    }
}

impl<S> Stream for GuardedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Err(e) = ready!(this.poll_send_pending(cx)) {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(error) = ready!(this.poll_closing(cx)) {
                return Poll::Ready(Some(Err(error)));
            }
            if this.conn.is_open() {
                match this.poll_deadlines(cx) {
                    Poll::Ready(Some(error)) => return Poll::Ready(Some(Err(error))),
                    Poll::Ready(None) => continue,
                    Poll::Pending => {}
                }
            }
            // Push replies out without holding up reading; a pending flush
            // has registered the waker and is retried on the next poll.
            if this.unflushed
                && let Poll::Ready(flushed) = Pin::new(&mut this.ws).poll_flush(cx)
            {
                this.unflushed = false;
                flushed.map_err(Error::from_tungstenite)?;
            }
            let message = match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    if let Some(failure) = super::read_failure(&e) {
                        let (frame, rejection) = this.conn.handle_read_failure(failure);
                        this.start_close(frame, rejection);
                        continue;
                    }
                    this.conn.handle_closed();
                    return Poll::Ready(Some(Err(Error::from_tungstenite(e))));
                }
                None => {
                    this.conn.handle_closed();
                    return Poll::Ready(None);
                }
            };
            let Some(message) = Message::from_tungstenite(message) else { continue };
            match this.conn.handle_inbound(message) {
                Verdict::Deliver(message) => return Poll::Ready(Some(Ok(message))),
                Verdict::Drop { reply } => this.pending = reply.map(Message::into_tungstenite),
                Verdict::Close { frame, rejection } => this.start_close(frame, rejection),
            }
        }
    }
}

impl<S> Sink<Message> for GuardedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        let ready = Pin::new(&mut this.ws).poll_ready(cx);
        if let Some(error) = this.poll_stall(cx, ready.is_pending()) {
            return Poll::Ready(Err(error));
        }
        ready.map_err(Error::from_tungstenite)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let this = self.get_mut();
        match this.conn.send(message) {
            Verdict::Deliver(message) => {
                Pin::new(&mut this.ws).start_send(message.into_tungstenite()).map_err(Error::from_tungstenite)
            }
            Verdict::Drop { .. } => Ok(()),
            Verdict::Close { frame, rejection } => {
                // Reported by the next flush, once the close frame is out.
                this.start_close(frame, rejection);
                Ok(())
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        if let Some(error) = ready!(this.poll_closing(cx)) {
            return Poll::Ready(Err(error));
        }
        let flushed = Pin::new(&mut this.ws).poll_flush(cx);
        if let Some(error) = this.poll_stall(cx, flushed.is_pending()) {
            return Poll::Ready(Err(error));
        }
        ready!(flushed).map_err(Error::from_tungstenite)?;
        this.unflushed = false;
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        this.conn.handle_closed();
        Pin::new(&mut this.ws).poll_close(cx).map_err(Error::from_tungstenite)
    }
}

impl PeerInfo for tokio::net::TcpStream {
    fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        tokio::net::TcpStream::peer_addr(self).ok()
    }
}

#[cfg(unix)]
impl PeerInfo for tokio::net::UnixStream {
    fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

impl PeerInfo for tokio::io::DuplexStream {
    fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

/// A TLS stream from `tokio-rustls` (feature `tokio-rustls`): its peer is
/// the TCP stream's, and it is TLS, so
/// [`TransportPolicy::require_tls`](crate::layer::TransportPolicy::require_tls)
/// admits it.
#[cfg(feature = "tokio-rustls")]
impl<S: PeerInfo> PeerInfo for tokio_rustls::server::TlsStream<S> {
    fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.get_ref().0.peer_addr()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
