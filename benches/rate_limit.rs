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
    let cases: Vec<(&str, RateLimitBuilder, usize)> = vec![
        ("none", RateLimit::builder(), 0),
        ("connection", RateLimit::builder().quota(huge, Unit::Messages, Per::Connection), 0),
        ("principal_1_key", principal(), 0),
        ("principal_100k_keys", principal().max_keys(200_000), 100_000),
    ];
    #[cfg(feature = "redis")]
    let server = redis_server::RedisServer::is_installed().then(redis_server::RedisServer::start);
    #[cfg(feature = "redis")]
    let cases = {
        let mut cases = cases;
        if let Some(server) = &server {
            let config = wsguard::rate_limit::RedisConfig::new(server.url());
            cases.push(("principal_redis", principal().redis(config), 0));
        }
        cases
    };
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
    #[cfg(feature = "redis")]
    if let Some(server) = &server {
        sync(c, server);
    }
}

/// One sync of `keys` active keys with a real Redis server: the
/// instance's cost per interval, and the server's time per script call.
#[cfg(feature = "redis")]
fn sync(c: &mut Criterion, server: &redis_server::RedisServer) {
    use wsguard::rate_limit::RedisConfig;
    let guard = Guard::builder().without_auth().build().unwrap();
    // Never refuses, so every iteration has `keys` keys to send.
    let quota = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    let mut group = c.benchmark_group("redis_sync");
    for keys in [1, 100, 1000] {
        let config = RedisConfig::new(server.url()).manual_sync().key_prefix(format!("bench{keys}"));
        let limit = RateLimit::builder().quota(quota, Unit::Messages, Per::Principal).redis(config).build().unwrap();
        let mut sessions: Vec<_> = (0..keys)
            .map(|i| {
                let mut s = guard.new_session(None);
                s.set_principal(Some(Principal::new(format!("user-{i}")))).unwrap();
                s
            })
            .collect();
        server.command("CONFIG RESETSTAT");
        group.bench_function(format!("{keys}_keys"), |b| {
            b.iter_batched(
                || {
                    let now = Instant::now();
                    for s in &mut sessions {
                        let _ = limit.on_inbound(&mut Frame::from_text("x"), s, now);
                    }
                },
                |()| assert_eq!(limit.sync().unwrap(), keys),
                criterion::BatchSize::PerIteration,
            )
        });
        let stats = server.command("INFO commandstats");
        let evalsha = stats.lines().find(|l| l.starts_with("cmdstat_evalsha")).unwrap_or("no evalsha");
        println!("redis_sync/{keys}_keys: server side {evalsha}");
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
