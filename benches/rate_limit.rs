//! Cost of a rate-limit decision through the layer.
//!
//! `cargo bench --bench rate_limit --features redis`
//!
//! - `none`: a layer with no quotas (the baseline: making the frame and
//!   calling the layer).
//! - `connection`: one per-connection message quota.
//! - `principal_1_key` / `principal_100k_keys`: one per-principal quota,
//!   with one live key, and with 100,000 other live keys in the store.
//! - `principal_redis` (feature `redis`, when `redis-server` is installed):
//!   `principal_1_key` with the store shared through a real Redis server,
//!   syncing every 100 ms in the background while the bench runs.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use wsguard::rate_limit::{Per, Quota, RateLimit, RateLimitBuilder, Unit};
use wsguard::{Frame, Guard, Layer, Principal};

#[cfg(feature = "redis")]
#[path = "../tests/support/redis.rs"]
mod redis_server;

fn bench(c: &mut Criterion) {
    let guard = Guard::builder().without_auth().build().unwrap();
    let huge = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    let principal = || RateLimit::builder().quota(huge, Unit::Messages, Per::Principal);
    let mut cases: Vec<(&str, RateLimitBuilder, usize)> = vec![
        ("none", RateLimit::builder(), 0),
        ("connection", RateLimit::builder().quota(huge, Unit::Messages, Per::Connection), 0),
        ("principal_1_key", principal(), 0),
        ("principal_100k_keys", principal().max_keys(200_000), 100_000),
    ];
    #[cfg(feature = "redis")]
    let _server = redis_server::RedisServer::is_installed().then(|| {
        let server = redis_server::RedisServer::start();
        let config = wsguard::rate_limit::RedisConfig::new(server.url());
        cases.push(("principal_redis", principal().redis(config), 0));
        server
    });
    let start = Instant::now();
    let mut group = c.benchmark_group("rate_limit");
    for (name, builder, others) in cases {
        let limit = builder.build().unwrap();
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
