//! wsguard is security middleware for WebSocket servers built on
//! [tungstenite](https://docs.rs/tungstenite) (blocking) and
//! [tokio-tungstenite](https://docs.rs/tokio-tungstenite) (async). You build one
//! [`Guard`], a stack of [`Layer`]s, at start-up and wrap every connection with
//! it; the guard sees the upgrade request and every message in both
//! directions, and passes, drops (answering with an error reply) or closes
//! with a precise close code.
//!
//! # Quick start
//!
//! A guarded echo server over a blocking `TcpStream`, with the default limits
//! (64 KiB messages) and one custom layer:
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Instant;
//! use wsguard::{ErrorReply, Frame, Guard, Layer, Outcome, Session};
//!
//! /// Refuses messages whose JSON `type` is "admin".
//! #[derive(Debug)]
//! struct NoAdmin;
//!
//! impl Layer for NoAdmin {
//!     fn name(&self) -> &'static str { "no_admin" }
//!     fn on_inbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
//!         match frame.json().and_then(|v| v.get("type")) {
//!             Some(t) if t == "admin" => Outcome::drop_with(ErrorReply::forbidden()),
//!             _ => Outcome::Pass,
//!         }
//!     }
//! }
//!
//! let guard = Guard::builder().without_auth().layer(NoAdmin).build()?;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> Result<(), wsguard::Error> {
//!     let (stream, _) = listener.accept()?;
//!     let mut ws = wsguard::accept(stream, &guard)?;
//!     let message = ws.read()?; // the "admin" message never arrives here
//!     ws.send(message)
//! });
//!
//! let (mut client, _) = tungstenite::client(format!("ws://{addr}/"), TcpStream::connect(addr)?)?;
//! client.send(r#"{"type":"admin"}"#.into())?;
//! let reply = client.read()?;
//! assert!(reply.to_text()?.contains(r#""code":"forbidden""#));
//! client.send(r#"{"type":"chat"}"#.into())?;
//! assert_eq!(client.read()?.to_text()?, r#"{"type":"chat"}"#);
//! server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `tokio` feature, [`tokio::accept`] does the same over any
//! `AsyncRead + AsyncWrite` stream and returns a `Stream + Sink`.
//!
//! # Tour
//!
//! - [`Guard`] and [`GuardBuilder`]: the stack, built once, cheap to clone.
//! - [`Connection`] ([`connection`]): one connection's sans-IO state machine,
//!   made by [`Guard::connection`]. It owns every decision and every
//!   deadline: the request head and the handshake answer, the verdict on
//!   each message, and [`poll_timeout`](Connection::poll_timeout) /
//!   [`handle_timeout`](Connection::handle_timeout) for the handshake
//!   timeout, heartbeat, idle, lifetime, token expiry and write stalls, all
//!   on the guard's [`time::Clock`].
//! - The drivers, which use only the connection's public API:
//!   [`accept`] / [`GuardedWebSocket`] (blocking; its timers run through the
//!   stream's read timeouts), `tokio::accept` / `GuardedStream` (feature
//!   `tokio`) and `axum::GuardedUpgrade` / `GuardedSocket` (feature `axum`).
//!   Your own driver is a loop over the same API (see "Manual use").
//! - [`Layer`]: the hooks a layer implements (handshake, inbound, outbound, close).
//! - [`Frame`]: a text or binary message with its JSON parsed at most once.
//! - [`Outcome`] (a layer's decision), [`Verdict`] (the stack's), [`ErrorReply`].
//! - [`Rejection`], [`RejectionKind`] and [`CloseCode`]: what the peer is told.
//! - [`Session`]: per-connection state (peer, origin, subprotocol, principal, extensions).
//! - [`layer::Limits`] and [`Liveness`]: the size limits and the timers every
//!   connection runs under.
//! - [`config::GuardConfig`]: the whole guard from one serde file, with
//!   [`Guard::from_config`]; [`GuardHandle`] to reload it while serving.
//! - [`metrics`] (feature `metrics`): counters, a gauge and a histogram
//!   through the `metrics` facade, every label from a bounded set.
//! - [`layer::OriginPolicy`] and [`layer::TransportPolicy`]: cross-site
//!   hijacking and "TLS required" at the handshake.
//! - [`auth`]: token sources, [`auth::StaticTokens`], JWT (feature `jwt`),
//!   your own sync or async verifier; expiry and re-authentication.
//! - [`schema`]: JSON Schema validation per message type, structural
//!   limits against parser bombs, outbound validation, strikes.
//! - [`rbac`]: roles with inheritance, wildcard permissions, rules per
//!   message type (templated from the message), outbound field filtering.
//! - [`pii`]: personal data and secrets found in both directions (checksums,
//!   parsing, sensitive keys) and redacted, masked, hashed or removed.
//! - [`SessionRegistry`] and [`ConnectionCaps`]: live sessions, revocation,
//!   concurrent-connection caps.
//!
//! # Order
//!
//! At the handshake: the request is recorded on the session, the connection
//! caps per IP and in all are taken, then [`layer::Limits`], the transport
//! and origin policies, the rate limit's quota on new connections per IP,
//! the authenticator (then the cap per principal), and the builder's layers
//! in the order they were added. For each message: the session's expiry
//! and revocation, [`layer::Limits`], the transport and origin policies
//! (which pass every message), the rate limit, the authenticator
//! (first-message and re-authentication), then the builder's layers. The
//! first check that does not pass decides; later layers do not see the
//! message. Add [`schema::SchemaValidation`] before other layers that read
//! the JSON (its structural limits keep parser bombs away from them), then
//! [`rbac::Rbac`], and [`pii::Scrubber`] last, so it scrubs what the other
//! layers let through and rewrote. [`Guard`] links here: this is the one
//! description of the order.
//!
//! # Manual use
//!
//! Frameworks that own the socket drive a [`Connection`]: feed it the
//! upgrade request, write its answer, then feed it every message read and
//! every message to send, and act on its deadlines. The adapters do exactly
//! this.
//!
//! ```
//! use wsguard::connection::Timeout;
//! use wsguard::{Guard, Message, Verdict};
//!
//! let guard = Guard::builder().without_auth().build()?;
//! let mut conn = guard.connection(None);
//! let request = http::Request::get("/ws")
//!     .header("connection", "Upgrade")
//!     .header("upgrade", "websocket")
//!     .header("sec-websocket-version", "13")
//!     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .body(())?;
//! let answer = conn.handshake(&request);
//! assert!(answer.is_accept()); // else write answer.response() and drop the socket
//! // For every message read from the framework's socket:
//! match conn.handle_inbound(Message::text("hello")) {
//!     Verdict::Deliver(message) => assert_eq!(message, Message::text("hello")),
//!     Verdict::Drop { reply } => { /* send `reply` back, if any */ }
//!     Verdict::Close { frame, .. } => { /* send `frame` and close */ }
//!     _ => {}
//! }
//! // Sleep until conn.poll_timeout(), then:
//! match conn.handle_timeout(guard.now()) {
//!     Some(Timeout::Ping) => { /* send a ping */ }
//!     Some(Timeout::Close { frame, .. }) => { /* send `frame` and close */ }
//!     _ => {}
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The per-decision methods stay available on [`Guard`] for tests and
//! special cases ([`Guard::check_handshake`], [`Guard::inbound`],
//! [`Guard::outbound`]), without the connection's timers.
//!
//! # Security considerations
//!
//! - Per-message hooks are synchronous and CPU-only; a layer that blocks on
//!   I/O stalls the connection. Network work belongs at the handshake.
//! - Close reasons, HTTP bodies and audit events carry only a rejection's
//!   fixed reason (at most 123 bytes), never the payload, a token or personal
//!   data. Custom layers must keep that promise when they build a
//!   [`Rejection`] or an [`ErrorReply`].
//! - Every connection runs under the handshake timeout (408), the heartbeat,
//!   idle and lifetime timeouts, its token's expiry and revocation, in both
//!   adapters. The blocking adapter enforces them through the stream's read
//!   timeouts ([`PeerInfo::set_read_timeout`]); a custom stream type that
//!   cannot set them gets its timers only when a read returns.
//! - The default message limit is 64 KiB, not tungstenite's 64 MiB.
//! - Authentication is never a silent default: the builder requires
//!   [`GuardBuilder::with_authenticator`] or an explicit
//!   [`GuardBuilder::without_auth`]. Cookie tokens require an
//!   [`layer::OriginPolicy`], since browsers attach cookies to cross-site
//!   WebSocket upgrades. Query-string tokens are behind
//!   [`auth::AuthBuilder::dangerous`]: URLs end up in access logs.
//! - Clients never learn which authentication check failed; the audit
//!   event's `detail` says, without the token.
//! - Fail closed: an outbound message that looks like JSON but that the
//!   parser cannot read (`1e999`, a lone surrogate, deep nesting) is not
//!   delivered where RBAC or outbound schemas apply, since browsers read it.
//! - Connection caps and rate limits count IPv6 peers per /64 (configurable)
//!   and IPv4-mapped peers as IPv4. No JWT claim value can panic; HMAC
//!   secrets under 32 bytes need [`auth::JwtBuilder::dangerous`].
//! - Schema validation answers with JSON pointers and keywords, never
//!   values; pointers contain the message's keys. `$ref`s never reach the
//!   network, and schema patterns run in linear time.
//!
//! # Crate features
//!
//! - `tokio` (off by default): the async adapter [`tokio::accept`] over
//!   tokio-tungstenite. The default build depends on neither tokio nor
//!   futures.
//! - `jwt` (off by default): [`auth::JwtVerifier`], over `jsonwebtoken` with
//!   its `aws_lc_rs` backend (RS256 verification about 7x faster than the
//!   `rust_crypto` one; it builds C code with the system's C compiler).
//! - `encrypt` (off by default): [`pii::Action::Encrypt`], reversible
//!   tokenisation of personal data with AES-256-GCM (`aes-gcm`).
//! - `redis` (off by default): [`rate_limit::RedisConfig`], per-principal
//!   and per-IP quotas shared across instances through Redis (the `redis`
//!   crate, synchronous, from a background thread).
//! - `axum` (off by default, implies `tokio`): [`axum::GuardedUpgrade`], an
//!   axum 0.8 extractor that runs the guard's handshake, and
//!   [`axum::GuardedSocket`], axum's `WebSocket` under the guard with the
//!   tokio adapter's behaviour. It names the tungstenite that axum 0.8
//!   already depends on, to tell its read errors apart (1009, 1007).
//! - `tokio-rustls` (off by default, implies `tokio`): `tokio-rustls`
//!   server streams report themselves as TLS to the guard, so
//!   [`TransportPolicy::require_tls`](layer::TransportPolicy::require_tls)
//!   admits wss.
//! - `test-util` (off by default, for tests and benches only): the PII
//!   scanner counts the bytes it examines, which the linear-time test reads.
//!   Without it the counter compiles to nothing.
//!
//! # Audit events
//!
//! Every non-pass decision emits one `tracing` event with target
//! [`audit::TARGET`] (`wsguard::audit`); see [`audit`]. Its fields are free
//! of personal data by construction: values from a known set, or keyed
//! hashes (principal ids and peer IPs are pseudonymised by default,
//! [`audit::AuditIdentities`]).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapter;
pub mod audit;
pub mod auth;
mod close;
pub mod config;
pub mod connection;
mod error;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod fleet;
mod guard;
mod hex;
pub mod layer;
mod liveness;
pub mod manual;
mod message;
pub mod metrics;
mod outcome;
pub mod pii;
pub mod rate_limit;
pub mod rbac;
#[cfg(feature = "redis")]
mod redis_client;
mod registry;
mod rejection;
pub mod schema;
mod session;
pub mod time;

