//! Audit events. A separate test binary on purpose: `tracing` caches each
//! callsite's interest globally, so a subscriber installed by one test races
//! with other threads hitting the same callsites. Alone in its process, this
//! test installs a global subscriber and sees every event.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wsguard::{ErrorReply, Frame, Guard, HandshakeRequest, Layer, Message, Outcome, Rejection, RejectionKind, Session};

#[cfg(feature = "redis")]
#[path = "support/redis.rs"]
mod redis_server;

/// Collects formatted events in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Drops `{"type":"drop"}`, closes on `{"type":"close"}`, refuses handshakes
/// carrying `x-reject`.
#[derive(Debug)]
struct Probe;

impl Layer for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn on_handshake(&self, request: &HandshakeRequest, _: &mut Session, _: Instant) -> Result<(), Rejection> {
        match request.headers().contains_key("x-reject") {
            true => Err(Rejection::new(RejectionKind::Forbidden, "rejected by probe")),
            false => Ok(()),
        }
    }
    fn on_inbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
        match frame.json().and_then(|v| v["type"].as_str()) {
            Some("drop") => Outcome::drop_with(ErrorReply::forbidden()),
            Some("close") => Outcome::Close(Rejection::new(RejectionKind::PolicyViolation, "probe closed")),
            _ => Outcome::Pass,
        }
    }
}

