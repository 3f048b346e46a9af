//! The demo's guard: every layer, from `chat.toml` (a `GuardConfig`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wsguard::config::{GuardConfig, StaticTokenConfig};
use wsguard::fleet::Fleet;
use wsguard::pii::Scrubber;
use wsguard::rate_limit::RedisConfig;
use wsguard::{ConnectionCaps, Guard, HandshakeRejection, HandshakeRequest, Layer, Liveness, Rejection, Session};

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
    /// The guard's configuration file (`--config`); default: `chat.toml`
    /// next to this file, built in.
    pub config: Option<PathBuf>,
    /// The Redis every instance shares (`--redis URL`): revocations, the
    /// deny-list and per-principal rate limits across instances.
    pub redis: Option<String>,
    /// Where the Prometheus metrics are served (`--metrics ADDR`).
    pub metrics: SocketAddr,
}

/// The command line of the chat demo and the axum example: an optional
/// listening address (default `127.0.0.1:<port>`) and the options above.
#[allow(dead_code)] // the zap test includes this file without a command line
pub fn parse_args(program: &str, port: u16) -> Result<(SocketAddr, Options), String> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--http-rejections" => options.http_rejections = true,
            "--no-guard" => options.guard = false,
            "--log-json" => options.log_json = true,
            "--metrics" => options.metrics = value("an address")?.parse().map_err(|_| "--metrics needs an address")?,
            "--redis" => options.redis = Some(value("a URL")?),
            "--config" => options.config = Some(value("a file")?.into()),
            "--load-users" => {
                options.load_users = value("a number")?.parse().map_err(|_| "--load-users needs a number")?
            }
            other => {
                addr = other.parse().map_err(|_| {
                    format!(
                        "unknown argument {other:?}\nusage: {program} [ADDR] [--http-rejections] [--no-guard] \
                         [--load-users N] [--log-json] [--metrics ADDR] [--config FILE] [--redis URL]"
                    )
                })?
            }
        }
    }
    Ok((addr, options))
}

impl Default for Options {
    fn default() -> Self {
        Self {
            http_rejections: false,
            guard: true,
            load_users: 0,
            log_json: false,
            config: None,
            redis: None,
            metrics: ([127, 0, 0, 1], 9898).into(),
        }
    }
}

/// The guard, and the scrubber the app uses to explain itself to senders.
#[derive(Debug)]
pub struct App {
    pub guard: Guard,
    scrubber: Option<Scrubber>,
    /// With `--redis`: what every instance shares.
    fleet: Option<Fleet>,
}

/// The demo's configuration, `chat.toml`.
const CHAT_TOML: &str = include_str!("chat.toml");

/// The guard from `chat.toml` (or `--config`), with the demo's own layer;
/// `{port}` in the file is the port the demo listens on.
pub fn app(addr: SocketAddr, options: &Options) -> Result<App, String> {
    if !options.guard {
        let guard = Guard::builder().without_auth().liveness(Liveness::off()).build().map_err(|e| e.to_string())?;
        return Ok(App { guard, scrubber: None, fleet: None });
    }
    let (text, dir) = match &options.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            (text, path.parent().map(PathBuf::from).unwrap_or_default())
        }
        None => (CHAT_TOML.to_owned(), PathBuf::from(".")),
    };
    let text = text.replace("{port}", &addr.port().to_string());
    let parsed = toml::Deserializer::parse(&text).map_err(|e| e.to_string())?;
    let mut config = GuardConfig::from_deserializer(parsed).map_err(|e| e.to_string())?.base_dir(dir);
    for i in 0..options.load_users {
        let digest = Sha256::digest(format!("load-{i}-token"));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        config.auth.static_tokens.push(StaticTokenConfig::new(hex, format!("load-{i}"), ["user"]));
    }
    if options.http_rejections {
        config.handshake_rejection = HandshakeRejection::Http;
    }
    // The scrubber again, to tell senders what others will see.
    let scrubber = match (&config.pii, &config.rbac) {
        (Some(pii), Some(rbac)) => Some(pii.clone().rbac(rbac.build().map_err(|e| e.to_string())?)),
        (Some(pii), None) => Some(pii.clone()),
        _ => None,
    };
    let scrubber = scrubber.map(|s| s.build()).transpose().map_err(|e| e.to_string())?;
    // A fleet: rate limits per principal, revocations, the deny-list and
    // 5 connections per user shared through Redis. A kicked user is
    // refused for a minute.
    let fleet = match &options.redis {
        Some(url) => {
            config.rate_limit = config.rate_limit.take().map(|limit| limit.redis(RedisConfig::new(url.as_str())));
            let fleet = Fleet::builder(url.as_str())
                .default_deny(Duration::from_secs(60))
                .shared_caps(ConnectionCaps::unlimited().per_principal(Some(5)));
            Some(fleet.build().map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let mut builder = config.builder().map_err(|e| e.to_string())?;
    if let Some(fleet) = &fleet {
        builder = builder.layer(fleet.clone());
    }
    let guard = builder.layer(ChatProtocol).build().map_err(|e| e.to_string())?;
    Ok(App { guard, scrubber, fleet })
}

impl App {
    /// Ends every session of `user`: on this instance, and with `--redis`
    /// on every instance, which also refuse the user for a minute.
    pub fn kick(&self, user: &str) -> usize {
        match &self.fleet {
            Some(fleet) => fleet.revoke_principal(user, None),
            None => self.guard.sessions().revoke_principal(user),
        }
    }

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
