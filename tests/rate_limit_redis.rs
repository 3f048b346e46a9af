//! Quotas shared through a real `redis-server` (started on a free loopback
//! port by the test): the over-admission bound with two instances, Redis
//! killed and restarted under fail-open and fail-closed, and the
//! background sync. Instances run on one manual clock and sync by hand,
//! except in the background test.

use std::num::NonZeroU32;
use std::time::Duration;

use wsguard::rate_limit::Unit;
use wsguard::rate_limit::{OnUnavailable, Per, Quota, RateLimit, RedisConfig};
use wsguard::time::ManualClock;
use wsguard::{Error, Guard, Message, Principal, Session, Verdict};

use crate::support::redis::RedisServer;

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// One server instance: its own guard and rate limit, and alice's session.
struct Instance {
    guard: Guard,
    limit: RateLimit,
    alice: Session,
}

impl Instance {
    fn new(quota: Quota, redis: Option<RedisConfig>, clock: &ManualClock) -> Self {
        let mut builder = RateLimit::builder()
            .quota(quota, Unit::Messages, Per::Principal)
            .handshakes_per_ip(Some(Quota::per_second(n(100))))
            .close_after(NonZeroU32::MAX);
        if let Some(config) = redis {
            builder = builder.redis(config.manual_sync().clock(clock.clone()));
        }
        let limit = builder.build().unwrap();
        let guard = Guard::builder().without_auth().clock(clock.clone()).rate_limit(limit.clone()).build().unwrap();
        let mut alice = guard.new_session(None);
        alice.set_principal(Some(Principal::new("alice"))).unwrap();
        Self { guard, limit, alice }
    }

    /// `Ok` if alice's message is delivered, `Err` with the reply's code.
    fn send(&mut self) -> Result<(), String> {
        match self.guard.inbound(Message::text("x"), &mut self.alice) {
            Verdict::Deliver(_) => Ok(()),
            Verdict::Drop { reply: Some(Message::Text(reply)) } => {
                let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
                Err(reply["code"].as_str().unwrap().to_owned())
            }
            other => panic!("{other:?}"),
        }
    }

    fn handshake_status(&self) -> Option<u16> {
        let mut session = self.guard.new_session(Some("192.0.2.7:4000".parse().unwrap()));
        let request = http::Request::get("/ws").body(()).unwrap();
        self.guard.check_handshake(&request, &mut session).err().map(|r| r.http_status().as_u16())
    }
}

/// Every instance offers one message per millisecond for `ms`, syncing
/// every `interval_ms`; returns how many were admitted in all.
fn flood(instances: &mut [Instance], clock: &ManualClock, ms: u64, interval_ms: u64) -> usize {
    let mut admitted = 0;
    for t in 0..ms {
        if t % interval_ms == 0 {
            for i in instances.iter() {
                i.limit.sync().unwrap();
            }
        }
        admitted += instances.iter_mut().filter_map(|i| i.send().ok()).count();
        clock.advance(Duration::from_millis(1));
    }
    admitted
}

#[test]
fn instances_sharing_a_user_limit_stay_within_the_bound() {
    let Some(server) = RedisServer::start_or_skip("instances_sharing_a_user_limit_stay_within_the_bound") else {
        return;
    };
    // 100 per second, burst 10, sync every 50 ms, for 2 seconds.
    let (rate, burst, interval_ms, window_ms) = (100, 10, 50, 2000);
    let quota = Quota::per_second(n(rate)).allow_burst(n(burst));
    let clock = ManualClock::new();
    let single = flood(&mut [Instance::new(quota, None, &clock)], &clock, window_ms, interval_ms);
    assert_eq!(single, 10 + 199, "burst, then one per 10 ms");
    for count in [2, 3] {
        let clock = ManualClock::new();
        let mut unshared: Vec<_> = (0..count).map(|_| Instance::new(quota, None, &clock)).collect();
        let unshared = flood(&mut unshared, &clock, window_ms, interval_ms);
        // A fresh key prefix per run: the instances share nothing with the previous run.
        let config = || RedisConfig::new(server.url()).key_prefix(format!("run{count}"));
        let clock = ManualClock::new();
        let mut shared: Vec<_> = (0..count).map(|_| Instance::new(quota, Some(config()), &clock)).collect();
        let shared = flood(&mut shared, &clock, window_ms, interval_ms);
        // The documented bound: (instances - 1) x (burst + rate x interval).
        let bound = (count - 1) * (burst + rate * interval_ms as u32 / 1000) as usize;
        println!(
            "{count} instances: one limiter {single}, unshared {unshared}, through redis {shared} (bound +{bound})"
        );
        assert_eq!(unshared, count * single, "without Redis each instance has the whole quota");
        assert!(shared <= single + bound, "{shared} admitted, more than {single} + {bound}");
        assert!(shared + 2 >= single, "sharing must not refuse what one limiter admits: {shared} < {single}");
    }
}

