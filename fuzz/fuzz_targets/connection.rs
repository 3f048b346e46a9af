//! The connection core on a manual clock: any request head bytes, then any
//! sequence of inbound messages, sends, clock advances and timeouts.
//!
//! Properties beyond "no panic":
//! - a deadline is kept: once `handle_timeout(now)` answers nothing,
//!   `poll_timeout()` is later than `now` (a driver never spins);
//! - a closed connection stays closed: no deadline, no ping, and no data
//!   message delivered after its close;
//! - what alice receives has the stack's properties
//!   (`common::assert_inbound_allowed`).
//!
//! `cargo +nightly fuzz run connection -- -timeout=2 -max_len=8192`
//!
//! Input: the first byte picks a valid head for alice (even) or raw head
//! bytes up to the first 0xFE (from a PROXY protocol balancer when above
//! 128); the rest, split at 0xFF, are operations led
//! by a byte: 0 inbound text, 1 inbound binary, 2 ping, 3 close, 4 send,
//! 5 advance the clock by the next byte in seconds, 6 revoke.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wsguard::connection::{Head, Timeout};
use wsguard::time::ManualClock;
use wsguard::{Guard, Message, Verdict};

#[path = "common/mod.rs"]
mod common;

fn guards() -> &'static (Guard, Guard, ManualClock) {
    static GUARDS: OnceLock<(Guard, Guard, ManualClock)> = OnceLock::new();
    GUARDS.get_or_init(|| {
        let clock = ManualClock::new();
        (common::full_stack(clock.clone()), common::full_stack_behind_proxy(clock.clone()), clock)
    })
}

const HEAD: &str = "GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
    Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://app.test\r\nAuthorization: Bearer alice-token\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let (direct, proxied, clock) = guards();
    clock.advance(Duration::from_secs(3600));
    let Some((&pick, rest)) = data.split_first() else { return };
    // Odd picks above 128: raw bytes from a balancer that sends PROXY headers.
    let guard = if pick % 2 == 1 && pick > 128 { proxied } else { direct };
    let mut conn = guard.connection(common::PEER.parse().ok());
    let (head, ops) = match pick % 2 {
        0 => (HEAD.as_bytes(), rest),
        _ => match rest.iter().position(|&b| b == 0xFE) {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &[][..]),
        },
    };
    let request = match conn.handle_head(head) {
        Head::Complete { request, .. } => request,
        Head::Partial => {
            // Only the handshake deadline is left.
            assert!(conn.poll_timeout().is_some());
            return;
        }
        Head::Refused(answer) => {
            assert!(!answer.is_accept() && conn.poll_timeout().is_none());
            return;
        }
        _ => return,
    };
    if !conn.handshake(&request).is_accept() {
        assert!(conn.poll_timeout().is_none(), "a refused connection has no deadline");
        return;
    }
    let alice = conn.session().principal().is_some_and(|p| p.id == "alice@example.com");
    let mut closed = false;
    for op in ops.split(|&b| b == 0xFF).take(256) {
        let Some((&kind, body)) = op.split_first() else { continue };
        let text = || String::from_utf8_lossy(body).into_owned();
        let verdict = match kind % 7 {
            0 => Some(conn.handle_inbound(Message::text(text()))),
            1 => Some(conn.handle_inbound(Message::binary(body.to_vec()))),
            2 => Some(conn.handle_inbound(Message::Ping(body.to_vec().into()))),
            3 => Some(conn.handle_inbound(Message::Close(None))),
            4 => {
                let _ = conn.send(Message::text(text()));
                None
            }
            5 => {
                clock.advance(Duration::from_secs(u64::from(body.first().copied().unwrap_or(1))));
                None
            }
            _ => {
                guard.sessions().revoke(conn.session().id());
                None
            }
        };
        match verdict {
            Some(Verdict::Deliver(Message::Text(text))) => {
                assert!(!closed, "delivered after the close: {text:?}");
                if alice {
                    common::assert_inbound_allowed(&text);
                }
            }
            Some(Verdict::Deliver(Message::Binary(_))) => assert!(!closed, "binary delivered after the close"),
            Some(Verdict::Deliver(Message::Close(_))) | Some(Verdict::Close { .. }) => closed = true,
            _ => {}
        }
        // Drive the deadlines as a driver would.
        let now = guard.now();
        for _ in 0..8 {
            match conn.handle_timeout(now) {
                None => break,
                Some(Timeout::Ping) => assert!(!closed, "a ping after the close"),
                Some(_) => closed = true,
            }
        }
        if closed {
            assert!(conn.poll_timeout().is_none(), "a closed connection has no deadline");
        } else if let Some(at) = conn.poll_timeout() {
            assert!(at > now || conn.handle_timeout(now).is_some(), "a deadline at {at:?} that nothing answers");
        }
    }
});
