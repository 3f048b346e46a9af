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
//! - `pii/adversarial/*`: 64 KiB frames of one repeated pattern
//!   (`tests/support/adversarial.rs`: every ASCII punctuation character and
//!   short runs of what the detectors look for), against 64 KiB of prose
//!   (`pii/adversarial/prose`). Before the criterion runs, a quick pass
//!   prints each pattern's median time as a ratio to prose; the target is
//!   3x. `cargo bench --bench pii -- adversarial`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use wsguard::pii::Scrubber;
use wsguard::{Direction, Frame, Guard, Layer, Message};

#[path = "../tests/support/adversarial.rs"]
mod adversarial;
#[path = "../tests/support/corpus.rs"]
mod corpus;

const CHAT_EMAIL: &str = r#"{"type":"chat","id":"5f0c1e2a-8b7d-4c3e-9a1f-000000000042","room":"lobby","from":"alice","sent_at":"2026-11-22T10:15:00Z","text":"Are we still meeting tomorrow? If anything changes, mail me at alice.smith@example.com and I will bring the slides.","mentions":["bob","carol"]}"#;

fn chat_clean() -> String {
    CHAT_EMAIL.replace("alice.smith@example.com", "the usual team channel")
}

/// A JSON array of clean chat messages (ids, timestamps, rooms, prose),
/// at least `len` bytes long.
fn clean_json(len: usize) -> String {
    let clean = chat_clean();
    let mut out = String::from("[");
    let mut n = 0;
    while out.len() < len {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&clean.replace("000000000042", &format!("{n:012}")));
        n += 1;
    }
    out.push(']');
    out
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

    // Clean text: nothing to find, the case most traffic is.
    let mut group = c.benchmark_group("pii/clean");
    for (name, text) in [("prose_16k", adversarial::prose(16 * 1024)), ("json_16k", clean_json(16 * 1024))] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| black_box(scrubber.scrub(black_box(&text), Direction::Outbound))));
    }
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

/// The median of `runs` timings of scrubbing `text`, in nanoseconds.
fn median_ns(scrubber: &Scrubber, text: &str, runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(scrubber.scrub(black_box(text), Direction::Outbound));
            start.elapsed().as_nanos() as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// Prints each adversarial frame's median time as a ratio to prose,
/// measured in the same pass.
fn ratio_table(scrubber: &Scrubber, prose: &str, frames: &[(String, String)]) {
    let base = median_ns(scrubber, prose, 31);
    let mut ratios: Vec<(f64, &str)> =
        frames.iter().map(|(name, text)| (median_ns(scrubber, text, 11) / base, name.as_str())).collect();
    ratios.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("prose 64 KiB: {:.1} us (median); slowest adversarial frames as a ratio to prose:", base / 1000.0);
    for (ratio, name) in ratios.iter().take(12) {
        println!("  {ratio:5.2}x  {name}");
    }
    let within = |x: f64| ratios.iter().filter(|(r, _)| *r <= x).count();
    println!(
        "  all {} frames within {:.2}x; within 3x: {}, 5x: {}, 10x: {}",
        ratios.len(),
        ratios[0].0,
        within(3.0),
        within(5.0),
        within(10.0)
    );
    if std::env::var_os("WSGUARD_ALL_RATIOS").is_some() {
        for (ratio, name) in &ratios {
            println!("  {ratio:5.2}x  {name}");
        }
    }
}

fn adversarial(c: &mut Criterion) {
    const LEN: usize = 64 * 1024;
    let scrubber = Scrubber::builder().build().unwrap();
    let prose = adversarial::prose(LEN);
    let frames: Vec<(String, String)> = adversarial::patterns()
        .into_iter()
        .flat_map(|p| {
            let body = adversarial::repeat(&p, LEN);
            let json = serde_json::json!({ "t": body }).to_string();
            [(format!("{p:?}"), body), (format!("{p:?} in json"), json)]
        })
        .collect();
    let mut group = c.benchmark_group("pii/adversarial");
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(700));
    group.throughput(Throughput::Bytes(LEN as u64));
    // The table runs once, and only when this group is selected.
    let table = std::sync::Once::new();
    group.bench_function("prose", |b| {
        table.call_once(|| ratio_table(&scrubber, &prose, &frames));
        b.iter(|| black_box(scrubber.scrub(black_box(&prose), Direction::Outbound)))
    });
    for (name, text) in frames.iter().filter(|(name, _)| !name.ends_with(" in json")) {
        group.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(scrubber.scrub(black_box(text), Direction::Outbound)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench, adversarial);
criterion_main!(benches);
