//! Throughput and latency of the PII scrubber.
//!
//! `cargo bench --bench pii`
//!
//! - `mixed`: `Scrubber::scrub` over 2,000 frames of the labelled corpus
//!   (`tests/support/corpus.rs`: chat, nested events, Socket.IO, log lines,
//!   escaped JSON; about a quarter clean, the rest with one to three
//!   findings), default actions (redact), reported as bytes per second.
//! - `chat_email` / `chat_clean`: one ~300-byte chat message with one email,
//!   and the same message without it, through the layer as the guard calls
//!   it (frame in, rewritten frame out).
//! - `parse`: `serde_json::from_str::<Value>` of the same message, the
//!   baseline the numbers are compared with in the same run.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use wsguard::pii::Scrubber;
use wsguard::{Direction, Frame, Guard, Layer, Message};

#[path = "../tests/support/corpus.rs"]
mod corpus;

const CHAT_EMAIL: &str = r#"{"type":"chat","id":"5f0c1e2a-8b7d-4c3e-9a1f-000000000042","room":"lobby","from":"alice","sent_at":"2026-11-22T10:15:00Z","text":"Are we still meeting tomorrow? If anything changes, mail me at alice.smith@example.com and I will bring the slides.","mentions":["bob","carol"]}"#;

fn chat_clean() -> String {
    CHAT_EMAIL.replace("alice.smith@example.com", "the usual team channel")
}

fn bench(c: &mut Criterion) {
    let scrubber = Scrubber::builder().build().unwrap();
    let frames: Vec<String> = corpus::corpus(2_000, 11).into_iter().map(|f| f.text).collect();
    let bytes: usize = frames.iter().map(String::len).sum();

    let mut group = c.benchmark_group("pii");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("mixed", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(scrubber.scrub(black_box(f), Direction::Outbound));
            }
        })
    });
    group.finish();

    let guard = Guard::builder().without_auth().build().unwrap();
    let mut session = guard.new_session(None);
    let now = Instant::now();
    let clean = chat_clean();
    let mut group = c.benchmark_group("pii_message");
    group.bench_function("parse", |b| b.iter(|| black_box(serde_json::from_str::<Value>(black_box(CHAT_EMAIL)).ok())));
    for (name, text) in [("chat_email", CHAT_EMAIL), ("chat_clean", clean.as_str())] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut frame = Frame::from_message(Message::text(text)).unwrap();
                black_box(scrubber.on_outbound(&mut frame, &mut session, now).is_pass());
                black_box(frame)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