#[test]
fn fail_open_decides_locally_while_redis_is_down_and_recovers() {
    let Some(mut server) = RedisServer::start_or_skip("fail_open_decides_locally_while_redis_is_down_and_recovers")
    else {
        return;
    };
    let clock = ManualClock::new();
    let quota = Quota::per_second(n(10));
    let url = server.url();
    let config = || RedisConfig::new(&url).on_unavailable(OnUnavailable::FailOpen);
    let mut a = Instance::new(quota, Some(config()), &clock);
    for _ in 0..5 {
        a.send().unwrap();
    }
    assert_eq!(a.limit.sync().unwrap(), 1, "one key sent");
    assert_eq!(server.command("DBSIZE"), ":1\r\n");

    server.kill();
    for _ in 0..5 {
        a.send().unwrap();
    }
    assert!(matches!(a.limit.sync(), Err(Error::RateLimitStore(_))));
    assert!(!a.limit.is_store_available());
    assert_eq!(a.send(), Err("rate_limited".into()), "the local quota still holds");
    clock.advance(Duration::from_millis(100));
    assert_eq!(a.send(), Ok(()), "and refills at its rate");
    assert_eq!(a.handshake_status(), None, "handshakes are admitted too");

    server.restart();
    assert_eq!(a.limit.sync().unwrap(), 2, "alice's key and the handshake key, kept through the outage");
    assert!(a.limit.is_store_available());
    // Another instance now learns alice's consumption from Redis.
    let mut b = Instance::new(quota, Some(config()), &clock);
    b.send().unwrap();
    b.limit.sync().unwrap();
    assert_eq!(b.send(), Err("rate_limited".into()), "b sees what a admitted during the outage");
}

#[test]
fn fail_closed_refuses_shared_quotas_while_redis_is_down_and_recovers() {
    let Some(mut server) =
        RedisServer::start_or_skip("fail_closed_refuses_shared_quotas_while_redis_is_down_and_recovers")
    else {
        return;
    };
    let clock = ManualClock::new();
    let config = RedisConfig::new(server.url()).on_unavailable(OnUnavailable::FailClosed);
    let mut a = Instance::new(Quota::per_second(n(10)), Some(config), &clock);
    a.send().unwrap();
    a.limit.sync().unwrap();

    server.kill();
    assert_eq!(a.send(), Ok(()), "decided locally until a sync notices");
    assert!(a.limit.sync().is_err());
    assert_eq!(a.send(), Err("rate_limited".into()));
    assert_eq!(a.handshake_status(), Some(503));
    assert!(a.limit.sync().is_err(), "still down");

    server.restart();
    assert_eq!(a.limit.sync().unwrap(), 1, "the message admitted before the failure was kept");
    assert!(a.limit.is_store_available());
    assert_eq!(a.send(), Ok(()));
    assert_eq!(a.handshake_status(), None);
}

#[test]
fn the_background_sync_shares_without_being_called() {
    let Some(server) = RedisServer::start_or_skip("the_background_sync_shares_without_being_called") else { return };
    let quota = Quota::per_minute(n(10));
    let instance = || {
        let limit = RateLimit::builder()
            .quota(quota, Unit::Messages, Per::Principal)
            .redis(RedisConfig::new(server.url()).sync_interval(Duration::from_millis(20)))
            .build()
            .unwrap();
        let guard = Guard::builder().without_auth().rate_limit(limit).build().unwrap();
        let mut alice = guard.new_session(None);
        alice.set_principal(Some(Principal::new("alice"))).unwrap();
        (guard, alice)
    };
    let delivered =
        |(guard, alice): &mut (Guard, Session)| matches!(guard.inbound(Message::text("x"), alice), Verdict::Deliver(_));
    let mut a = instance();
    assert!((0..10).all(|_| delivered(&mut a)));
    assert!(!delivered(&mut a));
    crate::support::eventually("a's sync", || server.command("DBSIZE") == ":1\r\n");
    // b alone would admit 10; it admits until its own first sync.
    let mut b = instance();
    let mut admitted = 0;
    for _ in 0..40 {
        if !delivered(&mut b) {
            break;
        }
        admitted += 1;
        // 10 messages take b half a second: far longer than its 20 ms sync.
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("b admitted {admitted} of alice's messages before its sync");
    assert!((1..10).contains(&admitted), "b admitted {admitted}");
    assert!(!delivered(&mut b));
}

/// The shared state outlives its time: a key whose state is a minute ahead
/// (a quota of one per minute, used) expires after that minute, not before,
/// whichever step of the expiry scheme it is in.
#[test]
fn a_shared_state_expires_only_after_it_is_spent() {
    let Some(server) = RedisServer::start_or_skip("a_shared_state_expires_only_after_it_is_spent") else { return };
    let clock = ManualClock::new();
    let config = RedisConfig::new(server.url()).key_prefix("expiry");
    let mut instance = Instance::new(Quota::per_minute(n(1)), Some(config), &clock);
    assert!(instance.send().is_ok());
    assert_eq!(instance.send(), Err("rate_limited".to_owned()));
    instance.limit.sync().unwrap();
    let keys = server.command("KEYS expiry:*");
    let key = keys.lines().find(|l| l.starts_with("expiry:")).expect("one shared key");
    let ttl: i64 = server.command(&format!("PTTL {key}")).trim_start_matches(':').trim().parse().unwrap();
    assert!((60_000..=66_000).contains(&ttl), "expires after the minute it is ahead, within a step: {ttl} ms");
    // A second sync with nothing new keeps the key's expiry; one more unit
    // (refunded or not) never shortens it.
    clock.advance(Duration::from_secs(1));
    instance.limit.sync().unwrap();
    let again: i64 = server.command(&format!("PTTL {key}")).trim_start_matches(':').trim().parse().unwrap();
    assert!(again > 55_000, "{again} ms");
}
