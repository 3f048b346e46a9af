//! Servers, clients and a test layer shared by the integration tests.

pub mod adversarial;
pub mod corpus;
pub mod formats;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "tokio-rustls")]
pub mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use wsguard::{
    CloseCode, ErrorReply, Frame, Guard, HandshakeRequest, Layer, Outcome, Rejection, RejectionKind, Session,
};

/// Every blocking read in a test gives up after this long, so nothing hangs.
pub const WATCHDOG: Duration = Duration::from_secs(10);

pub type Client = tungstenite::WebSocket<MaybeTlsStream<TcpStream>>;

/// A layer with fixed triggers, so tests can provoke each outcome:
/// inbound `drop-me` is dropped with a reply, `close-me` closes;
/// outbound `drop-out` is dropped, `close-out` closes; a handshake with
/// `x-reject` is refused; `chat.v1` is selected when offered; inbound
/// `whoami` is rewritten to the principal's id (or `anonymous`), which the
/// echo server sends back.
#[derive(Debug, Default)]
pub struct TestLayer {
    pub closes: Arc<AtomicUsize>,
}

impl Layer for TestLayer {
    fn name(&self) -> &'static str {
        "test"
    }

    fn on_handshake(&self, request: &HandshakeRequest, session: &mut Session, _: Instant) -> Result<(), Rejection> {
        if request.headers().contains_key("x-reject") {
            return Err(Rejection::new(RejectionKind::Forbidden, "rejected by test layer"));
        }
        if session.requested_protocols().iter().any(|p| p == "chat.v1") {
            session.select_protocol("chat.v1");
        }
        Ok(())
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, _: Instant) -> Outcome {
        if frame.text() == Some("whoami") {
            let id = session.principal().map_or("anonymous", |p| p.id.as_str());
            frame.set_json(serde_json::Value::String(id.to_owned()));
            return Outcome::Pass;
        }
        match frame.text() {
            Some("drop-me") => Outcome::drop_with(ErrorReply::new("test_drop", "dropped by test layer")),
            Some("close-me") => Outcome::Close(Rejection::new(RejectionKind::PolicyViolation, "closed by test layer")),
            _ => Outcome::Pass,
        }
    }

    fn on_outbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
        match frame.text() {
            Some("drop-out") => Outcome::drop_silently(),
            Some("close-out") => Outcome::Close(Rejection::new(RejectionKind::Internal, "closed on the way out")),
            _ => Outcome::Pass,
        }
    }

    fn on_close(&self, _: &mut Session, _: Option<CloseCode>) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Defines each listed vector, a `fn(Adapter)` in the calling module, as a
