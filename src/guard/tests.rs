//! In-memory tests of the core: no sockets, deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::*;
use crate::message::counters;
use crate::outcome::ErrorReply;

/// Reads the JSON `type` of every message, counts its calls, and answers
/// according to that type.
#[derive(Debug, Default)]
struct Probe {
    name: &'static str,
    calls: AtomicUsize,
    closes: AtomicUsize,
}

impl Probe {
    fn named(name: &'static str) -> Arc<Self> {
        Arc::new(Self { name, ..Self::default() })
    }
}

impl Layer for Probe {
    fn name(&self) -> &'static str {
        self.name
    }

    fn on_handshake(&self, request: &HandshakeRequest, session: &mut Session, _: Instant) -> Result<(), Rejection> {
        if request.headers().contains_key("x-reject") {
            return Err(Rejection::new(RejectionKind::Forbidden, "rejected by probe"));
        }
        if session.requested_protocols().iter().any(|p| p == "chat.v1") {
            session.select_protocol("chat.v1");
        }
        Ok(())
    }

    fn on_inbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let kind = frame.json().and_then(|v| v.get("type")).and_then(|t| t.as_str()).map(str::to_owned);
        match kind.as_deref() {
            Some("drop") => Outcome::drop_with(ErrorReply::forbidden()),
            Some("silent") => Outcome::drop_silently(),
            Some("close") => Outcome::Close(Rejection::new(RejectionKind::PolicyViolation, "probe closed")),
            Some("rewrite") if self.name == "rewriter" => {
                frame.json_mut().unwrap()["type"] = "rewritten".into();
                Outcome::Pass
            }
            _ => Outcome::Pass,
        }
    }

    fn on_outbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        self.on_inbound(frame, session, now)
    }

    fn on_close(&self, _: &mut Session, _: Option<CloseCode>) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

fn guard_with(layers: &[Arc<Probe>]) -> Guard {
    layers.iter().fold(Guard::builder().without_auth(), |b, l| b.shared_layer(l.clone())).build().unwrap()
}

