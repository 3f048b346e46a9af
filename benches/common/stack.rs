//! The realistic full stack of issue 21, built one layer at a time: shared
//! by `benches/stack.rs` (in-process cost) and `examples/stack_loopback.rs`
//! (loopback throughput against raw tokio-tungstenite).

#![allow(dead_code)]

use std::num::NonZeroU32;

use wsguard::auth::{Authenticator, StaticTokens};
use wsguard::layer::OriginPolicy;
use wsguard::pii::{Action, Scrubber};
use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
use wsguard::rbac::Policy;
use wsguard::schema::SchemaValidation;
use wsguard::{AuthDecided, Guard, GuardBuilder, Principal};

/// The origin every client sends.
pub const ORIGIN: &str = "https://chat.example";
/// The static bearer token every client sends.
pub const TOKEN: &str = "bench-token-0123456789abcdef";

/// The steps, each adding layers to the one before: `limits` is the
/// guard's default (size and structure limits), `pii` the full stack.
pub const STEPS: [&str; 6] = ["limits", "+origin_auth", "+rate_limit", "+schema", "+rbac", "+pii"];

/// The guard at `step` (an index into [`STEPS`]):
/// 1. origin allow-list and a static bearer token (role `user`);
/// 2. a per-connection quota on `chat` messages, high enough never to bite;
/// 3. a JSON schema for `chat` (room pattern, text length);
/// 4. RBAC: `chat` needs `chat:send` inbound and `chat:read` outbound;
/// 5. PII masking in both directions, every built-in kind.
pub fn guard(step: usize) -> Guard {
    builder(step).build().unwrap()
}

/// The builder of [`guard`], for a caller that changes more.
pub fn builder(step: usize) -> GuardBuilder<AuthDecided> {
    let builder = if step >= 1 {
        let tokens = StaticTokens::new().token(TOKEN, Principal::new("alice").with_roles(["user"]));
        Guard::builder()
            .with_authenticator(Authenticator::builder().bearer_header().build(tokens).unwrap())
            .origin(OriginPolicy::new([ORIGIN]).unwrap())
    } else {
        Guard::builder().without_auth()
    };
    let mut builder = builder;
    if step >= 2 {
        let quota = Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
        // The loopback clients all connect from 127.0.0.1 at once: no
        // handshake quota per IP.
        let limit =
            RateLimit::builder().quota_for_type("chat", quota, Unit::Messages, Per::Connection).handshakes_per_ip(None);
        builder = builder.rate_limit(limit.build().unwrap());
    }
    if step >= 3 {
        let chat = serde_json::json!({
            "type": "object",
            "required": ["type", "room", "text"],
            "additionalProperties": false,
            "properties": {
                "type": {"const": "chat"},
                "room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
                "text": {"type": "string", "minLength": 1, "maxLength": 60000}
            }
        });
        builder = builder.json_schema(SchemaValidation::builder().schema("chat", chat).build().unwrap());
    }
    if step >= 4 {
        let policy = Policy::new()
            .role("user", ["chat:send", "chat:read"])
            .inbound("chat", "chat:send")
            .outbound("chat", "chat:read");
        builder = builder.rbac(policy.build().unwrap());
    }
    if step >= 5 {
        builder = builder.scrub_pii(Scrubber::builder().default_action(Action::Mask).build().unwrap());
    }
    builder
}

/// A `chat` message of exactly `len` bytes (at least 64): a room and a
/// text of ordinary prose, with no personal data in it.
pub fn chat(len: usize) -> String {
    const PROSE: &str = "Are we still meeting tomorrow? If anything changes, I will post it here \
        and bring the slides. The demo went well, thanks to everyone who stayed late on Friday. ";
    let head = r#"{"type":"chat","room":"lobby","text":""#;
    let tail = r#""}"#;
    let room = len - head.len() - tail.len();
    let mut text: String = PROSE.chars().cycle().take(room).collect();
    if text.ends_with(' ') {
        text.replace_range(room - 1.., ".");
    }
    format!("{head}{text}{tail}")
}
