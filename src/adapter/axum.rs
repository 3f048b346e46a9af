//! axum 0.8 (feature `axum`): [`GuardedUpgrade`], an extractor that runs the
//! guard's whole handshake, and [`GuardedSocket`], axum's `WebSocket` under
//! the guard, with the same behaviour as the tokio adapter.

use std::net::SocketAddr;

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;

use super::driver::{Driver, REJECTION_GRACE, Transport, handshake_in_time};
use crate::connection::{Connection, Handshake, ReadFailure};
use crate::{CloseCode, CloseFrame, Error, Guard, Message, Rejection, Session, Utf8Bytes};

/// An axum extractor that runs the guard's handshake: limits, transport and
/// origin policies, connection caps, the rate limit on new connections,
/// authentication (sync or async verifiers), every layer's handshake hook
/// and subprotocol selection. A refused request never reaches the handler:
/// it is answered with the rejection's HTTP status (401, 403, 429, ...), or,
/// in accept-then-close mode, upgraded and closed with the matching 4xxx
/// code. Requires the [`Guard`] in the router's state (`Guard: FromRef<S>`).
///
/// The peer address comes from axum's `ConnectInfo<SocketAddr>` when the
/// server is started with `into_make_service_with_connect_info`; without it
/// the per-IP caps and quotas do not apply.
///
/// # Examples
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use futures_util::{SinkExt, StreamExt};
/// use wsguard::{Guard, axum::GuardedUpgrade};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let guard = Guard::builder().without_auth().build()?;
/// let app = Router::new()
///     .route("/ws", get(|upgrade: GuardedUpgrade| async move {
///         upgrade.on_upgrade(|mut socket| async move {
///             while let Some(Ok(message)) = socket.next().await {
///                 if message.is_data() && socket.send(message).await.is_err() {
///                     break;
///                 }
///             }
///         })
///     }))
///     .with_state(guard);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct GuardedUpgrade {
    upgrade: WebSocketUpgrade,
    conn: Connection,
    /// In accept-then-close mode: the close frame to send after upgrading.
    close: Option<CloseFrame>,
}

impl<S> FromRequestParts<S> for GuardedUpgrade
where
    Guard: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let guard = Guard::from_ref(state);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let mut conn = guard.connection(peer);
        let mut request = http::Request::new(());
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        let answer = handshake_in_time(&mut conn, &request).await;
        let close = match answer {
            Handshake::Accept { .. } => None,
            Handshake::AcceptThenClose { close, .. } => Some(close),
            Handshake::Reject { rejection, .. } => return Err(refusal(&rejection)),
        };
        let upgrade = WebSocketUpgrade::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        Ok(Self { upgrade, conn, close })
    }
}

/// The rejection's HTTP answer as an axum response; the connection closes
/// after it, as with the other adapters.
fn refusal(rejection: &Rejection) -> Response {
    let (mut parts, body) = rejection.to_http_response().into_parts();
    parts.headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    (parts.status, parts.headers, body.unwrap_or_default()).into_response()
}

impl GuardedUpgrade {
    /// The session as the handshake left it (principal, origin, chosen
    /// subprotocol), before the upgrade.
    pub fn session(&self) -> &Session {
        self.conn.session()
    }

    /// Completes the upgrade and runs `callback` with the guarded socket.
    /// The response echoes the subprotocol the guard chose (never a token).
    /// The socket's message and frame limits are the guard's.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(GuardedSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { mut upgrade, conn, close } = self;
        if let Some(protocol) = conn.session().selected_protocol().and_then(|p| http::HeaderValue::from_str(p).ok()) {
            upgrade.set_selected_protocol(protocol);
        }
        let config = conn.guard().websocket_config();
        let limits = conn.guard().limits();
        let upgrade = upgrade
            .read_buffer_size(config.read_buffer_size)
            .write_buffer_size(config.write_buffer_size)
            .max_write_buffer_size(config.max_write_buffer_size)
            .max_message_size(limits.max_message_size)
            .max_frame_size(limits.max_frame_size);
        upgrade.on_upgrade(move |mut socket| async move {
            if let Some(frame) = close {
                let _ = tokio::time::timeout(REJECTION_GRACE, async {
                    socket.send(Message::Close(Some(frame)).into()).await?;
                    // Wait for the client's close reply, so that closing the
                    // TCP connection cannot reset it before the frame is read.
                    while let Some(Ok(_)) = socket.next().await {}
                    Ok::<_, axum::Error>(())
                })
                .await;
                return;
            }
            callback(GuardedSocket { driver: Driver::new(socket, conn) }).await;
        })
    }
}

