//! What the `metrics` feature adds to one message: the same guard without a
//! recorder (every handle a no-op) and with a Prometheus recorder installed,
//! in one run, both directions.
//!
//! `cargo bench --bench metrics --features metrics`
//!
//! The guard has the limits layer only, so the difference is not hidden in
//! the cost of other layers. One message in
//! [`SAMPLE_EVERY`](wsguard::metrics::SAMPLE_EVERY) is also timed into the
//! histogram; the medians include that share.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wsguard::{Guard, Message, Verdict};

fn round_trip(guard: &Guard, c: &mut Criterion, name: &str) {
    let mut session = guard.new_session(None);
    let message = Message::text(r#"{"type":"chat","text":"hello there"}"#);
    assert!(matches!(guard.inbound(message.clone(), &mut session), Verdict::Deliver(_)));
    let mut group = c.benchmark_group("metrics");
    group.bench_function(format!("{name}/inbound"), |b| {
        b.iter(|| black_box(guard.inbound(black_box(&message).clone(), &mut session)))
    });
    group.bench_function(format!("{name}/outbound"), |b| {
        b.iter(|| black_box(guard.outbound(black_box(&message).clone(), &mut session)))
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    // Handles are resolved on a guard's first message: this one never sees
    // a recorder.
    let without = Guard::builder().without_auth().build().unwrap();
    round_trip(&without, c, "no_recorder");
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();
    let with = Guard::builder().without_auth().build().unwrap();
    round_trip(&with, c, "prometheus");
    // The recorder saw the traffic (and the bench measured something real).
    assert!(handle.render().contains("wsguard_messages_total"));
}

criterion_group!(benches, bench);
criterion_main!(benches);
