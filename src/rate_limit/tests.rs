//! The rate-limit layer through a real `Guard` under a manual clock.

use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::guard::{Guard, Verdict};
use crate::message::Message;
use crate::session::{Principal, Session};
use crate::time::ManualClock;

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

fn guard(limit: RateLimit, clock: &ManualClock) -> Guard {
    Guard::builder().without_auth().clock(clock.clone()).layer(limit).build().unwrap()
}

/// `D` for delivered, `R` for a `rate_limited` reply, `C` for a close.
fn send(guard: &Guard, session: &mut Session, text: &str) -> char {
    match guard.inbound(Message::text(text), session) {
        Verdict::Deliver(_) => 'D',
        Verdict::Drop { reply: Some(Message::Text(reply)) } => {
            assert!(reply.contains(r#""code":"rate_limited""#) && reply.contains("retry_after_ms"), "{reply}");
            'R'
        }
        Verdict::Close { frame, .. } => {
            assert_eq!(frame.reason.as_str(), "rate limit exceeded");
            char::from_digit(u32::from(frame.code.get() % 10), 10).unwrap()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn per_connection_burst_then_steady_rate_exactly() {
    let clock = ManualClock::new();
    let g = guard(
        RateLimit::builder().quota(Quota::per_second(n(2)), Unit::Messages, Per::Connection).build().unwrap(),
        &clock,
    );
    let mut s = g.new_session(None);
    let mut other = g.new_session(None);
    let mut got = String::new();
    for _ in 0..3 {
        got.push(send(&g, &mut s, "x"));
    }
    got.push(send(&g, &mut other, "x"));
    clock.advance(Duration::from_millis(500));
    got.push(send(&g, &mut s, "x"));
    got.push(send(&g, &mut s, "x"));
    assert_eq!(got, "DDRDDR", "connections are counted apart");
}

#[test]
fn the_reply_says_when_to_retry() {
    let clock = ManualClock::new();
    let g = guard(
        RateLimit::builder().quota(Quota::per_second(n(4)), Unit::Messages, Per::Connection).build().unwrap(),
        &clock,
    );
    let mut s = g.new_session(None);
    for _ in 0..4 {
        assert_eq!(send(&g, &mut s, "x"), 'D');
    }
    clock.advance(Duration::from_millis(100));
    match g.inbound(Message::text("x"), &mut s) {
        Verdict::Drop { reply: Some(Message::Text(reply)) } => {
            assert!(reply.contains(r#""retry_after_ms":150"#), "{reply}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_type_and_principal_quotas_apply_together() {
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(100)), Unit::Bytes, Per::Principal)
        .quota_for_type("typing", Quota::per_second(n(1)), Unit::Messages, Per::Connection)
        .build()
        .unwrap();
    let g = guard(limit, &clock);
    let alice = || {
        let mut s = g.new_session(None);
        s.set_principal(Some(Principal::new("alice"))).unwrap();
        s
    };
    let (mut a1, mut a2) = (alice(), alice());
    let typing = r#"{"type":"typing"}"#; // 17 bytes
    assert_eq!(send(&g, &mut a1, typing), 'D');
    assert_eq!(send(&g, &mut a1, typing), 'R', "one typing per second per connection");
    assert_eq!(send(&g, &mut a2, typing), 'D', "the other connection has its own typing quota");
    // 34 of alice's 100 bytes are used, across both connections: the
    // refused typing message was refunded.
    assert_eq!(send(&g, &mut a1, &"y".repeat(66)), 'D');
    assert_eq!(send(&g, &mut a2, "z"), 'R', "the byte quota is per principal");
}

#[test]
fn consecutive_violations_close_with_4429_or_1013() {
    for (builder, digit) in [(RateLimit::builder(), '9'), (RateLimit::builder().close_with_1013(), '3')] {
        let clock = ManualClock::new();
        let limit =
            builder.quota(Quota::per_second(n(1)), Unit::Messages, Per::Connection).close_after(n(3)).build().unwrap();
        let g = guard(limit, &clock);
        let mut s = g.new_session(None);
        let got: String = (0..4).map(|_| send(&g, &mut s, "x")).collect();
        assert_eq!(got, format!("DRR{digit}"));
    }
    // A message that passes resets the count.
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(1)), Unit::Messages, Per::Connection)
        .close_after(n(2))
        .build()
        .unwrap();
    let g = guard(limit, &clock);
    let mut s = g.new_session(None);
    assert_eq!(send(&g, &mut s, "x"), 'D');
    assert_eq!(send(&g, &mut s, "x"), 'R');
    clock.advance(Duration::from_secs(1));
    assert_eq!(send(&g, &mut s, "x"), 'D');
    assert_eq!(send(&g, &mut s, "x"), 'R');
}

#[test]
fn new_connections_per_ip_get_429_with_retry_after() {
    let clock = ManualClock::new();
    let limit = RateLimit::builder().handshakes_per_ip(Some(Quota::per_second(n(2)))).build().unwrap();
    let g = guard(limit, &clock);
    let request = || http::Request::get("/ws").body(()).unwrap();
    let attempt = |port: u16, ip: &str| {
        let mut s = g.new_session(Some(format!("{ip}:{port}").parse().unwrap()));
        g.check_handshake(&request(), &mut s)
    };
    assert!(attempt(1, "192.0.2.1").is_ok());
    assert!(attempt(2, "192.0.2.1").is_ok());
    let refused = attempt(3, "192.0.2.1").unwrap_err();
    assert_eq!(refused.http_status().as_u16(), 429);
    assert_eq!(refused.retry_after(), Some(Duration::from_millis(500)));
    assert!(attempt(4, "192.0.2.2").is_ok(), "another address has its own quota");
    // IPv6 peers in one /64 share a quota.
    assert!(attempt(5, "[2001:db8::1]").is_ok());
    assert!(attempt(6, "[2001:db8::2]").is_ok());
    assert!(attempt(7, "[2001:db8::ffff]").is_err());
    assert!(attempt(8, "[2001:db8:0:1::1]").is_ok());
    // A dual-stack listener's IPv4 peers (::ffff:a.b.c.d) are IPv4
    // addresses, not one shared ::/64.
    for i in 1..=4 {
        assert!(attempt(9, &format!("[::ffff:198.51.100.{i}]")).is_ok(), "peer {i}");
    }
    assert!(attempt(9, "[::ffff:198.51.100.1]").is_ok());
    assert!(attempt(9, "198.51.100.1").is_err(), "mapped and plain are one address");
}

#[test]
fn ip_quotas_group_peers_and_anonymous_principal_quotas_count_per_connection() {
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(1)), Unit::Messages, Per::Ip)
        .quota(Quota::per_second(n(2)), Unit::Messages, Per::Principal)
        .build()
        .unwrap();
    let g = guard(limit, &clock);
    let peer = |ip: &str| g.new_session(Some(format!("{ip}:1000").parse().unwrap()));
    let (mut a, mut b, mut c) = (peer("[2001:db8::1]"), peer("[2001:db8::2]"), peer("[2001:db8:1::1]"));
    assert_eq!(send(&g, &mut a, "x"), 'D');
    assert_eq!(send(&g, &mut b, "x"), 'R', "same /64");
    assert_eq!(send(&g, &mut c, "x"), 'D', "another /64");
    // Without a peer address the IP quota counts the connection alone;
    // without a principal, so does the principal quota.
    let (mut d, mut e) = (g.new_session(None), g.new_session(None));
    assert_eq!(send(&g, &mut d, "x"), 'D');
    assert_eq!(send(&g, &mut e, "x"), 'D');
}

#[test]
fn a_new_principal_on_the_connection_gets_its_own_quota() {
    let clock = ManualClock::new();
    let limit = RateLimit::builder().quota(Quota::per_second(n(1)), Unit::Messages, Per::Principal).build().unwrap();
    let g = guard(limit, &clock);
    let mut s = g.new_session(None);
    s.set_principal(Some(Principal::new("alice"))).unwrap();
    assert_eq!(send(&g, &mut s, "x"), 'D');
    assert_eq!(send(&g, &mut s, "x"), 'R');
    s.set_principal(Some(Principal::new("bob"))).unwrap();
    assert_eq!(send(&g, &mut s, "x"), 'D', "re-authenticated as bob");
    s.set_principal(Some(Principal::new("alice"))).unwrap();
    assert_eq!(send(&g, &mut s, "x"), 'R', "alice's state is in the store, not the connection");
}

#[test]
fn configuration_deserializes_and_bad_settings_are_refused() {
    let builder: RateLimitBuilder = toml::from_str(
        r#"
        close_after = 2
        close_with_1013 = true
        handshakes_per_ip = { per_minute = 30, burst = 5 }
        [[quotas]]
        quota = { period_ms = 500 }
        unit = "messages"
        per = "connection"
        [[quotas]]
        quota = { per_second = 1 }
        unit = "messages"
        per = "connection"
        type = "typing"
        "#,
    )
    .unwrap();
    let clock = ManualClock::new();
    let g = guard(builder.build().unwrap(), &clock);
    let mut s = g.new_session(None);
    assert_eq!(send(&g, &mut s, r#"{"type":"chat"}"#), 'D');
    assert_eq!(send(&g, &mut s, r#"{"type":"chat"}"#), 'R');
    assert_eq!(send(&g, &mut s, r#"{"type":"typing"}"#), '3', "second refusal in a row: 1013");

    for bad in [
        r#"{"quotas": [{"quota": {"per_second": 1, "per_minute": 1}, "unit": "messages", "per": "ip"}]}"#,
        r#"{"quotas": [{"quota": {"period_ms": 0}, "unit": "messages", "per": "ip"}]}"#,
        r#"{"quotas": [{"quota": {"per_second": 0}, "unit": "messages", "per": "ip"}]}"#,
        r#"{"quotas": [{"quota": {"per_second": 1}, "unit": "frames", "per": "ip"}]}"#,
        r#"{"close_after": 0}"#,
        r#"{"rate": 5}"#,
    ] {
        assert!(serde_json::from_str::<RateLimitBuilder>(bad).is_err(), "{bad}");
    }
    let many = (0..65).fold(RateLimit::builder(), |b, _| b.quota(Quota::per_second(n(1)), Unit::Messages, Per::Ip));
    assert!(matches!(many.build(), Err(crate::ConfigError::RateLimit { .. })));
    assert!(matches!(RateLimit::builder().ipv6_prefix(129).build(), Err(crate::ConfigError::RateLimit { .. })));
}

#[cfg(feature = "redis")]
#[test]
fn redis_settings_deserialize_and_a_bad_url_is_a_config_error() {
    let builder: RateLimitBuilder = serde_json::from_str(
        r#"{
            "quotas": [{"quota": {"per_second": 5}, "unit": "messages", "per": "principal"}],
            "redis": {"url": "redis://127.0.0.1:1/", "sync_interval_ms": 0, "on_unavailable": "fail_closed"}
        }"#,
    )
    .unwrap();
    let limit = builder.build().unwrap();
    assert_eq!(limit.sync().unwrap(), 0, "nothing to send: Redis is not contacted");
    assert!(limit.is_store_available(), "optimistic until a sync fails");
    let clock = ManualClock::new();
    let g = guard(limit.clone(), &clock);
    let mut s = g.new_session(None);
    s.set_principal(Some(Principal::new("alice"))).unwrap();
    assert_eq!(send(&g, &mut s, "x"), 'D');
    assert!(limit.sync().is_err(), "nothing listens on port 1");
    assert!(!limit.is_store_available());
    assert_eq!(send(&g, &mut s, "x"), 'R', "fail-closed");
    let bad = RateLimit::builder().redis(super::RedisConfig::new("http://example.com/")).build();
    assert!(matches!(bad, Err(crate::ConfigError::RateLimit { .. })), "{bad:?}");
    assert!(serde_json::from_str::<RateLimitBuilder>(r#"{"redis": {"url": "redis://x/", "interval": 5}}"#).is_err());
}

#[test]
fn typed_quotas_never_parse_a_message_over_the_structural_limits() {
    use crate::message::counters;
    let clock = ManualClock::new();
    let limit = RateLimit::builder()
        .quota(Quota::per_second(n(2)), Unit::Messages, Per::Connection)
        .quota_for_type("chat", Quota::per_second(n(5)), Unit::Messages, Per::Connection)
        .build()
        .unwrap();
    let g = guard(limit, &clock);
    let mut s = g.new_session(None);
    let bomb = format!(r#"{{"type":"chat","x":{}1{}}}"#, "[".repeat(40), "]".repeat(40));
    counters::reset();
    assert_eq!(send(&g, &mut s, &bomb), 'D', "counted under the untyped quota only");
    assert_eq!(
        (counters::get().0, counters::type_reads()),
        (0, 0),
        "the rate limit read a message over the structural limits"
    );
    assert_eq!(send(&g, &mut s, r#"{"type":"chat"}"#), 'D');
    assert_eq!(
        (counters::get().0, counters::type_reads()),
        (0, 1),
        "a message within the limits has its type read once, with no tree"
    );
    assert_eq!(send(&g, &mut s, &bomb), 'R', "the untyped quota still holds");
}
