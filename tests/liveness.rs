//! Liveness over real sockets, one smoke test per adapter and behaviour:
//! pings answered, dead peers closed, slow consumers dropped. Every
//! deadline itself (idle, lifetime, expiry, ...) is tested on the
//! connection core with a manual clock (`src/connection/tests.rs`); these
//! check that each driver arms its timers. Timings are short and every
//! wait is bounded.

use std::time::{Duration, Instant};

use tungstenite::Message as WsMessage;
use wsguard::{Error, Guard, Liveness, RejectionKind};

use crate::support::{Adapter, Client, connect, spawn_echo};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn server(adapter: Adapter, liveness: Liveness) -> std::net::SocketAddr {
    spawn_echo(adapter, Guard::builder().without_auth().liveness(liveness).build().unwrap())
}

/// Reads until the close frame; returns its code, reason and how many pings came first.
fn set_read_timeout(client: &mut Client, timeout: Duration) {
    match client.get_mut() {
        tungstenite::stream::MaybeTlsStream::Plain(stream) => stream.set_read_timeout(Some(timeout)).unwrap(),
        _ => unreachable!("the tests connect without TLS"),
    }
}

/// What a server that kept sending to a reader that never reads reports:
/// the write timeout's close, before it buffered 64 MiB.
fn assert_dropped_as_slow_consumer(rx: &std::sync::mpsc::Receiver<(Error, usize)>) {
    let (error, sent) = rx.recv_timeout(Duration::from_secs(30)).expect("the server gave up on the slow consumer");
    match error {
        Error::Closed(rejection) => {
            assert_eq!((rejection.kind(), rejection.reason()), (RejectionKind::Timeout, "send timed out"));
        }
        other => panic!("{other:?}"),
    }
    println!("the server sent {} KiB before the write timeout", sent / 1024);
    assert!(sent < 64 * 1024 * 1024, "buffered {sent} bytes");
}

fn read_until_close(client: &mut Client) -> (u16, String, usize) {
    let mut pings = 0;
    loop {
        match client.read() {
            Ok(WsMessage::Ping(_)) => pings += 1,
            Ok(WsMessage::Close(Some(frame))) => return (frame.code.into(), frame.reason.to_string(), pings),
            Ok(_) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn a_peer_that_never_answers_pings_is_closed(adapter: Adapter) {
    let addr = server(adapter, Liveness::off().ping_interval(Some(ms(100))).pong_timeout(ms(200)));
    let mut client = connect(addr);
    // Not reading: the client's pongs are never sent.
    std::thread::sleep(ms(600));
    let (code, reason, pings) = read_until_close(&mut client);
    assert_eq!((code, reason.as_str()), (1001, "no pong"));
    assert_eq!(pings, 1, "one ping, then the close");
}

fn a_peer_that_answers_pings_stays_connected(adapter: Adapter) {
    let addr = server(adapter, Liveness::off().ping_interval(Some(ms(50))).pong_timeout(ms(100)));
    let mut client = connect(addr);
    set_read_timeout(&mut client, ms(20));
    let (start, mut pings) = (Instant::now(), 0);
    // Reading answers each ping (tungstenite replies with a pong).
    while start.elapsed() < ms(600) {
        match client.read() {
            Ok(WsMessage::Ping(_)) => pings += 1,
            Ok(other) => panic!("{other:?}"),
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(pings >= 4, "{pings} pings in 600 ms at a 50 ms interval");
    set_read_timeout(&mut client, ms(5000));
    client.send(WsMessage::text("still here")).unwrap();
    loop {
        match client.read().unwrap() {
            WsMessage::Ping(_) => {}
            message => break assert_eq!(message, WsMessage::text("still here")),
        }
    }
}

for_each_adapter!(a_peer_that_never_answers_pings_is_closed, a_peer_that_answers_pings_stays_connected);

#[test]
fn tokio_drops_a_slow_consumer_instead_of_buffering() {
    use futures_util::SinkExt;
    let guard = Guard::builder().without_auth().liveness(Liveness::off().write_timeout(ms(300))).build().unwrap();
    let (addr, rx) = crate::support::tokio_once(guard, |mut ws| async move {
        let chunk = "x".repeat(60 * 1024);
        let mut sent = 0usize;
        let started = Instant::now();
        loop {
            if let Err(e) = ws.send(wsguard::Message::text(chunk.clone())).await {
                break (e, sent);
            }
            sent += chunk.len();
            assert!(started.elapsed() < Duration::from_secs(20), "still sending after 20 s");
        }
    });
    let _client = connect(addr); // connected, never reads
    assert_dropped_as_slow_consumer(&rx);
}

/// The blocking adapter's writes time out after the write timeout (set on
/// the socket from the connection's liveness).
#[test]
fn blocking_drops_a_slow_consumer_instead_of_buffering() {
    let guard = Guard::builder().without_auth().liveness(Liveness::off().write_timeout(ms(300))).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = wsguard::accept(stream, &guard).unwrap();
        let chunk = "x".repeat(60 * 1024);
        let mut sent = 0usize;
        let started = Instant::now();
        let error = loop {
            if let Err(e) = ws.send(wsguard::Message::text(chunk.clone())) {
                break e;
            }
            sent += chunk.len();
            if started.elapsed() > Duration::from_secs(20) {
                break Error::Io(std::io::ErrorKind::Other.into());
            }
        };
        let _ = tx.send((error, sent));
    });
    let _client = connect(addr); // connected, never reads
    assert_dropped_as_slow_consumer(&rx);
}

/// The task awaiting `accept` keeps its size for the whole connection, so
/// the handshake's state (a read buffer, an async verifier's future) is
/// boxed and freed when the handshake ends: 2,288 bytes per connection
/// before, held by every idle connection.
#[test]
fn the_tokio_accept_future_is_small() {
    let guard = Guard::builder().without_auth().build().unwrap();
    let (server, _client) = ::tokio::io::duplex(64);
    let accept = wsguard::tokio::accept(server, &guard);
    let size = std::mem::size_of_val(&accept);
    assert!(size <= 256, "the accept future is {size} bytes");
}
