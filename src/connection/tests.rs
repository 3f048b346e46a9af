//! The connection core on a `ManualClock`: every deadline and every answer,
//! without a socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};
use std::time::{Duration, SystemTime};

use super::*;
use crate::auth::{AuthError, Authenticator, StaticTokens};
use crate::layer::{Limits, OriginPolicy};
use crate::time::ManualClock;
use crate::{GuardBuilder, HandshakeRejection, Liveness, Principal, WantsAuth};

const HEAD: &str = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
    Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn builder(clock: &ManualClock, liveness: Liveness) -> GuardBuilder<WantsAuth> {
    Guard::builder().clock(clock.clone()).liveness(liveness)
}

/// A connection through its handshake, with `extra` header lines.
fn open(guard: &Guard, extra: &str) -> (Connection, Handshake) {
    let mut conn = guard.connection(Some("192.0.2.1:1000".parse().unwrap()));
    let head = if extra.is_empty() { format!("{HEAD}\r\n") } else { format!("{HEAD}{extra}\r\n\r\n") };
    let Head::Complete { request, tail } = conn.handle_head(head.as_bytes()) else { panic!("head") };
    assert!(tail.is_empty());
    let answer = conn.handshake(&request);
    (conn, answer)
}

fn status(answer: &Handshake) -> String {
    String::from_utf8_lossy(answer.response()).lines().next().unwrap_or_default().to_owned()
}

fn closed_with(timeout: Option<Timeout>) -> (u16, String) {
    match timeout {
        Some(Timeout::Close { frame, .. }) => (frame.code.get(), frame.reason.to_string()),
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn the_head_arrives_in_pieces_and_its_tail_is_kept() {
    let guard = Guard::builder().without_auth().build().unwrap();
    let mut conn = guard.connection(None);
    let head = format!("{HEAD}\r\n");
    let (first, rest) = head.as_bytes().split_at(20);
    assert!(matches!(conn.handle_head(first), Head::Partial));
    let mut bytes = rest.to_vec();
    bytes.extend_from_slice(&[0x81, 0x80]);
    let Head::Complete { request, tail } = conn.handle_head(&bytes) else { panic!() };
    assert_eq!(tail, [0x81, 0x80], "the first frame's bytes are handed on");
    assert!(conn.handshake(&request).is_accept());
    assert!(conn.is_open());
}

#[test]
fn oversized_and_malformed_heads_are_refused_with_431_and_400() {
    let guard = Guard::builder().without_auth().limits(Limits::default().max_header_bytes(1024)).build().unwrap();
    let mut conn = guard.connection(None);
    let Head::Refused(answer) = conn.handle_head(&[b'a'; 1100]) else { panic!() };
    assert_eq!(status(&answer), "HTTP/1.1 431 Request Header Fields Too Large");
    assert_eq!(conn.poll_timeout(), None, "a refused connection has nothing left to do");
    let mut conn = guard.connection(None);
    let Head::Refused(answer) = conn.handle_head(b"NOT HTTP\r\n\r\n") else { panic!() };
    assert_eq!(status(&answer), "HTTP/1.1 400 Bad Request");
}

#[test]
fn a_slow_handshake_is_refused_with_408_at_its_deadline() {
    let clock = ManualClock::new();
    let guard = builder(&clock, Liveness::default()).without_auth().build().unwrap();
    let mut conn = guard.connection(None);
    assert!(matches!(conn.handle_head(b"GET /ws HTTP/1.1\r\n"), Head::Partial));
    let deadline = guard.now() + guard.limits().handshake_timeout;
    assert_eq!(conn.poll_timeout(), Some(deadline));
    clock.advance(guard.limits().handshake_timeout - Duration::from_millis(1));
    assert!(conn.handle_timeout(guard.now()).is_none());
    clock.advance(Duration::from_millis(1));
    let Some(Timeout::Refuse(answer)) = conn.handle_timeout(guard.now()) else { panic!() };
    assert_eq!(status(&answer), "HTTP/1.1 408 Request Timeout");
    assert!(conn.handle_timeout(guard.now()).is_none(), "answered once");
}

#[test]
fn handshake_answers_http_rejections_and_accept_then_close() {
    let tokens = StaticTokens::new().token("good", Principal::new("alice"));
    let auth = || Authenticator::builder().protocol("bearer.").build(tokens.clone()).unwrap();
    let guard = Guard::builder()
        .origin(OriginPolicy::new(["https://app.test"]).unwrap())
        .with_authenticator(auth())
        .build()
        .unwrap();
    let (_, answer) = open(&guard, "Origin: https://evil.test\r\nSec-WebSocket-Protocol: bearer.good");
    assert_eq!(status(&answer), "HTTP/1.1 403 Forbidden");
    let (conn, answer) = open(&guard, "Origin: https://app.test\r\nSec-WebSocket-Protocol: chat, bearer.good");
    assert!(answer.is_accept());
    let response = String::from_utf8_lossy(answer.response()).to_lowercase();
    assert!(response.starts_with("http/1.1 101"), "{response}");
    assert!(!response.contains("bearer.good"), "the token is never echoed: {response}");
    assert_eq!(conn.session().principal().unwrap().id, "alice");

    let guard = Guard::builder()
        .with_authenticator(auth())
        .handshake_rejection(HandshakeRejection::AcceptThenClose)
        .build()
        .unwrap();
    let (conn, answer) = open(&guard, "Sec-WebSocket-Protocol: chat, bearer.wrong");
    let Handshake::AcceptThenClose { response, close, rejection } = answer else { panic!() };
    assert!(String::from_utf8_lossy(&response).to_lowercase().contains("sec-websocket-protocol: chat\r\n"));
    assert_eq!((close.code.get(), rejection.http_status().as_u16()), (4401, 401));
    assert!(!conn.is_open());
}

#[test]
fn an_async_verifier_is_awaited() {
    use crate::auth::{AsyncVerifier, VerifyFuture};
    #[derive(Debug)]
    struct Lookup;
    impl AsyncVerifier for Lookup {
        fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
            Box::pin(async move {
                match token {
                    "good" => Ok(Principal::new("dana")),
                    _ => Err(AuthError::Invalid),
                }
            })
        }
    }
    let auth = Authenticator::builder().bearer_header().build_async(Lookup).unwrap();
    let guard = Guard::builder().with_authenticator(auth).build().unwrap();
    let mut conn = guard.connection(None);
    let head = format!("{HEAD}Authorization: Bearer good\r\n\r\n");
    let Head::Complete { request, .. } = conn.handle_head(head.as_bytes()) else { panic!() };
    let answer = futures_executor(conn.handshake_async(&request));
    assert!(answer.is_accept());
    assert_eq!(conn.session().principal().unwrap().id, "dana");
}

/// Polls a future that never waits (the verifier above) to completion.
fn futures_executor<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn the_heartbeat_pings_when_quiet_and_closes_without_a_pong() {
    let clock = ManualClock::new();
    let liveness = Liveness::off().ping_interval(Some(s(30))).pong_timeout(s(10));
    let guard = builder(&clock, liveness).without_auth().build().unwrap();
    let (mut conn, _) = open(&guard, "");
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(30)));
    clock.advance(s(20));
    assert!(matches!(conn.handle_inbound(Message::Pong(Default::default())), Verdict::Deliver(_)));
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(30)), "any frame moves the ping");
    clock.advance(s(30));
    assert!(matches!(conn.handle_timeout(guard.now()), Some(Timeout::Ping)));
    assert!(conn.handle_timeout(guard.now()).is_none(), "one ping at a time");
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(10)));
    // A pong in time: the next ping 30 s later.
    clock.advance(s(9));
    let _ = conn.handle_inbound(Message::Pong(Default::default()));
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(30)));
    clock.advance(s(30));
    assert!(matches!(conn.handle_timeout(guard.now()), Some(Timeout::Ping)));
    clock.advance(s(10));
    assert_eq!(closed_with(conn.handle_timeout(guard.now())), (1001, "no pong".into()));
    assert!(!conn.is_open() && conn.poll_timeout().is_none());
}

