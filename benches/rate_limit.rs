//! Cost of a rate-limit decision through the layer.
//!
//! `cargo bench --bench rate_limit`
//!
//! - `none`: a layer with no quotas (the baseline: frame and session handling).
//! - `connection`: one per-connection message quota.
//! - `principal_1_key` / `principal_100k_keys`: one per-principal quota,
//!   with one live key, and with 100,000 other live keys in the store.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
use wsguard::{Frame, Guard, Layer, Principal};

fn bench(c: &mut Criterion) {
    let guard = Guard::builder().without_auth().build().unwrap();
    let huge = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    let start = Instant::now();
    let mut group = c.benchmark_group("rate_limit");
    let cases = [
        ("none", RateLimit::builder().build(), 0),
        ("connection", RateLimit::builder().quota(huge, Unit::Messages, Per::Connection).build(), 0),
        ("principal_1_key", RateLimit::builder().quota(huge, Unit::Messages, Per::Principal).build(), 0),
        (
            "principal_100k_keys",
            RateLimit::builder().quota(huge, Unit::Messages, Per::Principal).max_keys(200_000).build(),
            100_000,
        ),
    ];
    for (name, limit, others) in cases {
        for i in 0..others {
            let mut s = guard.new_session(None);
            s.set_principal(Some(Principal::new(format!("user-{i}")))).unwrap();
            let _ = limit.on_inbound(&mut Frame::from_text("x"), &mut s, start);
        }
        let mut session = guard.new_session(None);
        session.set_principal(Some(Principal::new("alice"))).unwrap();
        let mut at = start;
        group.bench_function(name, |b| {
            b.iter(|| {
                at += Duration::from_nanos(1);
                let mut frame = Frame::from_text("x");
                black_box(limit.on_inbound(&mut frame, &mut session, at).is_pass())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