#[test]
fn every_non_pass_outcome_emits_one_audit_event_without_the_payload() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .init();

    let guard = Guard::builder().without_auth().layer(Probe).build().unwrap();
    let mut session = guard.new_session(None);
    let secret = "alice@example.com";
    for kind in ["pass", "drop", "close"] {
        let _ = guard.inbound(Message::text(format!(r#"{{"type":"{kind}","email":"{secret}"}}"#)), &mut session);
    }
    let request = http::Request::get("/ws").header("x-reject", "1").body(()).unwrap();
    let _ = guard.check_handshake(&request, &mut session);
    let _ = guard.check_handshake(&http::Request::get("/ws").body(()).unwrap(), &mut session);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<_> = log.lines().collect();
    assert_eq!(lines.len(), 3, "passes are silent; drop, close and handshake rejection log once each:\n{log}");
    assert!(lines.iter().all(|l| l.contains("wsguard::audit") && l.contains("layer=\"probe\"")), "{log}");
    assert!(lines.iter().all(|l| l.contains(&format!("conn_id={}", session.id()))), "{log}");
    assert!(lines[0].contains("event=\"message_dropped\"") && lines[0].contains("code=\"forbidden\""), "{log}");
    assert!(lines[1].contains("event=\"connection_closing\"") && lines[1].contains("code=1008"), "{log}");
    assert!(lines[2].contains("event=\"handshake_rejected\"") && lines[2].contains("code=403"), "{log}");
    assert!(!log.contains("alice") && !log.contains("example.com"), "payload leaked into audit:\n{log}");

    captured.0.lock().unwrap().clear();
    auth_failures_name_reason_and_source_never_the_token(&captured);
    captured.0.lock().unwrap().clear();
    schema_refusals_name_the_rule_never_the_value(&captured);
    captured.0.lock().unwrap().clear();
    rbac_denials_name_principal_type_and_permission(&captured);
    captured.0.lock().unwrap().clear();
    pii_findings_name_kinds_and_counts_never_the_values(&captured);
    captured.0.lock().unwrap().clear();
    a_connection_reports_its_opening_and_its_end(&captured);
    #[cfg(feature = "redis")]
    {
        captured.0.lock().unwrap().clear();
        rate_limit_store_outages_are_logged_once_without_the_url(&captured);
    }
}

/// The audit trail of a connection: opened, then closed with who closed
/// it, its duration and what it carried; every event with the same leading
/// fields.
fn a_connection_reports_its_opening_and_its_end(captured: &Captured) {
    use std::time::Duration;
    use wsguard::connection::{Head, Timeout};
    use wsguard::time::ManualClock;
    use wsguard::{CloseCode, CloseFrame, Liveness};

    let clock = ManualClock::new();
    let liveness = Liveness::off().idle_timeout(Some(Duration::from_secs(60)));
    let guard = Guard::builder().without_auth().liveness(liveness).clock(clock.clone()).build().unwrap();
    let head = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let open = || {
        let mut conn = guard.connection(Some("192.0.2.1:1000".parse().unwrap()));
        let Head::Complete { request, .. } = conn.handle_head(head.as_bytes()) else { panic!() };
        assert!(conn.handshake(&request).is_accept());
        conn
    };
    // The peer closes after two messages in and one out, 5 s later.
    let mut conn = open();
    let _ = conn.handle_inbound(Message::text("hello"));
    let _ = conn.handle_inbound(Message::binary(vec![1, 2, 3]));
    let _ = conn.send(Message::text("hi back"));
    clock.advance(Duration::from_secs(5));
    let _ = conn.handle_inbound(Message::Close(Some(CloseFrame::new(CloseCode::from(1000), "bye"))));
    // The guard closes an idle one; the transport drops a third.
    let mut idle = open();
    clock.advance(Duration::from_secs(60));
    assert!(matches!(idle.handle_timeout(guard.now()), Some(Timeout::Close { .. })));
    let mut lost = open();
    lost.handle_closed();
    lost.handle_closed();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let opened = log.lines().filter(|l| l.contains("event=\"connection_opened\"")).count();
    assert_eq!(opened, 3, "{log}");
    let closed: Vec<_> = log.lines().filter(|l| l.contains("event=\"connection_closed\"")).collect();
    assert_eq!(closed.len(), 3, "once per connection:\n{log}");
    let fields = [
        "code=1000",
        "by=\"peer\"",
        "duration_ms=5000",
        "messages_in=2",
        "bytes_in=8",
        "messages_out=1",
        "bytes_out=7",
    ];
    assert!(fields.iter().all(|f| closed[0].contains(f)), "{}", closed[0]);
    assert!(closed[1].contains("code=1001") && closed[1].contains("by=\"guard\""), "{}", closed[1]);
    assert!(closed[2].contains("code=0") && closed[2].contains("by=\"transport\""), "{}", closed[2]);
    for line in log.lines() {
        for field in ["conn_id=", "peer=", "principal=", "layer=", "code="] {
            assert!(line.contains(field), "{field} missing: {line}");
        }
    }
    assert!(!log.contains("192.0.2.1"), "the peer is pseudonymised:\n{log}");
}

fn rbac_denials_name_principal_type_and_permission(captured: &Captured) {
    use wsguard::audit::AuditIdentities;
    use wsguard::rbac::Policy;
    use wsguard::{Principal, Verdict};

    let rbac = Policy::new()
        .role("user", ["room:lobby:write"])
        .inbound("chat", "room:{/room}:write")
        .outbound("audit", "audit:read")
        .build()
        .unwrap();
    let key = [7u8; 32];
    let guard = Guard::builder()
        .without_auth()
        .rbac(rbac.clone())
        .audit_identities(AuditIdentities::pseudonymous(&key))
        .build()
        .unwrap();
    let peer: std::net::SocketAddr = "203.0.113.9:50123".parse().unwrap();
    let mut session = guard.new_session(Some(peer));
    session.set_principal(Some(Principal::new("alice@example.com").with_roles(["user"]))).unwrap();
    let denied = Message::text(r#"{"type":"chat","room":"staff +1 415 555 0132","text":"hi"}"#);
    assert!(matches!(guard.inbound(denied, &mut session), Verdict::Drop { reply: Some(_) }));
    let hidden = Message::text(r#"{"type":"audit","entry":"secret entry"}"#);
    assert_eq!(guard.outbound(hidden, &mut session), Verdict::Drop { reply: None });
    // The review's finding: with RBAC and no schema in front, the client's
    // `type` (a card number, a token, a phone number) reached the log.
    for client_type in ["4111 1111 1111 1111", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "+44 20 7946 0958"] {
        let text = serde_json::json!({"type": client_type}).to_string();
        assert!(matches!(guard.inbound(Message::text(text), &mut session), Verdict::Drop { reply: Some(_) }));
    }

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<_> = log.lines().filter(|l| l.contains("access_denied")).collect();
    assert_eq!(lines.len(), 5, "{log}");
    let pseudonym = AuditIdentities::pseudonymous(&key).principal("alice@example.com");
    assert!(pseudonym.starts_with("p-") && pseudonym.len() == 18, "{pseudonym}");
    assert!(lines.iter().all(|l| l.contains(&format!("principal=\"{pseudonym}\""))), "{log}");
    assert!(lines[0].contains("message_type=\"chat\"") && lines[0].contains("direction=\"inbound\""), "{log}");
    assert!(lines[0].contains("permission=\"room:{/room}:write\""), "the template, not the client's room:\n{log}");
    assert!(lines[1].contains("permission=\"audit:read\"") && lines[1].contains("direction=\"outbound\""), "{log}");
    assert!(lines[2..].iter().all(|l| l.contains("message_type=\"(other)\"")), "{log}");
    // Whole values: a timestamp can hold "415".
    for leaked in
        ["415 555", "secret entry", "alice", "example.com", "4111", "eyJhbGci", "7946", "203.0.113.9", "staff"]
    {
        assert!(!log.contains(leaked), "{leaked} leaked:\n{log}");
    }

    // In clear only when the application opts in.
    captured.0.lock().unwrap().clear();
    let guard =
        Guard::builder().without_auth().rbac(rbac).audit_identities(AuditIdentities::in_clear()).build().unwrap();
    let mut session = guard.new_session(Some(peer));
    session.set_principal(Some(Principal::new("alice@example.com").with_roles(["user"]))).unwrap();
    let _ = guard.inbound(Message::text(r#"{"type":"other"}"#), &mut session);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("principal=\"alice@example.com\"") && log.contains("peer=\"203.0.113.9:50123\""), "{log}");
}

fn schema_refusals_name_the_rule_never_the_value(captured: &Captured) {
    use serde_json::json;
    use wsguard::schema::SchemaValidation;

    let closed = json!({"type": "object", "properties": {"type": {}, "name": {}}, "additionalProperties": false});
    let schemas = SchemaValidation::builder()
        .schema("profile", json!({"properties": {"name": {"maxLength": 3}}}))
        .outbound_schema("profile", closed)
        .build()
        .unwrap();
    let guard = Guard::builder().without_auth().json_schema(schemas).build().unwrap();
    let mut session = guard.new_session(None);
    let inbound = guard.inbound(Message::text(r#"{"type":"profile","name":"bob.secret@example.com"}"#), &mut session);
    assert!(matches!(inbound, wsguard::Verdict::Drop { reply: Some(_) }));
    let leak = Message::text(r#"{"type":"profile","name":"Bob","email":"bob.secret@example.com"}"#);
    assert_eq!(guard.outbound(leak, &mut session), wsguard::Verdict::Drop { reply: None });

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<_> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[0].contains("event=\"message_dropped\"") && lines[0].contains("code=\"invalid_message\""), "{log}");
    assert!(
        lines[1].contains("event=\"outbound_invalid\"")
            && lines[1].contains("keyword=\"additionalProperties\"")
            && lines[1].contains("schema_path=\"/additionalProperties\"")
            && lines[1].contains("message_type=\"profile\""),
        "{log}"
    );
    assert!(lines[2].contains("event=\"message_dropped\"") && lines[2].contains("direction=\"outbound\""), "{log}");
    assert!(!log.contains("secret"), "a value leaked into the audit log:\n{log}");
}

fn auth_failures_name_reason_and_source_never_the_token(captured: &Captured) {
    use std::time::{Duration, SystemTime};
    use wsguard::Principal;
    use wsguard::auth::{Authenticator, StaticTokens};
    use wsguard::layer::OriginPolicy;

    let tokens = StaticTokens::new()
        .token("valid-query-token-4711", Principal::new("q"))
        .token("stale-header-token-0815", Principal::new("s").with_expiry(SystemTime::now() - Duration::from_secs(5)));
    let auth = Authenticator::builder().bearer_header().cookie("sid").dangerous().query_parameter("access_token");
    let guard = Guard::builder()
        .origin(OriginPolicy::new(["https://app.test"]).unwrap())
        .with_authenticator(auth.build(tokens).unwrap())
        .build()
        .unwrap();
    let attempt = |request: http::request::Builder| {
        let mut session = guard.new_session(None);
        guard
            .check_handshake(&request.body(()).unwrap(), &mut session)
            .map(|()| session.principal().unwrap().id.clone())
    };
    assert_eq!(attempt(http::Request::get("/ws?access_token=valid-query-token-4711")).unwrap(), "q");
    assert!(attempt(http::Request::get("/ws?x=1&access_token=wrong-query-token-9999")).is_err());
    assert!(attempt(http::Request::get("/ws").header("authorization", "Bearer stale-header-token-0815")).is_err());
    assert!(attempt(http::Request::get("/ws").header("cookie", "sid=cookie-token-without-origin")).is_err());
    assert!(attempt(http::Request::get("/ws")).is_err());

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<_> = log.lines().collect();
    assert_eq!(lines.len(), 4, "one event per failure, none for success:\n{log}");
    assert!(lines.iter().all(|l| l.contains("event=\"handshake_rejected\"") && l.contains("layer=\"auth\"")), "{log}");
    assert!(lines[0].contains("code=401") && lines[0].contains("detail=\"invalid token (source: query)\""), "{log}");
    assert!(lines[1].contains("code=401") && lines[1].contains("detail=\"token expired (source: header)\""), "{log}");
    assert!(lines[2].contains("code=403") && lines[2].contains("cookie credentials without an origin"), "{log}");
    assert!(lines[3].contains("code=401") && lines[3].contains("missing credentials"), "{log}");
    for token in ["valid-query-token", "wrong-query-token", "stale-header-token", "cookie-token-without-origin"] {
        assert!(!log.contains(token), "token {token} leaked into the log:\n{log}");
    }
}

fn pii_findings_name_kinds_and_counts_never_the_values(captured: &Captured) {
    use wsguard::pii::{Action, Kind, Scrubber};

    let scrubber = Scrubber::builder().action(Kind::CreditCard, Action::Drop).build().unwrap();
    let guard = Guard::builder().without_auth().scrub_pii(scrubber).build().unwrap();
    let mut session = guard.new_session(None);
    let _ = guard.outbound(Message::text("jane.doe@example.com, jim@example.org, +44 20 7946 0958"), &mut session);
    let _ = guard.inbound(Message::text("card 4111 1111 1111 1111"), &mut session);
    let _ = guard.inbound(Message::text("nothing to see"), &mut session);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let pii: Vec<_> = log.lines().filter(|l| l.contains("event=\"pii_detected\"")).collect();
    assert_eq!(pii.len(), 2, "one event per frame with findings:\n{log}");
    assert!(pii[0].contains("kinds=\"email:2,phone:1\"") && pii[0].contains("code=\"rewritten\""), "{log}");
    assert!(pii[0].contains("direction=\"outbound\"") && pii[0].contains("count=3"), "{log}");
    assert!(pii[1].contains("kinds=\"credit_card:1\"") && pii[1].contains("code=\"drop\""), "{log}");
    // Whole values: short digit runs could match the log's own timestamps.
    for value in ["jane.doe", "example.com", "7946 0958", "4111 1111"] {
        assert!(!log.contains(value), "{value} leaked into the audit log:\n{log}");
    }
}

#[cfg(feature = "redis")]
fn rate_limit_store_outages_are_logged_once_without_the_url(captured: &Captured) {
    use std::num::NonZeroU32;
    use wsguard::Principal;
    use wsguard::rate_limit::{Per, Quota, RateLimit, RedisConfig, Unit};

    let Some(mut server) = redis_server::RedisServer::start_or_skip("rate_limit_store_outages") else { return };
    let limit = |url: &str| {
        let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
        let config = RedisConfig::new(url).manual_sync();
        RateLimit::builder().quota(quota, Unit::Messages, Per::Principal).redis(config).build().unwrap()
    };
    let send = |limit: &RateLimit| {
        let guard = Guard::builder().without_auth().layer(limit.clone()).build().unwrap();
        let mut session = guard.new_session(None);
        session.set_principal(Some(Principal::new("alice"))).unwrap();
        let _ = guard.inbound(Message::text("x"), &mut session);
    };
    let reachable = limit(&server.url());
    send(&reachable);
    reachable.sync().unwrap();
    server.kill();
    send(&reachable);
    assert!(reachable.sync().is_err());
    assert!(reachable.sync().is_err(), "the second failure is not logged again");
    server.restart();
    reachable.sync().unwrap();
    // A URL with a password, to a port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hidden = limit(&format!("redis://:hunter2secret@127.0.0.1:{dead}/"));
    send(&hidden);
    assert!(hidden.sync().is_err());

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<_> = log.lines().filter(|l| l.contains("rate_limit_store")).collect();
    assert_eq!(events.len(), 3, "down, up, down:\n{log}");
    assert!(events[0].contains("event=\"rate_limit_store_unavailable\"") && events[0].contains("error="), "{log}");
    assert!(events[1].contains("event=\"rate_limit_store_recovered\""), "{log}");
    assert!(events[2].contains("event=\"rate_limit_store_unavailable\""), "{log}");
    assert!(!log.contains("hunter2secret") && !log.contains("redis://"), "the URL leaked:\n{log}");
}