#[test]
fn three_layers_reading_json_parse_it_once() {
    let probes = [Probe::named("a"), Probe::named("b"), Probe::named("c")];
    let guard = guard_with(&probes);
    let mut session = guard.new_session(None);
    counters::reset();
    let verdict = guard.inbound(Message::text(r#"{"type":"chat","text":"hi"}"#), &mut session);
    assert_eq!(verdict, Verdict::Deliver(Message::text(r#"{"type":"chat","text":"hi"}"#)));
    assert!(probes.iter().all(|p| p.calls.load(Ordering::SeqCst) == 1));
    assert_eq!(counters::get(), (1, 0), "one parse, no serialization for an unchanged message");
}

/// Without a layer that needs the tree, the type for a per-type quota and
/// a plain RBAC rule is read from the text once, and nothing is parsed;
/// a templated rule parses, once.
#[test]
fn plain_rules_and_type_quotas_read_the_type_without_parsing() {
    use std::num::NonZeroU32;

    use crate::rate_limit::{Per, Quota, RateLimit, Unit};
    use crate::rbac::Policy;
    let quota = Quota::per_second(NonZeroU32::new(100).unwrap());
    let limit = RateLimit::builder().quota_for_type("chat", quota, Unit::Messages, Per::Connection).build().unwrap();
    let policy = Policy::new().role("user", ["chat:send", "chat:read"]).anonymous("user");
    let plain = policy.clone().inbound("chat", "chat:send").outbound("chat", "chat:read").build().unwrap();
    let guard = Guard::builder().without_auth().rate_limit(limit).rbac(plain).build().unwrap();
    let mut session = guard.new_session(None);
    let message = Message::text(r#"{"type":"chat","room":"lobby","text":"hi"}"#);
    for direction in [Direction::Inbound, Direction::Outbound] {
        counters::reset();
        let verdict = match direction {
            Direction::Inbound => guard.inbound(message.clone(), &mut session),
            Direction::Outbound => guard.outbound(message.clone(), &mut session),
        };
        assert_eq!(verdict, Verdict::Deliver(message.clone()), "{direction:?}");
        assert_eq!((counters::type_reads(), counters::get()), (1, (0, 0)), "{direction:?}: one read, no parse");
    }
    // Text that looks like JSON but is not has no type; the outbound rule
    // fails closed on it, and it is not parsed again.
    counters::reset();
    let broken = Message::text(r#"{"type":"chat","text":"hi"} trailing"#);
    assert!(matches!(guard.outbound(broken, &mut session), Verdict::Drop { reply: None }), "unreadable: dropped");
    assert_eq!((counters::type_reads(), counters::get()), (1, (0, 0)));

    let templated = policy.inbound("chat", "chat:{/room}").build().unwrap();
    let guard = Guard::builder().without_auth().rbac(templated).build().unwrap();
    let mut session = guard.new_session(None);
    counters::reset();
    assert!(matches!(guard.inbound(message, &mut session), Verdict::Drop { .. }), "chat:lobby is not granted");
    assert_eq!((counters::type_reads(), counters::get()), (0, (1, 0)), "a template reads the tree: one parse");
}

/// The rate limit's per-type quota and the schema layer both guard their
/// parse with the structural scan: it runs once per message.
#[test]
fn rate_limit_and_schema_share_one_structural_scan_and_one_parse() {
    use std::num::NonZeroU32;

    use crate::rate_limit::{Per, Quota, RateLimit, Unit};
    use crate::schema::SchemaValidation;
    let quota = Quota::per_second(NonZeroU32::new(100).unwrap());
    let limit = RateLimit::builder().quota_for_type("chat", quota, Unit::Messages, Per::Connection).build().unwrap();
    let schema = SchemaValidation::builder().schema("chat", serde_json::json!({"type": "object"})).build().unwrap();
    let guard = Guard::builder().without_auth().rate_limit(limit).json_schema(schema).build().unwrap();
    let mut session = guard.new_session(None);
    counters::reset();
    let message = Message::text(r#"{"type":"chat","text":"hi"}"#);
    assert_eq!(guard.inbound(message.clone(), &mut session), Verdict::Deliver(message));
    assert_eq!((counters::scans(), counters::get()), (1, (1, 0)), "one scan, one parse");
    assert_eq!(counters::type_reads(), 0, "the schema builds the tree anyway: the rate limit reads the type from it");
    // A bomb is refused by the scan before anything parses it.
    counters::reset();
    let bomb = Message::text(format!("{}{}", "[".repeat(100), "]".repeat(100)));
    assert!(matches!(guard.inbound(bomb, &mut session), Verdict::Drop { .. }));
    assert_eq!((counters::scans(), counters::get()), (1, (0, 0)), "scanned once, never parsed");
}

#[test]
fn a_rewrite_is_serialized_once_and_seen_by_later_layers() {
    let probes = [Probe::named("rewriter"), Probe::named("b"), Probe::named("c")];
    let guard = guard_with(&probes);
    let mut session = guard.new_session(None);
    counters::reset();
    let Verdict::Deliver(Message::Text(text)) = guard.inbound(Message::text(r#"{"type":"rewrite"}"#), &mut session)
    else {
        panic!("expected delivery")
    };
    assert_eq!(text, r#"{"type":"rewritten"}"#);
    assert_eq!(counters::get(), (1, 1), "one parse, one serialization");
}

#[test]
fn first_non_pass_layer_decides_and_later_layers_do_not_run() {
    let (first, second) = (Probe::named("first"), Probe::named("second"));
    let guard = guard_with(&[first.clone(), second.clone()]);
    let mut session = guard.new_session(None);

    let verdict = guard.inbound(Message::text(r#"{"type":"drop"}"#), &mut session);
    let Verdict::Drop { reply: Some(Message::Text(reply)) } = verdict else { panic!("{verdict:?}") };
    assert_eq!(reply, r#"{"type":"error","code":"forbidden","message":"not allowed"}"#);
    assert_eq!(second.calls.load(Ordering::SeqCst), 0);

    assert_eq!(guard.inbound(Message::text(r#"{"type":"silent"}"#), &mut session), Verdict::Drop { reply: None });

    let Verdict::Close { frame, rejection } = guard.inbound(Message::text(r#"{"type":"close"}"#), &mut session) else {
        panic!("expected close")
    };
    assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
    assert_eq!(frame.reason, "probe closed");
    assert_eq!(rejection.kind(), RejectionKind::PolicyViolation);
    assert_eq!(second.calls.load(Ordering::SeqCst), 0);
    assert_eq!(first.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn outbound_drops_never_carry_a_reply() {
    let guard = guard_with(&[Probe::named("p")]);
    let mut session = guard.new_session(None);
    assert_eq!(guard.outbound(Message::text(r#"{"type":"drop"}"#), &mut session), Verdict::Drop { reply: None });
    assert!(matches!(guard.outbound(Message::text("plain"), &mut session), Verdict::Deliver(_)));
}

#[test]
fn control_messages_bypass_the_layers() {
    let probe = Probe::named("p");
    let guard = guard_with(std::slice::from_ref(&probe));
    let mut session = guard.new_session(None);
    for message in [Message::Ping("x".into()), Message::Pong("y".into()), Message::Close(None)] {
        assert_eq!(guard.inbound(message.clone(), &mut session), Verdict::Deliver(message));
    }
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn close_codes_can_be_overridden_and_must_be_sendable() {
    let guard = Guard::builder()
        .without_auth()
        .layer(Limits::default().max_message_size(4))
        .close_code(RejectionKind::TooLarge, CloseCode::new(4413))
        .build()
        .unwrap();
    let rejection = Rejection::new(RejectionKind::TooLarge, "message too large");
    assert_eq!(guard.close_frame(&rejection).code.get(), 4413);
    assert_eq!(guard.close_code(&Rejection::new(RejectionKind::Forbidden, "x")).get(), 4403);
    let mut session = guard.new_session(None);
    let Verdict::Close { frame, .. } = guard.inbound(Message::text("12345"), &mut session) else { panic!() };
    assert_eq!(frame.code.get(), 4413);

    let err =
        Guard::builder().without_auth().close_code(RejectionKind::Forbidden, CloseCode::new(1006)).build().unwrap_err();
    assert_eq!(err, crate::ConfigError::UnsendableCloseCode { code: 1006 });
}

#[test]
fn sessions_get_unique_ids_and_guard_clones_share_the_counter() {
    let guard = Guard::builder().without_auth().build().unwrap();
    let clone = guard.clone();
    let ids = [guard.new_session(None).id(), clone.new_session(None).id(), guard.new_session(None).id()];
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
}

#[test]
fn notify_close_reaches_every_layer() {
    let probes = [Probe::named("a"), Probe::named("b")];
    let guard = guard_with(&probes);
    let mut session = guard.new_session(None);
    guard.notify_close(&mut session, Some(CloseCode::NORMAL));
    assert!(probes.iter().all(|p| p.closes.load(Ordering::SeqCst) == 1));
}

fn upgrade_request() -> http::request::Builder {
    http::Request::get("/ws")
        .header("host", "127.0.0.1")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
}

#[test]
fn handshake_records_the_request_and_echoes_the_selected_protocol() {
    let guard = guard_with(&[Probe::named("p")]);
    let mut session = guard.new_session(None);
    let request = upgrade_request()
        .header("origin", "https://app.example")
        .header("sec-websocket-protocol", "chat.v1, bearer.secret")
        .body(())
        .unwrap();
    let Handshake::Accept { response } = guard.plan_handshake(&request, &mut session) else { panic!() };
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    assert!(response.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{response}");
    assert!(response.contains("sec-websocket-protocol: chat.v1\r\n"), "{response}");
    assert!(!response.contains("bearer"), "an offered protocol that was not selected is never echoed");
    assert_eq!(session.origin(), Some("https://app.example"));
    assert_eq!(session.requested_protocols(), ["chat.v1", "bearer.secret"]);
}

#[test]
fn handshake_rejections_become_http_or_accept_then_close() {
    let request = upgrade_request().header("x-reject", "1").body(()).unwrap();

    let guard = guard_with(&[Probe::named("p")]);
    let Handshake::Reject { response, rejection } = guard.plan_handshake(&request, &mut guard.new_session(None)) else {
        panic!()
    };
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nrejected by probe\n"), "{response}");
    assert!(response.contains("content-length: 18\r\n"), "{response}");
    assert_eq!(rejection.kind(), RejectionKind::Forbidden);

    let guard = Guard::builder()
        .without_auth()
        .layer(ProbeRef(Probe::named("p")))
        .handshake_rejection(HandshakeRejection::AcceptThenClose)
        .build()
        .unwrap();
    let Handshake::AcceptThenClose { response, close, .. } =
        guard.plan_handshake(&request, &mut guard.new_session(None))
    else {
        panic!()
    };
    assert!(response.starts_with(b"HTTP/1.1 101"));
    assert_eq!(close.code, CloseCode::FORBIDDEN);

    // A request that is not an upgrade is plain HTTP 400 in both modes.
    let not_upgrade = http::Request::get("/").body(()).unwrap();
    let Handshake::Reject { response, .. } = guard.plan_handshake(&not_upgrade, &mut guard.new_session(None)) else {
        panic!()
    };
    assert!(response.starts_with(b"HTTP/1.1 400"));
}

/// Lets a shared probe be added with `.layer(..)`.
#[derive(Debug)]
struct ProbeRef(Arc<Probe>);

impl Layer for ProbeRef {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn on_handshake(&self, r: &HandshakeRequest, s: &mut Session, now: Instant) -> Result<(), Rejection> {
        self.0.on_handshake(r, s, now)
    }
}

const HEAD: &[u8] = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n";

#[test]
fn head_buffer_parses_byte_by_byte_and_keeps_the_tail() {
    let mut head = HeadBuffer::new(1024);
    let mut input = HEAD.to_vec();
    input.extend_from_slice(b"\x81\x00");
    let mut parsed = None;
    for (i, byte) in input.iter().enumerate() {
        if let Some(p) = head.push(std::slice::from_ref(byte)).unwrap() {
            assert_eq!(i, HEAD.len() - 1, "complete exactly at the blank line");
            parsed = Some(p);
            break;
        }
    }
    let parsed = parsed.expect("head completes");
    assert_eq!(parsed.request.uri(), "/ws");
    assert_eq!(parsed.request.headers()["upgrade"], "websocket");

    let mut head = HeadBuffer::new(1024);
    let parsed = head.push(&input).unwrap().unwrap();
    assert_eq!(parsed.tail, b"\x81\x00");
}

#[test]
fn head_buffer_refuses_oversized_malformed_and_crowded_heads() {
    let kind = |bytes: &[u8], max| HeadBuffer::new(max).push(bytes).unwrap_err().kind();
    // Over the limit without an end, and with an end past the limit.
    assert_eq!(kind(&[b'a'; 2000], 1024), RejectionKind::TooLarge);
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend([b'a'; 1100]);
    big.extend(b"\r\n\r\n");
    assert_eq!(kind(&big, 1024), RejectionKind::TooLarge);
    // A head that fits exactly is accepted.
    assert!(HeadBuffer::new(HEAD.len()).push(HEAD).unwrap().is_some());
    assert_eq!(kind(b"NOT HTTP AT ALL\r\n\r\n", 1024), RejectionKind::BadRequest);
    let crowded: Vec<u8> =
        [&b"GET / HTTP/1.1\r\n"[..], &b"X: y\r\n".repeat(200), b"\r\n"].into_iter().flatten().copied().collect();
    assert_eq!(kind(&crowded, 64 * 1024), RejectionKind::TooLarge);
    // Not complete yet: ask for more.
    assert!(HeadBuffer::new(1024).push(b"GET / HTTP/1.1\r\n").unwrap().is_none());
}

#[test]
fn websocket_configs_are_clamped_to_the_limits_but_never_raised() {
    let guard = Guard::builder()
        .without_auth()
        .limits(Limits::default().max_message_size(1000).max_frame_size(500))
        .build()
        .unwrap();
    let default = guard.websocket_config();
    assert_eq!((default.max_message_size, default.max_frame_size), (Some(1000), Some(500)));
    assert_eq!(default.read_buffer_size, super::builder::DEFAULT_READ_BUFFER);

    let unlimited = WebSocketConfig::default().max_message_size(None).max_frame_size(Some(16 << 20));
    let clamped = guard.clamp_config(unlimited);
    assert_eq!((clamped.max_message_size, clamped.max_frame_size), (Some(1000), Some(500)));

    let stricter = WebSocketConfig::default().max_message_size(Some(10)).max_frame_size(Some(20));
    let kept = guard.clamp_config(stricter);
    assert_eq!((kept.max_message_size, kept.max_frame_size), (Some(10), Some(20)));
}

/// The type read from the text is kept per pointer, and a rewrite of the
/// value replaces it: a later layer sees the type of what will be sent.
#[test]
fn a_frames_type_follows_its_pointer_and_its_rewrites() {
    use crate::layer::Discriminator;
    let by_type = Discriminator::default();
    let by_kind = Discriminator::new("/kind").unwrap();
    let mut frame = Frame::from_text(r#"{"type":"chat","kind":"text"}"#);
    assert_eq!(frame.message_type(&by_type), Some("chat"));
    assert_eq!(frame.message_type(&by_kind), Some("text"), "another pointer is read again");
    assert_eq!(frame.message_type(&by_type), Some("chat"));
    frame.json_mut().unwrap()["type"] = "join".into();
    assert_eq!(frame.message_type(&by_type), Some("join"));
    frame.set_json(serde_json::json!({"type": "leave"}));
    assert_eq!(frame.message_type(&by_type), Some("leave"));
    assert_eq!(frame.message_type(&by_kind), None);
}
