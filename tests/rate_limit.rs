//! Rate limiting over real sockets, against both adapters. The guard runs
//! on a manual clock that the tests never advance unless they say so, so
//! every count is exact.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::Value;
use tungstenite::Message as WsMessage;
use wsguard::auth::{Authenticator, StaticTokens};
use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
use wsguard::time::ManualClock;
use wsguard::{Guard, HandshakeRejection, Principal};

use crate::support::{Adapter, Client, connect_with, expect_close, expect_closed, login, spawn_echo};

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

fn server(
    adapter: Adapter,
    limit: RateLimit,
    clock: &ManualClock,
    rejection: HandshakeRejection,
) -> std::net::SocketAddr {
    let tokens =
        StaticTokens::new().token("alice-token", Principal::new("alice")).token("bob-token", Principal::new("bob"));
    let guard = Guard::builder()
        .with_authenticator(Authenticator::builder().bearer_header().build(tokens).unwrap())
        .rate_limit(limit)
        .clock(clock.clone())
        .handshake_rejection(rejection)
        .build()
        .unwrap();
    spawn_echo(adapter, guard)
}

/// Sends `text`; `Ok` with the echo, or `Err` with the error reply.
fn send(client: &mut Client, text: &str) -> Result<String, Value> {
    client.send(WsMessage::text(text)).unwrap();
    let answer = client.read().unwrap().into_text().unwrap().to_string();
    match serde_json::from_str::<Value>(&answer) {
        Ok(reply) if reply["type"] == "error" => Err(reply),
        _ => Ok(answer),
    }
}

fn over_quota_messages_get_rate_limited_then_4429(adapter: Adapter) {
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(3)), Unit::Messages, Per::Connection)
        .close_after(n(3))
        .build()
        .unwrap();
    let addr = server(adapter, limit, &clock, HandshakeRejection::Http);
    let mut alice = login(addr, "alice-token");
    for i in 0..3 {
        assert_eq!(send(&mut alice, &format!("m{i}")).unwrap(), format!("m{i}"));
    }
    let reply = send(&mut alice, "m3").unwrap_err();
    assert_eq!(reply["code"], "rate_limited");
    // 3 per second: the next unit is due in a third of a second.
    assert_eq!(reply["retry_after_ms"], 334);
    assert!(!reply.to_string().contains("m3"), "the reply does not echo the message");
    // Waiting as told works, and the connection is still usable.
    clock.advance(Duration::from_millis(334));
    assert_eq!(send(&mut alice, "later").unwrap(), "later");
    assert_eq!(send(&mut alice, "x").unwrap_err()["code"], "rate_limited");
    assert_eq!(send(&mut alice, "x").unwrap_err()["code"], "rate_limited");
    alice.send(WsMessage::text("x")).unwrap();
    assert_eq!(expect_close(&mut alice), (4429, "rate limit exceeded".into()));
    expect_closed(&mut alice);
}

fn a_principal_quota_is_shared_by_its_connections(adapter: Adapter) {
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(2)), Unit::Messages, Per::Principal)
        .quota(Quota::per_second(n(64)), Unit::Bytes, Per::Connection)
        .build()
        .unwrap();
    let addr = server(adapter, limit, &clock, HandshakeRejection::Http);
    let (mut a1, mut a2, mut bob) = (login(addr, "alice-token"), login(addr, "alice-token"), login(addr, "bob-token"));
    assert!(send(&mut a1, "one").is_ok());
    assert!(send(&mut a2, "two").is_ok());
    assert_eq!(send(&mut a2, "three").unwrap_err()["code"], "rate_limited");
    assert_eq!(send(&mut a1, "three").unwrap_err()["code"], "rate_limited");
    assert!(send(&mut bob, "hello").is_ok(), "bob has his own quota");
    // A message over a quota's burst can never fit: `too_large`, not a wait.
    assert_eq!(send(&mut bob, &"y".repeat(65)).unwrap_err()["code"], "too_large");
}

fn new_connections_over_the_ip_quota_get_429(adapter: Adapter) {
    let clock = ManualClock::new();
    let limit = RateLimit::builder().handshakes_per_ip(Some(Quota::per_second(n(2)))).build().unwrap();
    let addr = server(adapter, limit, &clock, HandshakeRejection::Http);
    let _first = login(addr, "alice-token");
    // Counted before authentication: a bad token still spends the quota.
    let bad = connect_with(addr, |r| {
        r.headers_mut().insert("authorization", "Bearer wrong".parse().unwrap());
    });
    match bad {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("{other:?}"),
    }
    match connect_with(addr, |r| {
        r.headers_mut().insert("authorization", "Bearer alice-token".parse().unwrap());
    }) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert_eq!(response.headers()["retry-after"], "1", "half a second, rounded up to whole seconds");
        }
        other => panic!("{other:?}"),
    }
    clock.advance(Duration::from_millis(500));
    let _later = login(addr, "alice-token");
}

fn browsers_can_be_told_with_accept_then_close_4429(adapter: Adapter) {
    let clock = ManualClock::new();
    let limit = RateLimit::builder().handshakes_per_ip(Some(Quota::per_second(n(1)))).build().unwrap();
    let addr = server(adapter, limit, &clock, HandshakeRejection::AcceptThenClose);
    let _first = login(addr, "alice-token");
    let mut refused = login(addr, "alice-token");
    assert_eq!(expect_close(&mut refused), (4429, "too many connections".into()));
    expect_closed(&mut refused);
}

/// Messages already in flight when the guard closes are discarded, not
/// answered, so the application reading on sees only the one
/// `Error::Closed` and then the end of the stream (found by the browser
/// demo's flood button, which sends 40 messages at once: the replies made
/// tungstenite fail with "sending after closing").
#[test]
fn a_flood_in_flight_ends_in_a_clean_close() {
    use futures_util::StreamExt;
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(2)), Unit::Messages, Per::Connection)
        .close_after(n(2))
        .build()
        .unwrap();
    let guard = Guard::builder().without_auth().rate_limit(limit).clock(clock).build().unwrap();
    let (addr, rx) = crate::support::tokio_once(guard, |mut ws| async move {
        let mut seen = Vec::new();
        while let Some(next) = ws.next().await {
            seen.push(match next {
                Ok(message) => format!("{message:?}"),
                Err(e) => format!("error: {e}"),
            });
        }
        seen
    });
    let mut client = crate::support::connect(addr);
    for i in 0..40 {
        client.send(WsMessage::text(format!("m{i}"))).unwrap();
    }
    let close = loop {
        if let WsMessage::Close(Some(frame)) = client.read().unwrap() {
            break frame;
        }
    };
    assert_eq!((u16::from(close.code), close.reason.as_str()), (4429, "rate limit exceeded"));
    expect_closed(&mut client);
    let seen = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let errors: Vec<_> = seen.iter().filter(|s| s.starts_with("error")).collect();
    assert_eq!(errors, ["error: connection closed by the guard (rate_limited: rate limit exceeded)"], "{seen:?}");
}

for_each_adapter!(
    over_quota_messages_get_rate_limited_then_4429,
    a_principal_quota_is_shared_by_its_connections,
    new_connections_over_the_ip_quota_get_429,
    browsers_can_be_told_with_accept_then_close_4429,
);