#[test]
fn idle_and_lifetime_timeouts_close_with_1001() {
    let clock = ManualClock::new();
    let liveness = Liveness::off().idle_timeout(Some(s(60))).max_lifetime(Some(s(100)));
    let guard = builder(&clock, liveness).without_auth().build().unwrap();
    let (mut conn, _) = open(&guard, "");
    clock.advance(s(50));
    let _ = conn.handle_inbound(Message::Ping(Default::default()));
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(10)), "a ping is not activity");
    let _ = conn.handle_inbound(Message::text("hi"));
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(50)), "a message is; the lifetime comes first");
    clock.advance(s(50));
    assert_eq!(closed_with(conn.handle_timeout(guard.now())), (1001, "connection lifetime exceeded".into()));

    let (mut conn, _) = open(&guard, "");
    clock.advance(s(59));
    assert!(conn.handle_timeout(guard.now()).is_none());
    clock.advance(s(1));
    assert_eq!(closed_with(conn.handle_timeout(guard.now())), (1001, "idle timeout".into()));
}

#[test]
fn token_expiry_and_the_first_message_deadline_close_with_4401() {
    let clock = ManualClock::new();
    let verifier = |token: &str| match token {
        "short" => Ok(Principal::new("carol").with_expiry(SystemTime::now() + s(60))),
        _ => Err(AuthError::Invalid),
    };
    let auth = Authenticator::builder().bearer_header().build(verifier).unwrap();
    let guard = builder(&clock, Liveness::off()).with_authenticator(auth).build().unwrap();
    let (mut conn, answer) = open(&guard, "Authorization: Bearer short");
    assert!(answer.is_accept());
    let deadline = conn.poll_timeout().unwrap();
    assert!(deadline <= guard.now() + s(60) && deadline > guard.now() + s(58), "the token's expiry");
    clock.advance(deadline - guard.now());
    assert_eq!(closed_with(conn.handle_timeout(guard.now())), (4401, "token expired".into()));

    let auth = Authenticator::builder().first_message(Default::default()).build(verifier).unwrap();
    let guard = builder(&clock, Liveness::off()).with_authenticator(auth).build().unwrap();
    let (mut conn, answer) = open(&guard, "");
    assert!(answer.is_accept(), "the token comes in the first message");
    let deadline = conn.poll_timeout().unwrap();
    clock.advance(deadline - guard.now());
    assert_eq!(closed_with(conn.handle_timeout(guard.now())), (4401, "authentication timed out".into()));
}

