//! The tokio adapter over tokio-tungstenite's `WebSocketStream<S>`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, protocol::Role, protocol::WebSocketConfig};

use super::PeerInfo;
use super::coalesce::Coalesce;
use crate::close::{CloseCode, CloseFrame};
use crate::error::Error;
use crate::guard::{Guard, HandshakePlan, HeadBuffer, ParsedHead, Verdict};
use crate::message::{Direction, Message};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

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
    let mut session = guard.new_session(stream.peer_addr()).with_tls(stream.is_tls());
    let deadline = Instant::now() + guard.limits().handshake_timeout;
    let head = match timeout_at(deadline, read_head(&mut stream, guard.limits().max_header_bytes)).await {
        Ok(Ok(head)) => head,
        Ok(Err(io)) => return Err(Error::Io(io)),
        Err(_elapsed) => Err(Rejection::new(RejectionKind::Timeout, "handshake timed out")),
    };
    // The request is fully read before anything is answered, so an async
    // verifier (an identity provider) is awaited here, within the same deadline.
    let (plan, tail) = match head {
        Ok(head) => match timeout_at(deadline, guard.plan_handshake_async(&head.request, &mut session)).await {
            Ok(plan) => (plan, head.tail),
            Err(_elapsed) => {
                let rejection = Rejection::new(RejectionKind::Timeout, "handshake timed out");
                (guard.plan_transport_rejection(&session, rejection), Vec::new())
            }
        },
        Err(rejection) => (guard.plan_transport_rejection(&session, rejection), Vec::new()),
    };
    let config = Some(guard.clamp_config(config));
    match plan {
        HandshakePlan::Accept { response } => {
            match timeout_at(deadline, stream.write_all(&response)).await {
                Ok(written) => written?,
                Err(_elapsed) => return Err(Error::Io(io::ErrorKind::TimedOut.into())),
            }
            let ws = WebSocketStream::from_partially_read(Coalesce::new(stream), tail, Role::Server, config).await;
            Ok(GuardedStream::new(ws, guard.clone(), session))
        }
        HandshakePlan::Reject { response, rejection } => {
            let _ = timeout(REJECTION_GRACE, async {
                stream.write_all(&response).await?;
                stream.shutdown().await
            })
            .await;
            Err(Error::HandshakeRejected(Box::new(rejection)))
        }
        HandshakePlan::AcceptThenClose { response, close, rejection } => {
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

/// Reads the request head; the outer `Err` is an I/O failure, the inner a
/// request to refuse.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, max: usize) -> io::Result<Result<ParsedHead, Rejection>> {
    let mut head = HeadBuffer::new(max);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match head.push(&chunk[..n]) {
            Ok(Some(parsed)) => return Ok(Ok(parsed)),
            Ok(None) => {}
            Err(rejection) => return Ok(Err(rejection)),
        }
    }
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
    guard: Guard,
    session: Session,
    /// A reply or close frame produced while reading, not yet handed to the sink.
    pending: Option<tungstenite::Message>,
    /// Whether replies may still sit in tungstenite's write buffer.
    unflushed: bool,
    /// A guard-initiated close to report once its frame is flushed.
    closing: Option<Rejection>,
    close_notified: bool,
    /// Fires at the session's expiry, so a silent socket is closed on time.
    expiry: Option<(std::time::Instant, Pin<Box<tokio::time::Sleep>>)>,
    /// The waker last handed to the registry for revocation.
    revocation_waker: Option<Waker>,
    liveness: LivenessTimers,
    /// Armed while a send waits for the peer; fires at the write timeout.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The state behind [`Liveness`](crate::Liveness), on tokio's clock.
#[derive(Debug)]
struct LivenessTimers {
    connected: Instant,
    /// The last frame of any kind received.
    last_frame: Instant,
    /// The last text or binary message received.
    last_data: Instant,
    /// When the unanswered ping was sent.
    ping_sent: Option<Instant>,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<S> GuardedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn new(ws: WebSocketStream<Coalesce<S>>, guard: Guard, session: Session) -> Self {
        let now = Instant::now();
        Self {
            ws,
            guard,
            session,
            pending: None,
            unflushed: false,
            closing: None,
            close_notified: false,
            expiry: None,
            revocation_waker: None,
            liveness: LivenessTimers {
                connected: now,
                last_frame: now,
                last_data: now,
                ping_sent: None,
                timer: Box::pin(tokio::time::sleep_until(now)),
            },
            stall: None,
        }
    }

    /// This connection's session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// This connection's session, mutably.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
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

    /// Hands a pending reply or close frame to tungstenite.
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

    /// Closes an expired or revoked session; otherwise arranges to be woken
    /// at its expiry or revocation. Returns whether a close was started.
    fn poll_session(&mut self, cx: &mut Context<'_>) -> bool {
        if self.close_notified {
            return false;
        }
        loop {
            let now = self.guard.now();
            if let Some((frame, rejection)) = self.guard.session_close(&self.session, Direction::Inbound, now) {
                self.start_close(frame, rejection);
                return true;
            }
            if let Some(ticket) = self.session.ticket()
                && !self.revocation_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()))
            {
                ticket.control.register_waker(cx.waker());
                self.revocation_waker = Some(cx.waker().clone());
            }
            let Some(at) = self.session.expires_at() else {
                self.expiry = None;
                return false;
            };
            let sleep = match &mut self.expiry {
                Some((armed, sleep)) if *armed == at => sleep,
                slot => {
                    let sleep = Box::pin(tokio::time::sleep(at.saturating_duration_since(now)));
                    &mut slot.insert((at, sleep)).1
                }
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            // Fired: check again (a manual clock may not have reached `at`,
            // and then the timer is re-armed for the rest).
            self.expiry = None;
        }
    }

    /// Queues pings and closes dead, idle or too old connections; otherwise
    /// arranges to be woken at the next deadline. Returns whether a ping or
    /// a close frame was queued (to be sent by the caller's next turn).
    fn poll_liveness(&mut self, cx: &mut Context<'_>) -> bool {
        if self.close_notified {
            return false;
        }
        let config = *self.guard.liveness();
        loop {
            let now = Instant::now();
            let timers = &mut self.liveness;
            let lifetime = config.max_lifetime.map(|d| timers.connected + d);
            let idle = config.idle_timeout.map(|d| timers.last_data + d);
            let dead = timers.ping_sent.map(|at| at + config.pong_timeout);
            for (deadline, reason) in
                [(lifetime, "connection lifetime exceeded"), (idle, "idle timeout"), (dead, "no pong")]
            {
                if deadline.is_some_and(|d| now >= d) {
                    let (frame, rejection) = self.guard.liveness_close(&self.session, reason);
                    self.start_close(frame, rejection);
                    return true;
                }
            }
            let mut ping = config.ping_interval.filter(|_| timers.ping_sent.is_none()).map(|d| timers.last_frame + d);
            if ping.is_some_and(|at| now >= at) && self.pending.is_none() {
                self.pending = Some(tungstenite::Message::Ping(Default::default()));
                timers.ping_sent = Some(now);
                return true;
            }
            if self.pending.is_some() {
                // A ping that is due waits for the pending frame to go out.
                ping = ping.map(|at| at.max(now + Duration::from_millis(10)));
            }
            let Some(next) = [lifetime, idle, dead, ping].into_iter().flatten().min() else { return false };
            // Activity only moves deadlines later, so a timer armed earlier
            // is left alone (it wakes us early once, and is re-armed then):
            // no timer-wheel update per message.
            if timers.timer.is_elapsed() || timers.timer.deadline() > next {
                timers.timer.as_mut().reset(next);
            }
            if timers.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
        }
    }

    /// Records a received frame for the liveness timers.
    fn saw(&mut self, message: &tungstenite::Message) {
        let now = Instant::now();
        self.liveness.last_frame = now;
        self.liveness.ping_sent = None;
        if message.is_text() || message.is_binary() {
            self.liveness.last_data = now;
        }
    }

    /// While a send waits for the peer: the error once it has waited
    /// longer than the write timeout (a slow consumer).
    fn poll_stall(&mut self, cx: &mut Context<'_>, waiting: bool) -> Option<Error> {
        if !waiting {
            self.stall = None;
            return None;
        }
        let timeout = self.guard.liveness().write_timeout;
        let stall = self.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stall.as_mut().poll(cx).is_pending() {
            return None;
        }
        self.stall = None;
        // The peer is not reading: no close frame could reach it.
        let (frame, rejection) = self.guard.liveness_close(&self.session, "send timed out");
        self.notify_close(Some(frame.code));
        Some(Error::Closed(Box::new(rejection)))
    }

    fn start_close(&mut self, frame: CloseFrame, rejection: Rejection) {
        self.notify_close(Some(frame.code));
        self.pending = Some(tungstenite::Message::Close(Some(frame.into_tungstenite())));
        self.closing = Some(rejection);
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
            if this.poll_session(cx) || this.poll_liveness(cx) {
                continue;
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
                Some(Ok(message)) => {
                    this.saw(&message);
                    message
                }
                Some(Err(e)) => {
                    if let Some((frame, rejection)) = this.guard.close_unreadable(&this.session, &e) {
                        this.start_close(frame, rejection);
                        continue;
                    }
                    this.notify_close(None);
                    return Poll::Ready(Some(Err(Error::from_tungstenite(e))));
                }
                None => {
                    this.notify_close(None);
                    return Poll::Ready(None);
                }
            };
            let Some(message) = Message::from_tungstenite(message) else { continue };
            if this.close_notified && !matches!(message, Message::Close(_)) {
                // Closing: what the peer sent before it saw our close frame
                // is discarded (RFC 6455 5.5.1); a reply could not be sent.
                continue;
            }
            match this.guard.inbound(message, &mut this.session) {
                Verdict::Deliver(message) => {
                    this.notify_if_close(&message);
                    return Poll::Ready(Some(Ok(message)));
                }
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
        match this.guard.outbound(message, &mut this.session) {
            Verdict::Deliver(message) => {
                this.notify_if_close(&message);
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
        this.notify_close(None);
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
