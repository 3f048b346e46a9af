//! Audit events. A separate test binary on purpose: `tracing` caches each
//! callsite's interest globally, so a subscriber installed by one test races
//! with other threads hitting the same callsites. Alone in its process, this
//! test installs a global subscriber and sees every event.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wsguard::{ErrorReply, Frame, Guard, HandshakeRequest, Layer, Message, Outcome, Rejection, RejectionKind, Session};

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
    tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).init();

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
    assert!(lines.iter().all(|l| l.contains(&format!("session={}", session.id()))), "{log}");
    assert!(lines[0].contains("event=\"message_dropped\"") && lines[0].contains("code=\"forbidden\""), "{log}");
    assert!(lines[1].contains("event=\"connection_closed\"") && lines[1].contains("close_code=1008"), "{log}");
    assert!(lines[2].contains("event=\"handshake_rejected\"") && lines[2].contains("status=403"), "{log}");
    assert!(!log.contains("alice") && !log.contains("example.com"), "payload leaked into audit:\n{log}");
}
