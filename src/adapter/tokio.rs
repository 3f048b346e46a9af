//! The tokio adapter over tokio-tungstenite's `WebSocketStream<S>`.

use std::io;

use futures_util::SinkExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, protocol::Role, protocol::WebSocketConfig};

use super::PeerInfo;
use super::coalesce::Coalesce;
use super::driver::{Driver, REJECTION_GRACE, Transport, handshake_in_time, remaining};
use crate::connection::{Connection, Handshake, Head, ReadFailure, Timeout};
use crate::{CloseFrame, Error, Guard, Message, Session};

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
            Ok(GuardedStream { driver: Driver::new(ws, conn) })
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
                ws.close(Some(close.into())).await.map_err(io::Error::other)?;
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
    Ok((handshake_in_time(conn, &request).await, tail))
}

/// A guarded WebSocket over an async stream, returned by [`accept`].
///
/// It is a [`Stream`](futures_util::Stream) of the messages every layer passed and a [`Sink`](futures_util::Sink) of
/// messages to send through the outbound hooks, like tokio-tungstenite's
/// `WebSocketStream`, and can be [`split`](futures_util::StreamExt::split).
/// Dropped inbound messages never reach the application; their error replies
/// are sent while reading. When a layer closes the connection, the close
/// frame is flushed and the stream (or sink) yields [`Error::Closed`] once;
/// keep polling to complete the closing handshake, or drop it.
#[derive(Debug)]
pub struct GuardedStream<S> {
    driver: Driver<WebSocketStream<Coalesce<S>>>,
}

impl<S> Transport for WebSocketStream<Coalesce<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Wire = tungstenite::Message;
    type Failure = tungstenite::Error;

    fn to_wire(message: Message) -> tungstenite::Message {
        message.into()
    }

    fn from_wire(wire: tungstenite::Message) -> Option<Message> {
        Message::try_from(wire).ok()
    }

    fn read_failure(error: &tungstenite::Error) -> Option<ReadFailure> {
        super::read_failure(error)
    }

    fn error(error: tungstenite::Error) -> Error {
        Error::from(error)
    }
}

impl<S> GuardedStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// This connection's session.
    pub fn session(&self) -> &Session {
        self.driver.conn.session()
    }

    /// This connection's session, mutably.
    pub fn session_mut(&mut self) -> &mut Session {
        self.driver.conn.session_mut()
    }

    /// The connection core this adapter drives.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.driver.ws.get_ref().inner
    }

    /// The underlying stream, mutably. Reading or writing it directly
    /// corrupts the WebSocket stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.driver.ws.get_mut().inner
    }

    /// Sends a close frame and flushes it.
    ///
    /// # Errors
    ///
    /// As the sink's `send`.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.send(Message::Close(frame)).await
    }
}

super::driver::delegate_to_driver!(impl[S] GuardedStream<S> where S: AsyncRead + AsyncWrite + Unpin);

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
