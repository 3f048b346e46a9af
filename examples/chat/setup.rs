//! The demo's guard: every layer, configured as the README describes.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Instant;

use serde_json::json;
use wsguard::auth::{Authenticator, StaticTokens};
use wsguard::layer::OriginPolicy;
use wsguard::pii::{Action, Kind, Scrubber};
use wsguard::rate_limit::{Per, Quota, RateLimit, Unit};
use wsguard::rbac::Policy;
use wsguard::schema::SchemaValidation;
use wsguard::{
    ConfigError, Guard, HandshakeRejection, HandshakeRequest, Layer, Liveness, Principal, Rejection, Session,
};

/// Logs to stderr with `tracing-subscriber`: the filter from `RUST_LOG`
/// (default: the guard's audit events and warnings), as JSON lines with
/// `--log-json`.
#[allow(dead_code)] // the zap test includes this file without logging
pub fn logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,wsguard::audit=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Command-line choices.
#[derive(Debug)]
pub struct Options {
    /// Refuse handshakes with HTTP statuses instead of accept-then-close.
    pub http_rejections: bool,
    /// Every layer on (`false`: only the always-on limits, for comparison).
    pub guard: bool,
    /// Extra users `load-<i>` with tokens `load-<i>-token`, for the load run.
    pub load_users: usize,
    /// Audit and log lines as JSON (`--log-json`).
    pub log_json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { http_rejections: false, guard: true, load_users: 0, log_json: false }
    }
}

/// The guard, and the scrubber the app uses to explain itself to senders.
#[derive(Debug)]
pub struct App {
    pub guard: Guard,
    scrubber: Option<Scrubber>,
}

/// Kinds shown masked to users (admins see them: `pii:read`).
const MASKED: [Kind; 14] = [
    Kind::Email,
    Kind::Phone,
    Kind::CreditCard,
    Kind::UsSsn,
    Kind::Iban,
    Kind::Ipv4,
    Kind::Ipv6,
    Kind::Mac,
    Kind::AwsAccessKey,
    Kind::GithubToken,
    Kind::SlackToken,
    Kind::StripeKey,
    Kind::Jwt,
    Kind::PrivateKey,
];

pub fn app(addr: SocketAddr, options: &Options) -> Result<App, ConfigError> {
    if !options.guard {
        let guard = Guard::builder().without_auth().liveness(Liveness::off()).build()?;
        return Ok(App { guard, scrubber: None });
    }
    let n = |v| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
    let mut tokens = StaticTokens::new()
        .token("alice-token", Principal::new("alice").with_roles(["user"]))
        .token("bob-token", Principal::new("bob").with_roles(["user"]))
        .token("admin-token", Principal::new("admin").with_roles(["admin"]));
    for i in 0..options.load_users {
        tokens = tokens.token(format!("load-{i}-token"), Principal::new(format!("load-{i}")).with_roles(["user"]));
    }
    let auth = Authenticator::builder().protocol("bearer.").bearer_header().build(tokens)?;
    let port = addr.port();
    let origin = OriginPolicy::new([format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")])?;
    let room = json!({"type": "string", "pattern": "^[a-z0-9-]{1,32}$"});
    let schemas = SchemaValidation::builder()
        .schema(
            "join",
            json!({"type": "object", "required": ["type", "room"], "additionalProperties": false,
            "properties": {"type": {}, "room": room}}),
        )
        .schema(
            "chat",
            json!({"type": "object", "required": ["type", "room", "text"], "additionalProperties": false,
            "properties": {"type": {}, "room": room, "text": {"type": "string", "minLength": 1, "maxLength": 2000}}}),
        )
        .schema(
            "typing",
            json!({"type": "object", "required": ["type", "room"], "additionalProperties": false,
            "properties": {"type": {}, "room": room}}),
        )
        .schema(
            "kick",
            json!({"type": "object", "required": ["type", "user"], "additionalProperties": false,
            "properties": {"type": {}, "user": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}}}),
        )
        .build()?;
    let rbac = Policy::new()
        .role("user", ["chat:join", "chat:send", "chat:typing"])
        .role_inheriting("admin", ["user"], ["chat:kick", "pii:read"])
        .inbound("join", "chat:join")
        .inbound("chat", "chat:send")
        .inbound("typing", "chat:typing")
        .inbound("kick", "chat:kick")
        .build()?;
    let mut scrubber = Scrubber::builder().only(MASKED).default_action(Action::Report).rbac(rbac.clone());
    for kind in MASKED {
        scrubber = scrubber.outbound_action(kind, Action::Mask).exempt(kind, "pii:read");
    }
    let scrubber = scrubber.build()?;
    let limit = RateLimit::builder()
        .quota_for_type("chat", Quota::per_second(n(5)).allow_burst(n(10)), Unit::Messages, Per::Connection)
        .quota_for_type("typing", Quota::per_second(n(2)), Unit::Messages, Per::Connection)
        .quota_for_type("join", Quota::per_second(n(1)).allow_burst(n(10)), Unit::Messages, Per::Connection)
        .build()?;
    let rejection =
        if options.http_rejections { HandshakeRejection::Http } else { HandshakeRejection::AcceptThenClose };
    let guard = Guard::builder()
        .with_authenticator(auth)
        .origin(origin)
        .rate_limit(limit)
        .json_schema(schemas)
        .rbac(rbac)
        .scrub_pii(scrubber.clone())
        .layer(ChatProtocol)
        .handshake_rejection(rejection)
        .build()?;
    Ok(App { guard, scrubber: Some(scrubber) })
}

impl App {
    /// What the scrubber will do to `text` for other users, in words.
    pub fn notices(&self, text: &str) -> Vec<String> {
        let Some(scrubber) = &self.scrubber else { return Vec::new() };
        let mut kinds: Vec<&str> = scrubber.find(text).iter().map(|f| f.kind()).collect();
        kinds.dedup();
        kinds
            .into_iter()
            .map(|kind| format!("your message contained {}: other users see it masked, admins in full", describe(kind)))
            .collect()
    }
}

fn describe(kind: &str) -> &str {
    match kind {
        "email" => "an email address",
        "phone" => "a phone number",
        "credit_card" => "a card number",
        "us_ssn" => "a social security number",
        "iban" => "a bank account number (IBAN)",
        "ipv4" | "ipv6" | "mac" => "a network address",
        _ => "a secret (key or token)",
    }
}

/// Selects the `chat.v1` subprotocol when the client offers it (the
/// authenticator already removed any `bearer.` token from the offers).
#[derive(Debug)]
struct ChatProtocol;

impl Layer for ChatProtocol {
    fn name(&self) -> &'static str {
        "chat_protocol"
    }

    fn on_handshake(&self, _: &HandshakeRequest, session: &mut Session, _: Instant) -> Result<(), Rejection> {
        if session.requested_protocols().iter().any(|p| p == "chat.v1") {
            session.select_protocol("chat.v1");
        }
        Ok(())
    }
}
