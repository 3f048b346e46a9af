//! Per-message cost of the guard, against a baseline in the same run.
//!
//! `cargo bench --bench pipeline`

use std::hint::black_box;

mod common;

use common::ReadsJson;
use criterion::{Criterion, criterion_group, criterion_main};
use std::num::NonZeroU32;

use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
use wsguard::schema::SchemaValidation;
use wsguard::{Guard, Layer, Message};

/// Passes without looking: the cost of one more layer in the stack.
#[derive(Debug)]
struct Noop;

impl Layer for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
}

fn message_300() -> Message {
    let text = format!(r#"{{"type":"chat","room":"lobby","text":"{}"}}"#, "x".repeat(260));
    assert_eq!(text.len(), 300);
    Message::text(text)
}

fn bench(c: &mut Criterion) {
    let message = message_300();
    let mut group = c.benchmark_group("inbound_300B");

    // What the adapter does anyway: hand the message on (a refcount clone).
    group.bench_function("baseline_no_guard", |b| b.iter(|| black_box(black_box(&message).clone())));

    let limits_only = Guard::builder().without_auth().build().unwrap();
    let mut session = limits_only.new_session(None);
    group.bench_function("guard_limits_only", |b| {
        b.iter(|| black_box(limits_only.inbound(black_box(&message).clone(), &mut session)))
    });

    let plus_noop = Guard::builder().without_auth().layer(Noop).build().unwrap();
    let mut session = plus_noop.new_session(None);
    group.bench_function("guard_limits_plus_noop_layer", |b| {
        b.iter(|| black_box(plus_noop.inbound(black_box(&message).clone(), &mut session)))
    });

    let text = message.as_text().unwrap().to_owned();
    group.bench_function("baseline_one_json_parse", |b| {
        b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).unwrap()))
    });

    let three_readers =
        Guard::builder().without_auth().layer(ReadsJson).layer(ReadsJson).layer(ReadsJson).build().unwrap();
    let mut session = three_readers.new_session(None);
    group.bench_function("guard_three_json_readers", |b| {
        b.iter(|| black_box(three_readers.inbound(black_box(&message).clone(), &mut session)))
    });

    // A per-type quota and a schema: both guard their parse with the
    // structural scan, which runs once per message.
    let quota = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    let limit = RateLimit::builder().quota_for_type("chat", quota, Unit::Messages, Per::Connection).build().unwrap();
    let schema = SchemaValidation::builder().schema("chat", serde_json::json!({"type": "object"})).build().unwrap();
    let typed = Guard::builder().without_auth().rate_limit(limit).json_schema(schema).build().unwrap();
    let mut session = typed.new_session(None);
    group.bench_function("guard_type_quota_plus_schema", |b| {
        b.iter(|| black_box(typed.inbound(black_box(&message).clone(), &mut session)))
    });
    group.finish();

    // The same at 16 KiB, where the scan cannot be skipped.
    let items: Vec<String> = (0..400).map(|i| format!(r#"{{"id":{i},"name":"item {i}"}}"#)).collect();
    let big = Message::text(format!(r#"{{"type":"chat","items":[{}]}}"#, items.join(",")));
    let mut group = c.benchmark_group("inbound_16KiB");
    group.bench_function("guard_type_quota_plus_schema", |b| {
        b.iter(|| black_box(typed.inbound(black_box(&big).clone(), &mut session)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
