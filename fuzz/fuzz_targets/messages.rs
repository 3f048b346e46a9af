//! `Guard::inbound` and `Guard::outbound` with the full stack (auth, rate
//! limits, schemas, RBAC with templates and field rules, the PII scrubber)
//! over arbitrary messages from one session: no panic, and whatever is
//! delivered has the properties the stack promises, checked independently
//! (`common::assert_inbound_allowed`, `assert_outbound_allowed`).
//!
//! `cargo +nightly fuzz run messages -- -timeout=2 -max_len=8192`
//!
//! Input: a sequence of messages separated by 0xFF; each message's first
//! byte picks its direction and frame type.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wsguard::time::ManualClock;
use wsguard::{Guard, Message, Verdict};

#[path = "common/mod.rs"]
mod common;

fn guard() -> &'static (Guard, ManualClock) {
    static GUARD: OnceLock<(Guard, ManualClock)> = OnceLock::new();
    GUARD.get_or_init(|| {
        let clock = ManualClock::new();
        (common::full_stack(clock.clone()), clock)
    })
}

fuzz_target!(|data: &[u8]| {
    let (guard, clock) = guard();
    // A fresh session per input; the shared quotas refill between inputs.
    clock.advance(Duration::from_secs(60));
    let mut session = common::alice(guard);
    for part in data.split(|&b| b == 0xFF).take(64) {
        let Some((&pick, body)) = part.split_first() else { continue };
        let (message, sent) = match pick & 0b10 {
            0 => {
                let text = String::from_utf8_lossy(body).into_owned();
                (Message::text(text.clone()), text.into_bytes())
            }
            _ => (Message::binary(body.to_vec()), body.to_vec()),
        };
        if pick & 0b1 == 0 {
            match guard.inbound(message, &mut session) {
                Verdict::Deliver(Message::Text(text)) => common::assert_inbound_allowed(&text),
                Verdict::Deliver(other) => panic!("a user's binary message was delivered: {other:?}"),
                Verdict::Drop { reply: Some(Message::Text(reply)) } => {
                    assert!(reply.starts_with(r#"{"type":"error","code":""#), "{reply}")
                }
                Verdict::Drop { reply } => assert!(reply.is_none(), "{reply:?}"),
                Verdict::Close { frame, .. } => {
                    assert!(frame.code.is_sendable() && frame.reason.len() <= 123, "{frame:?}");
                    return;
                }
                other => panic!("unexpected verdict {other:?}"),
            }
        } else {
            match guard.outbound(message, &mut session) {
                Verdict::Deliver(Message::Text(text)) => common::assert_outbound_allowed(&sent, &text),
                // Binary frames are scanned when they are UTF-8 (documented
                // on `scan_binary`); other bytes are not text to a client.
                Verdict::Deliver(Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                    Ok(text) => common::assert_outbound_allowed(&sent, text),
                    Err(_) => {}
                },
                Verdict::Deliver(other) => panic!("{other:?}"),
                Verdict::Drop { .. } => {}
                Verdict::Close { .. } => return,
                other => panic!("unexpected verdict {other:?}"),
            }
        }
    }
});