#[test]
fn a_send_stuck_longer_than_the_write_timeout_aborts_without_a_close_frame() {
    let clock = ManualClock::new();
    let guard = builder(&clock, Liveness::off().write_timeout(s(10))).without_auth().build().unwrap();
    let (mut conn, _) = open(&guard, "");
    conn.set_write_blocked(Some(guard.now()));
    clock.advance(s(5));
    conn.set_write_blocked(Some(guard.now()));
    assert_eq!(conn.poll_timeout(), Some(guard.now() + s(5)), "the first moment it waited counts");
    conn.set_write_blocked(None);
    assert_eq!(conn.poll_timeout(), None);
    conn.set_write_blocked(Some(guard.now()));
    clock.advance(s(10));
    let Some(Timeout::Abort(rejection)) = conn.handle_timeout(guard.now()) else { panic!() };
    assert_eq!(rejection.reason(), "send timed out");
}

/// Counts wake-ups.
struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_revocation_wakes_a_silent_connection_and_closes_it_with_4403() {
    let clock = ManualClock::new();
    let guard = builder(&clock, Liveness::off()).without_auth().build().unwrap();
    let (mut conn, _) = open(&guard, "");
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    conn.register_waker(&waker);
    conn.register_waker(&waker);
    assert!(conn.handle_timeout(guard.now()).is_none());
    assert!(guard.sessions().revoke(conn.session().id()));
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken once");
    assert_eq!(closed_with(conn.handle_timeout(guard.now())), (4403, "session revoked".into()));
}

#[test]
fn while_closing_data_is_discarded_and_layers_hear_the_close_once() {
    #[derive(Debug, Default)]
    struct Closes(Arc<AtomicUsize>);
    impl crate::Layer for Closes {
        fn name(&self) -> &'static str {
            "closes"
        }
        fn on_close(&self, _: &mut Session, _: Option<CloseCode>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let closes = Closes::default();
    let count = closes.0.clone();
    let guard = Guard::builder().without_auth().layer(closes).build().unwrap();
    let (mut conn, _) = open(&guard, "");
    conn.close(Some(&CloseFrame::new(CloseCode::NORMAL, "bye")));
    assert_eq!(conn.handle_inbound(Message::text("late")), Verdict::Drop { reply: None });
    let close = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")));
    assert_eq!(conn.handle_inbound(close.clone()), Verdict::Deliver(close));
    conn.handle_closed();
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn read_failures_close_with_1009_and_1007() {
    let guard = Guard::builder().without_auth().build().unwrap();
    let (mut conn, _) = open(&guard, "");
    assert_eq!(conn.handle_read_failure(ReadFailure::TooLarge).0.code.get(), 1009);
    let (mut conn, _) = open(&guard, "");
    assert_eq!(conn.handle_read_failure(ReadFailure::InvalidUtf8).0.code.get(), 1007);
}

#[test]
fn a_trusted_proxys_proxy_protocol_header_names_the_client() {
    use crate::layer::TrustedProxies;
    let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap().proxy_protocol(true);
    let guard = Guard::builder().without_auth().trusted_proxies(proxies).build().unwrap();
    let head = format!("{HEAD}X-Forwarded-For: 203.0.113.66\r\n\r\n");
    // In pieces: the PROXY line split, then the request.
    let mut conn = guard.connection(Some("10.0.0.5:40000".parse().unwrap()));
    assert!(matches!(conn.handle_head(b"PROXY TCP4 198.51.1"), Head::Partial));
    let rest = format!("00.7 10.0.0.5 56324 443\r\n{head}");
    let Head::Complete { request, .. } = conn.handle_head(rest.as_bytes()) else { panic!() };
    assert!(conn.handshake(&request).is_accept());
    assert_eq!(conn.session().peer_addr(), Some("198.51.100.7:56324".parse().unwrap()));
    assert_eq!(conn.session().proxy_addr(), Some("10.0.0.5:40000".parse().unwrap()));
    // A trusted proxy without the header, and anyone else with one: 400.
    let mut conn = guard.connection(Some("10.0.0.5:40000".parse().unwrap()));
    let Head::Refused(answer) = conn.handle_head(head.as_bytes()) else { panic!() };
    assert_eq!(status(&answer), "HTTP/1.1 400 Bad Request");
    let mut conn = guard.connection(Some("203.0.113.9:1".parse().unwrap()));
    let spoof = format!("PROXY TCP4 1.1.1.1 10.0.0.5 1 443\r\n{head}");
    let Head::Refused(answer) = conn.handle_head(spoof.as_bytes()) else { panic!() };
    assert_eq!(status(&answer), "HTTP/1.1 400 Bad Request");
}