/// axum's `WebSocket` under the guard: a [`Stream`](futures_util::Stream) of the messages every
/// layer passed and a [`Sink`](futures_util::Sink) of messages to send through the outbound
/// hooks, with the tokio adapter's behaviour (error replies, closes with
/// codes, pings and every [`Liveness`](crate::Liveness) timer, token expiry,
/// revocation, slow consumers). Made by [`GuardedUpgrade::on_upgrade`].
#[derive(Debug)]
pub struct GuardedSocket {
    driver: Driver<WebSocket>,
}

impl GuardedSocket {
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
}

super::driver::delegate_to_driver!(impl[] GuardedSocket);

impl Transport for WebSocket {
    type Wire = ws::Message;
    type Failure = axum::Error;

    fn to_wire(message: Message) -> ws::Message {
        message.into()
    }

    fn from_wire(wire: ws::Message) -> Option<Message> {
        Some(wire.into())
    }

    /// axum wraps the error of its own tungstenite; telling "too large" and
    /// "not UTF-8" apart needs that type.
    fn read_failure(error: &axum::Error) -> Option<ReadFailure> {
        let inner = std::error::Error::source(error)?.downcast_ref::<axum_tungstenite::Error>()?;
        match inner {
            axum_tungstenite::Error::Capacity(_) => Some(ReadFailure::TooLarge),
            axum_tungstenite::Error::Utf8(_) => Some(ReadFailure::InvalidUtf8),
            _ => None,
        }
    }

    fn error(error: axum::Error) -> Error {
        Error::from_other(error)
    }
}

/// Text from axum's type: no copy, the bytes are already UTF-8.
fn text_from_axum(text: ws::Utf8Bytes) -> Utf8Bytes {
    let bytes = Bytes::from(text);
    match tungstenite::Utf8Bytes::try_from(bytes) {
        Ok(text) => Utf8Bytes::from(text),
        // Unreachable: axum's text is UTF-8.
        Err(_) => Utf8Bytes::default(),
    }
}

/// Text in axum's type: no copy.
fn text_to_axum(text: Utf8Bytes) -> ws::Utf8Bytes {
    ws::Utf8Bytes::try_from(Bytes::from(text)).unwrap_or_default()
}

impl From<ws::Message> for Message {
    fn from(message: ws::Message) -> Self {
        match message {
            ws::Message::Text(text) => Self::Text(text_from_axum(text)),
            ws::Message::Binary(data) => Self::Binary(data),
            ws::Message::Ping(data) => Self::Ping(data),
            ws::Message::Pong(data) => Self::Pong(data),
            ws::Message::Close(frame) => Self::Close(
                frame.map(|f| CloseFrame { code: CloseCode::from(f.code), reason: text_from_axum(f.reason) }),
            ),
        }
    }
}

impl From<Message> for ws::Message {
    fn from(message: Message) -> Self {
        match message {
            Message::Text(text) => Self::Text(text_to_axum(text)),
            Message::Binary(data) => Self::Binary(data),
            Message::Ping(data) => Self::Ping(data),
            Message::Pong(data) => Self::Pong(data),
            Message::Close(frame) => {
                Self::Close(frame.map(|f| ws::CloseFrame { code: f.code.get(), reason: text_to_axum(f.reason) }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_convert_between_wsguard_axum_and_tungstenite_without_loss() {
        let messages = [
            Message::text("héllo"),
            Message::binary(vec![0, 159, 255]),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::from_static(b"q")),
            Message::Close(None),
            Message::Close(Some(CloseFrame::new(CloseCode::from(4403), "session revoked"))),
        ];
        for message in messages {
            let through_axum = Message::from(ws::Message::from(message.clone()));
            assert_eq!(through_axum, message);
            let through_tungstenite = Message::try_from(tungstenite::Message::from(message.clone())).unwrap();
            assert_eq!(through_tungstenite, message);
        }
        let raw = tungstenite::Message::Frame(tungstenite::protocol::frame::Frame::ping(vec![]));
        assert!(Message::try_from(raw).is_err(), "a raw frame is not a message");
    }
}
