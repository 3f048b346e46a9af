//! The full stack the fuzz targets drive, and the properties a delivered
//! message must have, checked independently of the layers that enforce
//! them (a second JSON Schema validator, a second scrubber).

#![allow(dead_code)] // each target uses part of it

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::OnceLock;

use serde_json::{Value, json};
use wsguard::auth::{Authenticator, StaticTokens};
use wsguard::layer::OriginPolicy;
use wsguard::pii::{Action, Kind, Scrubber};
use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
use wsguard::rbac::{FieldRule, Policy};
use wsguard::schema::SchemaValidation;
use wsguard::time::ManualClock;
use wsguard::{Direction, Guard, Principal};

pub const ORIGIN: &str = "http://app.test";
pub const PEER: &str = "192.0.2.7:40000";

/// The inbound schemas, by type: what a delivered message must satisfy.
pub fn schemas() -> &'static [(&'static str, Value)] {
    static SCHEMAS: OnceLock<Vec<(&str, Value)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let room = json!({"type": "string", "pattern": "^[a-z0-9-]{1,32}$"});
        let object = |required: Value, properties: Value| {
            json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
        };
        vec![
            ("join", object(json!(["type", "room"]), json!({"type": {}, "room": room}))),
            (
                "chat",
                object(
                    json!(["type", "room", "text"]),
                    json!({"type": {}, "room": room, "text": {"type": "string", "maxLength": 2000}}),
                ),
            ),
            ("kick", object(json!(["type", "user"]), json!({"type": {}, "user": {"type": "string"}}))),
        ]
    })
}

/// A scrubber for the checks: what must never be left in a delivered frame.
pub fn checker() -> &'static Scrubber {
    static CHECKER: OnceLock<Scrubber> = OnceLock::new();
    CHECKER.get_or_init(|| Scrubber::builder().only(KINDS).default_action(Action::Redact).build().unwrap())
}

const KINDS: [Kind; 4] = [Kind::Email, Kind::CreditCard, Kind::Iban, Kind::Jwt];

/// The full stack: bearer tokens, origin allow-list, per-type quotas,
/// schemas, RBAC (inbound rules, an admin-only outbound type, a room
/// template, a hidden field), the PII scrubber redacting both ways.
pub fn full_stack(clock: ManualClock) -> Guard {
    stack(clock, None)
}

/// The full stack behind a trusted balancer (the peer's network) that sends
/// PROXY protocol headers.
pub fn full_stack_behind_proxy(clock: ManualClock) -> Guard {
    let proxies = wsguard::layer::TrustedProxies::new(["192.0.2.0/24"]).unwrap().proxy_protocol(true);
    stack(clock, Some(proxies))
}

fn stack(clock: ManualClock, proxies: Option<wsguard::layer::TrustedProxies>) -> Guard {
    let n = |v| NonZeroU32::new(v).unwrap();
    let tokens = StaticTokens::new()
        .token("alice-token", Principal::new("alice@example.com").with_roles(["user"]))
        .token("admin-token", Principal::new("admin").with_roles(["admin"]));
    let auth = Authenticator::builder().protocol("bearer.").bearer_header().build(tokens).unwrap();
    let mut schemas = SchemaValidation::builder();
    for (t, schema) in self::schemas() {
        schemas = schemas.schema(*t, schema.clone());
    }
    let rbac = Policy::new()
        .role("user", ["chat:join", "room:lobby:write", "room:lobby:read"])
        .role_inheriting("admin", ["user"], ["chat:kick", "audit:read", "pii:read", "room:*:write", "room:*:read"])
        .inbound("join", "chat:join")
        .inbound("chat", "room:{/room}:write")
        .inbound("kick", "chat:kick")
        .outbound("chat", "room:{/room}:read")
        .outbound("audit", "audit:read")
        .field(FieldRule::new("/email", "pii:read"))
        .build()
        .unwrap();
    let scrubber = Scrubber::builder().only(KINDS).default_action(Action::Redact).scan_binary(true).build().unwrap();
    let limit = RateLimit::builder()
        .quota_for_type("chat", Quota::per_second(n(5)).allow_burst(n(10)), Unit::Messages, Per::Connection)
        .quota(Quota::per_second(n(50)).allow_burst(n(100)), Unit::Messages, Per::Principal)
        .build()
        .unwrap();
    let builder = Guard::builder();
    let builder = match proxies {
        Some(proxies) => builder.trusted_proxies(proxies),
        None => builder,
    };
    builder
        .with_authenticator(auth)
        .origin(OriginPolicy::new([ORIGIN]).unwrap())
        .rate_limit(limit)
        .json_schema(schemas.build().unwrap())
        .rbac(rbac)
        .scrub_pii(scrubber)
        .clock(clock)
        .build()
        .unwrap()
}

/// Alice's session on `guard`, as the handshake would leave it.
pub fn alice(guard: &Guard) -> wsguard::Session {
    let mut session = guard.new_session(Some(PEER.parse::<SocketAddr>().unwrap()));
    session.set_principal(Some(Principal::new("alice@example.com").with_roles(["user"]))).unwrap();
    session
}

/// What every message the stack delivers to the application from a user
/// must be: JSON of a type the user may send, valid against its schema,
/// in a room the user may write to, with no personal data left.
pub fn assert_inbound_allowed(text: &str) {
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("delivered non-JSON ({e}): {text:?}"));
    let kind = value["type"].as_str().unwrap_or_else(|| panic!("delivered without a type: {text}"));
    let (_, schema) = schemas().iter().find(|(t, _)| *t == kind).unwrap_or_else(|| panic!("unknown type {kind}"));
    assert!(jsonschema::is_valid(schema, &value), "delivered against its schema: {text}");
    assert_ne!(kind, "kick", "a user's kick was delivered: {text}");
    if kind == "chat" {
        assert_eq!(value["room"], "lobby", "a user wrote to another room: {text}");
    }
    assert_clean(text);
}

/// What a user may receive of the application's `sent` message, as
/// `delivered`: no admin-only type, no hidden field, no room the user may
/// not read, nothing sent as JSON the guard could not read, and no
/// personal data.
pub fn assert_outbound_allowed(sent: &[u8], delivered: &str) {
    if let Ok(value) = serde_json::from_str::<Value>(delivered) {
        if value.get("type") == Some(&json!("audit")) {
            panic!("admin-only type delivered: {delivered}");
        }
        if value.get("type") == Some(&json!("chat")) {
            assert_eq!(value["room"], "lobby", "a user read another room: {delivered}");
        }
        assert!(value.get("email").is_none(), "a hidden field was delivered: {delivered}");
    }
    // A lenient client reads what serde_json cannot (`1e999`, lone
    // surrogates, deep nesting): such a message must not get through.
    if serde_json::from_slice::<Value>(sent).is_err() {
        let text = String::from_utf8_lossy(sent);
        let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\n', '\r']);
        assert!(!start.starts_with(['{', '[']), "unreadable JSON delivered: {text:?} as {delivered:?}");
    }
    assert_clean(delivered);
}

fn assert_clean(text: &str) {
    let left = checker().scrub(text, Direction::Outbound);
    assert!(left.findings().is_empty(), "personal data delivered: {:?} in {text:?}", left.findings());
}
