//! Liveness in the tokio adapter over real sockets: dead peers, idle
//! connections, the lifetime cap and slow consumers. Timings are short and
//! every wait is bounded.

use std::time::{Duration, Instant};

use tungstenite::Message as WsMessage;
use wsguard::{Error, Guard, Liveness, RejectionKind};

use crate::support::{Adapter, Client, connect, spawn_echo};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn server(liveness: Liveness) -> std::net::SocketAddr {
    spawn_echo(Adapter::Tokio, Guard::builder().without_auth().liveness(liveness).build().unwrap())
}

/// Reads until the close frame; returns its code, reason and how many pings came first.
fn set_read_timeout(client: &mut Client, timeout: Duration) {
    match client.get_mut() {
        tungstenite::stream::MaybeTlsStream::Plain(stream) => stream.set_read_timeout(Some(timeout)).unwrap(),
        _ => unreachable!("the tests connect without TLS"),
    }
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

#[test]
fn a_peer_that_never_answers_pings_is_closed() {
    let addr = server(Liveness::off().ping_interval(Some(ms(100))).pong_timeout(ms(200)));
    let mut client = connect(addr);
    // Not reading: the client's pongs are never sent.
    std::thread::sleep(ms(600));
    let (code, reason, pings) = read_until_close(&mut client);
    assert_eq!((code, reason.as_str()), (1001, "no pong"));
    assert_eq!(pings, 1, "one ping, then the close");
}

#[test]
fn a_peer_that_answers_pings_stays_connected() {
    let addr = server(Liveness::off().ping_interval(Some(ms(50))).pong_timeout(ms(100)));
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

#[test]
fn a_connection_without_data_is_closed_when_idle_even_if_it_answers_pings() {
    let addr = server(Liveness::off().ping_interval(Some(ms(50))).idle_timeout(Some(ms(300))));
    let mut client = connect(addr);
    let start = Instant::now();
    let (code, reason, pings) = read_until_close(&mut client);
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
    assert!(pings >= 2, "pings were answered meanwhile: {pings}");
    assert!(start.elapsed() >= ms(280), "closed after {:?}", start.elapsed());
}

#[test]
fn a_busy_connection_is_closed_at_its_maximum_lifetime() {
    // The idle timeout is longer than the lifetime, so a loaded machine's
    // pauses between the client's messages cannot close it first.
    let addr = server(Liveness::off().idle_timeout(Some(ms(2000))).max_lifetime(Some(ms(500))));
    let mut client = connect(addr);
    let start = Instant::now();
    // Busy until the end: a message every 50 ms.
    let close = loop {
        client.send(WsMessage::text("x")).unwrap();
        match client.read().unwrap() {
            WsMessage::Close(Some(frame)) => break frame,
            message => assert_eq!(message, WsMessage::text("x")),
        }
        std::thread::sleep(ms(50));
        assert!(start.elapsed() < ms(5000), "never closed");
    };
    assert_eq!((u16::from(close.code), close.reason.as_str()), (1001, "connection lifetime exceeded"));
    assert!(start.elapsed() >= ms(480), "closed after {:?}", start.elapsed());
}

#[test]
fn a_slow_consumer_is_dropped_instead_of_buffered() {
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

/// The task awaiting `accept` keeps its size for the whole connection, so
/// the handshake's state (a read buffer, an async verifier's future) is
/// boxed and freed when the handshake ends: 2,288 bytes per connection
/// before, held by every idle connection.
#[test]
fn the_tokio_accept_future_is_small() {
    let guard = Guard::builder().without_auth().build().unwrap();
    let (server, _client) = tokio::io::duplex(64);
    let accept = wsguard::tokio::accept(server, &guard);
    let size = std::mem::size_of_val(&accept);
    assert!(size <= 256, "the accept future is {size} bytes");
}
