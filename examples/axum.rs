//! The chat demo's guard used by hand from an axum WebSocket handler.
//!
//! ```text
//! cargo run --example axum                     # ws://127.0.0.1:8081/ws
//! cargo run --example axum -- 127.0.0.1:9001   # another address
//! ```
//!
//! axum owns the socket, so the adapters do not apply; the handler calls
//! the guard's sans-IO API instead:
//!
//! 1. before upgrading, [`Guard::check_handshake`] on the request (a refusal
//!    becomes the HTTP response, with its status and `Retry-After`);
//! 2. after, [`Guard::inbound`] on every message from the client and
//!    [`Guard::outbound`] on every message to it, acting on the
//!    [`Verdict`]: deliver, drop (sending the reply, if any), or close;
//! 3. at the end, [`Guard::notify_close`].
//!
//! Every chat message is broadcast to all connections, and each passes
//! through its recipient's outbound hooks: users see emails masked, the
//! admin sees them in full. Tokens as in the chat demo (`alice-token`,
//! `bob-token`, `admin-token`), as `Authorization: Bearer` or the
//! `bearer.` subprotocol. The liveness timers are the tokio adapter's, so
//! here axum's own ping handling applies.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use wsguard::{CloseFrame, Message, Session, Verdict};

#[path = "chat/setup.rs"]
mod setup;

struct App {
    chat: setup::App,
    /// Chat messages for every connection, before each one's outbound hooks.
    feed: broadcast::Sender<String>,
}

#[tokio::main]
async fn main() {
    let addr: SocketAddr =
        std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(([127, 0, 0, 1], 8081).into());
    // axum answers refused handshakes itself: HTTP statuses, not accept-then-close.
    let options = setup::Options { http_rejections: true, ..setup::Options::default() };
    let chat = setup::app(addr, &options).expect("the demo configuration is valid");
    let app = Arc::new(App { chat, feed: broadcast::channel(256).0 });
    let router = axum::Router::new().route("/ws", get(upgrade)).with_state(app);
    let listener = tokio::net::TcpListener::bind(addr).await.expect("the address is free");
    println!("axum chat on ws://{addr}/ws");
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.expect("the server runs");
}

/// Step 1: the handshake checks, before upgrading.
async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let mut request = wsguard::HandshakeRequest::new(());
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let mut session = app.chat.guard.new_session(Some(peer));
    if let Err(rejection) = app.chat.guard.check_handshake(&request, &mut session) {
        let (parts, body) = rejection.to_http_response().into_parts();
        return Response::from_parts(parts, Body::from(body.unwrap_or_default()));
    }
    // The guard chose the subprotocol (never the token): echo that one.
    let upgrade = match session.selected_protocol() {
        Some(protocol) => upgrade.protocols([protocol.to_owned()]),
        None => upgrade,
    };
    upgrade.on_upgrade(move |socket| serve(socket, session, app))
}

/// Steps 2 and 3: every message through the guard, both ways.
async fn serve(socket: WebSocket, mut session: Session, app: Arc<App>) {
    let guard = &app.chat.guard;
    let user = session.principal().map_or_else(String::new, |p| p.id.clone());
    let (mut tx, mut rx) = socket.split();
    let mut feed = app.feed.subscribe();
    let code = loop {
        // What to send the client this turn, after its outbound hooks.
        let verdict = tokio::select! {
            incoming = rx.next() => {
                let Some(Ok(message)) = incoming else { break None };
                let Some(message) = from_axum(message) else { continue };
                match guard.inbound(message, &mut session) {
                    Verdict::Deliver(Message::Text(text)) => match handle(&text, &user, &app) {
                        Some(reply) => guard.outbound(Message::text(reply.to_string()), &mut session),
                        None => continue,
                    },
                    Verdict::Deliver(Message::Close(frame)) => break frame.map(|f| f.code),
                    Verdict::Deliver(_) => continue,
                    // A refused message: its reply (the guard's own, not re-checked).
                    Verdict::Drop { reply: Some(reply) } => Verdict::Deliver(reply),
                    Verdict::Drop { reply: None } => continue,
                    close @ Verdict::Close { .. } => close,
                    _ => continue,
                }
            }
            Ok(text) = feed.recv() => guard.outbound(Message::text(text), &mut session),
        };
        let sent = match verdict {
            Verdict::Deliver(message) => tx.send(to_axum(message)).await.is_ok(),
            Verdict::Close { frame, .. } => {
                let code = frame.code;
                let _ = tx.send(close(frame)).await;
                break Some(code);
            }
            _ => true,
        };
        if !sent {
            break None;
        }
    };
    guard.notify_close(&mut session, code);
}

/// The app itself: chat messages go to everyone (the sender gets its own
/// copy through the feed, and a notice if the PII scrubber will mask it).
fn handle(text: &str, user: &str, app: &App) -> Option<Value> {
    let message: Value = serde_json::from_str(text).ok()?;
    match message["type"].as_str() {
        Some("join") => Some(json!({"type": "joined", "room": message["room"], "user": user})),
        Some("chat") => {
            let out = json!({"type": "chat", "room": message["room"], "from": user, "text": message["text"]});
            let _ = app.feed.send(out.to_string());
            let notice = app.chat.notices(message["text"].as_str().unwrap_or_default()).into_iter().next();
            notice.map(|text| json!({"type": "notice", "text": text}))
        }
        Some("kick") => {
            let target = message["user"].as_str().unwrap_or_default();
            Some(
                json!({"type": "kicked", "user": target, "sessions": app.chat.guard.sessions().revoke_principal(target)}),
            )
        }
        _ => None,
    }
}

fn from_axum(message: ws::Message) -> Option<Message> {
    Some(match message {
        ws::Message::Text(text) => Message::text(text.as_str().to_owned()),
        ws::Message::Binary(data) => Message::binary(data),
        ws::Message::Close(frame) => {
            Message::Close(frame.map(|f| CloseFrame::new(wsguard::CloseCode::new(f.code), f.reason.as_str())))
        }
        // axum answers pings itself.
        ws::Message::Ping(_) | ws::Message::Pong(_) => return None,
    })
}

fn to_axum(message: Message) -> ws::Message {
    match message {
        Message::Text(text) => ws::Message::Text(text.as_str().into()),
        Message::Binary(data) => ws::Message::Binary(data),
        Message::Ping(data) => ws::Message::Ping(data),
        Message::Pong(data) => ws::Message::Pong(data),
        Message::Close(frame) => frame.map_or(ws::Message::Close(None), close),
    }
}

fn close(frame: CloseFrame) -> ws::Message {
    ws::Message::Close(Some(ws::CloseFrame { code: frame.code.get(), reason: frame.reason.as_str().into() }))
}
