//! Client addresses behind proxies, over real sockets on every adapter: a
//! load balancer's users are counted one by one, and forwarding headers
//! from anyone else are ignored.

use wsguard::layer::TrustedProxies;
use wsguard::{ConnectionCaps, Guard};

use crate::support::{Adapter, Client, handshake, spawn_echo};

/// `count` connections that say (in `X-Forwarded-For`) they are clients
/// 198.51.100.1, .2, ...; how many were admitted before the first refusal.
fn users_behind_one_address(guard: &Guard, adapter: Adapter, count: u8) -> (usize, Vec<Client>) {
    let addr = spawn_echo(adapter, guard.clone());
    let mut held = Vec::new();
    for i in 1..=count {
        let forwarded = format!("203.0.113.77, 198.51.100.{i}");
        match handshake(addr, "/ws", |r| {
            r.headers_mut().insert("x-forwarded-for", forwarded.parse().unwrap());
        }) {
            Ok((client, _)) => held.push(client),
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 429, "the cap answers, nothing else");
                return (held.len(), held);
            }
            Err(e) => panic!("{e}"),
        }
    }
    (held.len(), held)
}

/// The review's finding: behind a load balancer, the default cap of 20 per
/// IP refused the 21st of 25 users.
fn a_trusted_proxys_users_are_counted_by_their_own_addresses(adapter: Adapter) {
    let caps = ConnectionCaps::default().per_principal(None);
    let trusted = TrustedProxies::new(["127.0.0.1"]).unwrap();
    let guard = Guard::builder().without_auth().connection_caps(caps).trusted_proxies(trusted).build().unwrap();
    let (admitted, _held) = users_behind_one_address(&guard, adapter, 25);
    assert_eq!(admitted, 25);
    let mut peers: Vec<String> =
        guard.sessions().list().iter().filter_map(|s| s.peer_addr).map(|a| a.ip().to_string()).collect();
    peers.sort();
    peers.dedup();
    assert_eq!(peers.len(), 25, "each session has its client's address: {peers:?}");
    assert!(peers.iter().all(|p| p.starts_with("198.51.100.")), "never the spoofed left entry: {peers:?}");
}

/// Without trusting the peer, its headers are a client's claims: ignored.
fn forwarding_headers_from_an_untrusted_peer_are_ignored(adapter: Adapter) {
    let caps = ConnectionCaps::default().per_principal(None);
    let elsewhere = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
    let guard = Guard::builder().without_auth().connection_caps(caps).trusted_proxies(elsewhere).build().unwrap();
    let (admitted, _held) = users_behind_one_address(&guard, adapter, 25);
    assert_eq!(admitted, 20, "one client, whatever it claims: the per-IP cap of 20");
    assert!(guard.sessions().list().iter().all(|s| s.peer_addr.unwrap().ip().is_loopback()));
}

for_each_adapter!(
    a_trusted_proxys_users_are_counted_by_their_own_addresses,
    forwarding_headers_from_an_untrusted_peer_are_ignored,
    ; not_axum: proxy_protocol_from_a_trusted_balancer,
);

/// A load balancer in TCP mode (HAProxy `send-proxy`) on the byte-level
/// adapters: the PROXY header names the client; its absence is refused.
fn proxy_protocol_from_a_trusted_balancer(adapter: Adapter) {
    use std::io::{Read, Write};
    let proxies = TrustedProxies::new(["127.0.0.1"]).unwrap().proxy_protocol(true);
    let guard = Guard::builder().without_auth().trusted_proxies(proxies).build().unwrap();
    let addr = spawn_echo(adapter, guard.clone());
    let head = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(crate::support::WATCHDOG)).unwrap();
    stream.write_all(format!("PROXY TCP4 198.51.100.7 127.0.0.1 56324 {}\r\n{head}", addr.port()).as_bytes()).unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 101");
    crate::support::eventually("the session to be listed", || {
        guard.sessions().list().iter().any(|s| s.peer_addr == Some("198.51.100.7:56324".parse().unwrap()))
    });
    let refused = crate::support::raw_exchange(addr, head.as_bytes());
    assert!(refused.starts_with("HTTP/1.1 400"), "no PROXY header from the balancer: {refused}");
}
