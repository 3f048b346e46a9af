//! The full stack's in-process cost per message, one layer added at a time.
//!
//! `cargo bench --bench stack`
//!
//! For each size (a `chat` message of 300 B, 1 KiB and 16 KiB of prose,
//! no personal data) and each step of `common/stack.rs` (`limits`, then
//! `+origin_auth`, `+rate_limit`, `+schema`, `+rbac`, `+pii`: the full
//! stack), three numbers: `in` (the message read from the peer, through
//! every inbound hook), `out` (the same message sent by the application,
//! through every outbound hook) and `echo` (in, then the delivered message
//! out: what an echo server pays). The session passed the handshake with
//! the origin and token, as a real connection does.

use std::hint::black_box;
use std::time::Duration;

#[path = "common/stack.rs"]
mod stack;

use criterion::{Criterion, criterion_group, criterion_main};
use stack::STEPS;
use wsguard::{Guard, Message, Session, Verdict};

fn session(guard: &Guard) -> Session {
    let request = http::Request::get("/ws")
        .header("origin", stack::ORIGIN)
        .header("authorization", format!("Bearer {}", stack::TOKEN))
        .body(())
        .unwrap();
    let mut session = guard.new_session(None);
    guard.check_handshake(&request, &mut session).unwrap();
    session
}

fn delivered(verdict: Verdict) -> Message {
    match verdict {
        Verdict::Deliver(message) => message,
        other => panic!("the stack refused its own benchmark message: {other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let guards: Vec<Guard> = (0..STEPS.len()).map(stack::guard).collect();
    for (size, label) in [(300, "300B"), (1024, "1KiB"), (16 * 1024, "16KiB")] {
        let message = Message::text(stack::chat(size));
        let mut group = c.benchmark_group(format!("stack/{label}"));
        group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
        for (step, guard) in STEPS.iter().zip(&guards) {
            let mut s = session(guard);
            // Every step must deliver the message unchanged, or it would
            // measure a refusal.
            let echoed = delivered(guard.outbound(delivered(guard.inbound(message.clone(), &mut s)), &mut s));
            assert_eq!(echoed.as_text(), message.as_text(), "{step}");
            group.bench_function(format!("{step}/in"), |b| {
                b.iter(|| black_box(guard.inbound(black_box(&message).clone(), &mut s)))
            });
            group.bench_function(format!("{step}/out"), |b| {
                b.iter(|| black_box(guard.outbound(black_box(&message).clone(), &mut s)))
            });
            group.bench_function(format!("{step}/echo"), |b| {
                b.iter(|| {
                    let inbound = delivered(guard.inbound(black_box(&message).clone(), &mut s));
                    black_box(guard.outbound(inbound, &mut s))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
