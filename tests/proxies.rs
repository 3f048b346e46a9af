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
);