/// test against the blocking, the tokio and the axum adapter. Vectors listed
/// after `; not_axum:` run on the first two only: they test what happens
/// before axum hands the request over (hyper reads the request head).
macro_rules! for_each_adapter {
    ($($(#[$meta:meta])* $name:ident),* $(,)? $(; not_axum: $($(#[$bmeta:meta])* $bname:ident),* $(,)?)?) => {
        mod blocking {
            $( $(#[$meta])* #[test] fn $name() { super::$name(super::Adapter::Blocking) } )*
            $($( $(#[$bmeta])* #[test] fn $bname() { super::$bname(super::Adapter::Blocking) } )*)?
        }
        mod tokio {
            $( $(#[$meta])* #[test] fn $name() { super::$name(super::Adapter::Tokio) } )*
            $($( $(#[$bmeta])* #[test] fn $bname() { super::$bname(super::Adapter::Tokio) } )*)?
        }
        mod axum {
            $( $(#[$meta])* #[test] fn $name() { super::$name(super::Adapter::Axum) } )*
        }
    };
}

/// Which server adapter a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Adapter {
    Blocking,
    Tokio,
    Axum,
}

/// Starts a guarded echo server: it echoes text and binary messages and
/// ignores the rest. Runs until the test process exits.
pub fn spawn_echo(adapter: Adapter, guard: Guard) -> SocketAddr {
    match adapter {
        Adapter::Blocking => spawn_blocking_echo(guard),
        Adapter::Tokio => spawn_tokio_echo(guard),
        Adapter::Axum => spawn_axum_echo(guard),
    }
}

/// The echo server on axum: every path goes to the guarded upgrade, and the
/// peer address comes from `ConnectInfo`.
/// The async echo over any guarded socket (the tokio adapter's stream or
/// axum's), through split halves as applications commonly do.
pub async fn echo_messages<W>(ws: W)
where
    W: futures_util::Stream<Item = Result<wsguard::Message, wsguard::Error>>
        + futures_util::Sink<wsguard::Message, Error = wsguard::Error>,
{
    use futures_util::{SinkExt, StreamExt};
    let (mut tx, mut rx) = ws.split();
    while let Some(result) = rx.next().await {
        match result {
            Ok(message) if message.is_data() => {
                if tx.send(message).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            // The guard closed: keep reading to complete the closing handshake.
            Err(wsguard::Error::Closed(_)) => {}
            Err(_) => break,
        }
    }
}

fn spawn_axum_echo(guard: Guard) -> SocketAddr {
    use wsguard::axum::GuardedUpgrade;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    async fn echo(upgrade: GuardedUpgrade) -> axum::response::Response {
        upgrade.on_upgrade(echo_messages)
    }
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let router = axum::Router::new().fallback(echo).with_state(guard);
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
    });
    addr
}

fn spawn_blocking_echo(guard: Guard) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let guard = guard.clone();
            std::thread::spawn(move || {
                let Ok(mut ws) = wsguard::accept(stream, &guard) else { return };
                loop {
                    match ws.read() {
                        Ok(message) if message.is_data() => {
                            if ws.send(message).is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                        // The guard closed: keep reading to complete the closing handshake.
                        Err(wsguard::Error::Closed(_)) => {}
                        Err(_) => break,
                    }
                }
            });
        }
    });
    addr
}

fn spawn_tokio_echo(guard: Guard) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let guard = guard.clone();
                tokio::spawn(async move {
                    let Ok(ws) = wsguard::tokio::accept(stream, &guard).await else { return };
                    echo_messages(ws).await;
                });
            }
        });
    });
    addr
}

/// A tungstenite client with a read watchdog.
pub fn connect(addr: SocketAddr) -> Client {
    connect_with(addr, |_| {}).expect("handshake succeeds")
}

/// A tungstenite client whose request `edit` may change, e.g. add headers.
pub fn connect_with(
    addr: SocketAddr,
    edit: impl FnOnce(&mut tungstenite::handshake::client::Request),
) -> Result<Client, tungstenite::Error> {
    handshake(addr, "/ws", edit).map(|(ws, _)| ws)
}

/// A client handshake on `path`, returning the server's response too.
/// A client logged in with `Authorization: Bearer <token>` on `/ws`.
pub fn login(addr: SocketAddr, token: &str) -> Client {
    let bearer = format!("Bearer {token}");
    handshake(addr, "/ws", |r| {
        r.headers_mut().insert("authorization", bearer.parse().unwrap());
    })
    .unwrap()
    .0
}

pub fn handshake(
    addr: SocketAddr,
    path: &str,
    edit: impl FnOnce(&mut tungstenite::handshake::client::Request),
) -> Result<(Client, tungstenite::handshake::client::Response), tungstenite::Error> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WATCHDOG)).unwrap();
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    edit(&mut request);
    tungstenite::client(request, MaybeTlsStream::Plain(stream)).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake interrupted"),
    })
}

/// Sends raw bytes and returns everything the server answers until it closes.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WATCHDOG)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits (bounded) until `condition` holds.
pub fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WATCHDOG;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads the next message, which must be a close frame; returns its code and reason.
pub fn expect_close(client: &mut Client) -> (u16, String) {
    match client.read() {
        Ok(tungstenite::Message::Close(Some(tungstenite::protocol::CloseFrame { code, reason }))) => {
            (code.into(), reason.to_string())
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// After the server's close frame, the closing handshake completes cleanly.
pub fn expect_closed(client: &mut Client) {
    loop {
        match client.read() {
            Ok(tungstenite::Message::Close(_)) => continue,
            Err(tungstenite::Error::ConnectionClosed) => return,
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
}

/// Accepts one connection through the tokio adapter, on a runtime of its
/// own, and runs `handler` on it; its result arrives on the channel.
pub fn tokio_once<T, F, Fut>(guard: Guard, handler: F) -> (SocketAddr, std::sync::mpsc::Receiver<T>)
where
    T: Send + 'static,
    F: FnOnce(wsguard::tokio::GuardedStream<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let ws = wsguard::tokio::accept(stream, &guard).await.unwrap();
            let _ = tx.send(handler(ws).await);
        });
    });
    (addr, rx)
}
