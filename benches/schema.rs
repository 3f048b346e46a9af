//! Cost of schema validation against the bare `serde_json` parse of the
//! same message, measured in the same run.
//!
//! `cargo bench --bench schema`
//!
//! For each size, `parse` is `serde_json::from_str::<Value>` alone;
//! `layer` is the schema layer's whole inbound work on a fresh frame:
//! the structural scan, the one parse (shared with later layers), routing
//! by type and `is_valid`. The target is `layer <= 1.5 x parse`.

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

criterion_group!(benches, bench);
criterion_main!(benches);
