//! Cost of schema validation against the bare `serde_json` parse of the
//! same message, measured in the same run.
//!
//! `cargo bench --bench schema`
//!
//! For each size, `parse` is `serde_json::from_str::<Value>` alone;
//! `layer` is the schema layer's whole inbound work on a fresh frame:
//! the structural scan, the one parse (shared with later layers), routing
//! by type and `is_valid`. The target is `layer <= 1.5 x parse`.
//!
//! The machine is shared, so the two criterion lines of a size can run
//! under different load. The bench therefore also prints a paired ratio:
//! 41 rounds, each timing a batch of parses and a batch of layer runs back
//! to back (alternating which goes first), and the median of the rounds'
//! ratios.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use wsguard::schema::SchemaValidation;
use wsguard::{Frame, Guard, Layer, Message, Outcome};

fn chat_entry(i: usize) -> Value {
    json!({
        "type": "chat",
        "id": format!("5f0c1e2a-8b7d-4c3e-9a1f-{i:012}"),
        "room": "lobby",
        "from": "alice",
        "sent_at": "2026-11-22T10:15:00Z",
        "text": "Are we still meeting at the usual place tomorrow? I can bring the slides and the printed agenda for everyone.",
        "mentions": ["bob", "carol"]
    })
}

fn schemas() -> SchemaValidation {
    let entry = json!({
        "type": "object",
        "properties": {
            "type": {"const": "chat"},
            "id": {"type": "string", "format": "uuid"},
            "room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
            "from": {"type": "string", "maxLength": 64},
            "sent_at": {"type": "string", "format": "date-time"},
            "text": {"type": "string", "minLength": 1, "maxLength": 2000},
            "mentions": {"type": "array", "items": {"type": "string"}, "maxItems": 20}
        },
        "required": ["type", "room", "text"],
        "additionalProperties": false
    });
    let history = json!({
        "type": "object",
        "properties": {"type": {"const": "history"}, "items": {"type": "array", "items": entry.clone()}},
        "required": ["type", "items"],
        "additionalProperties": false
    });
    SchemaValidation::builder().schema("chat", entry).schema("history", history).build().unwrap()
}

/// A ~300-byte chat message, and history messages of about 1 KiB and 16 KiB.
fn messages() -> Vec<(&'static str, String)> {
    let chat = chat_entry(1).to_string();
    let history =
        |n: usize| json!({"type": "history", "items": (0..n).map(chat_entry).collect::<Vec<_>>()}).to_string();
    vec![("300B", chat), ("1KiB", history(4)), ("16KiB", history(60))]
}

fn bench(c: &mut Criterion) {
    let layer = schemas();
    let guard = Guard::builder().without_auth().build().unwrap();
    let mut session = guard.new_session(None);
    let now = Instant::now();
    let mut group = c.benchmark_group("schema");
    for (name, text) in messages() {
        eprintln!("{name}: {} bytes", text.len());
        let message = Message::text(text.clone());
        let mut frame = Frame::from_message(message.clone()).unwrap();
        assert_eq!(layer.on_inbound(&mut frame, &mut session, now), Outcome::Pass, "{name} must be valid");

        paired_ratio(name, &text, &message, &layer);
        group.bench_with_input(BenchmarkId::new("parse", name), &text, |b, text| {
            b.iter(|| black_box(serde_json::from_str::<Value>(black_box(text)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("layer", name), &message, |b, message| {
            b.iter(|| {
                let mut frame = Frame::from_message(black_box(message).clone()).unwrap();
                let outcome = layer.on_inbound(&mut frame, &mut session, now);
                (outcome, frame)
            })
        });
    }
    group.finish();
}

/// Prints the median over rounds of (layer time / parse time), each round
/// measuring both back to back.
fn paired_ratio(name: &str, text: &str, message: &Message, layer: &SchemaValidation) {
    let guard = Guard::builder().without_auth().build().unwrap();
    let mut session = guard.new_session(None);
    let now = Instant::now();
    let batch = (200_000 / text.len()).max(20);
    let parse = || {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(serde_json::from_str::<Value>(black_box(text)).unwrap());
        }
        start.elapsed()
    };
    let mut validate = || {
        let start = Instant::now();
        for _ in 0..batch {
            let mut frame = Frame::from_message(black_box(message).clone()).unwrap();
            black_box(&layer.on_inbound(&mut frame, &mut session, now));
            black_box(frame);
        }
        start.elapsed()
    };
    let mut ratios: Vec<f64> = (0..41)
        .map(|round| {
            let (p, v) = if round % 2 == 0 {
                let p = parse();
                (p, validate())
            } else {
                let v = validate();
                (parse(), v)
            };
            v.as_secs_f64() / p.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    eprintln!(
        "paired ratio layer/parse {name}: median {:.2} (rounds {:.2}..{:.2})",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