/// Internals for the crate's own tests, benches and fuzz targets; not part
/// of the API and exempt from semver.
#[doc(hidden)]
pub mod internal {
    /// The bytes the PII scanner examined on this thread since the last
    /// call: the work counter that shows scanning is linear in the input.
    /// Counts only with the `test-util` feature; 0 otherwise.
    pub fn take_scan_work() -> u64 {
        crate::pii::work::take()
    }

    /// The schema layer's structural scan of `text` under `limits`: the
    /// first bound it breaks, as `(keyword, path)`. For the fuzz target that
    /// compares it with what `serde_json` parses.
    pub fn check_structure(limits: &crate::schema::StructureLimits, text: &str) -> Result<(), (&'static str, String)> {
        limits.check(text).map_err(|v| (v.keyword, v.path))
    }
}

pub use adapter::PeerInfo;
pub use adapter::blocking::{GuardedWebSocket, accept, accept_with_config};
pub use close::{CloseCode, CloseFrame, MAX_REASON_BYTES};
pub use connection::Connection;
pub use error::{ConfigError, Error, StoreError, WebSocketError};
pub use guard::{AuthDecided, Guard, GuardBuilder, GuardHandle, HandshakeRejection, Verdict, WantsAuth};
pub use layer::{HandshakeRequest, Layer};
pub use liveness::Liveness;
pub use message::{Direction, Frame, Message, Utf8Bytes};
pub use outcome::{ErrorReply, Outcome};
pub use registry::{ConnectionCaps, SessionInfo, SessionRegistry};
pub use rejection::{Rejection, RejectionKind, Wire};
pub use session::{ConnectionId, Principal, Session};

/// The tokio adapter (feature `tokio`).
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio {
    pub use crate::adapter::tokio::{GuardedStream, accept, accept_with_config};
}

/// The axum adapter (feature `axum`, axum 0.8): an extractor that runs the
/// guard's handshake and a guarded socket over axum's `WebSocket`.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum {
    pub use crate::adapter::axum::{GuardedSocket, GuardedUpgrade};
}

/// The tungstenite configuration type accepted by [`accept_with_config`].
pub use tungstenite::protocol::WebSocketConfig;
