use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tungstenite::protocol::WebSocketConfig;

use super::{Guard, HandshakeRejection, Inner};
use crate::audit::AuditIdentities;
use crate::auth::Authenticator;
use crate::close::CloseCode;
use crate::error::ConfigError;
use crate::layer::{Layer, Limits, OriginPolicy, TransportPolicy, TrustedProxies};
use crate::liveness::Liveness;
use crate::message::Direction;
use crate::pii::Scrubber;
use crate::rate_limit::RateLimit;
use crate::rbac::Rbac;
use crate::registry::{ConnectionCaps, SessionRegistry};
use crate::rejection::RejectionKind;
use crate::schema::SchemaValidation;
use crate::time::{Clock, SystemClock};

/// The default read buffer of a guarded connection: 8 KiB instead of
/// tungstenite's 128 KiB, which is zero-filled and stays resident for every
/// connection. See [`manual::defaults`](crate::manual::defaults) for the
/// measurements behind it.
pub(crate) const DEFAULT_READ_BUFFER: usize = 8 * 1024;

/// Builds a [`Guard`]. Obtain one with [`Guard::builder`].
///
/// Authentication is the one decision that cannot be left to a default:
/// call [`with_authenticator`](Self::with_authenticator) or, explicitly,
/// [`without_auth`](Self::without_auth) before [`build`](Self::build)
/// (the type parameter tracks it). Everything else has a default:
///
/// | setting | default |
/// |---------|---------|
/// | layers | none besides [`Limits`] |
/// | [`limits`](Self::limits) | [`Limits::default()`] (64 KiB messages) |
/// | [`transport`](Self::transport) | none: plain-text connections allowed |
/// | [`origin`](Self::origin) | none: every origin allowed (required with cookie tokens) |
/// | [`liveness`](Self::liveness) | [`Liveness::default()`]: ping after 30 s quiet, 10 s pong timeout, 5 min idle timeout, 10 s write timeout |
/// | [`rate_limit`](Self::rate_limit) | none: no message quotas, no handshake quota per IP |
/// | [`connection_caps`](Self::connection_caps) | [`ConnectionCaps::default()`]: 5 per principal, 20 per IP |
/// | [`clock`](Self::clock) | [`SystemClock`] |
/// | [`websocket_config`](Self::websocket_config) | tungstenite's defaults with an 8 KiB read buffer |
/// | [`handshake_rejection`](Self::handshake_rejection) | [`HandshakeRejection::Http`] |
/// | [`close_code`](Self::close_code) | the table in [`RejectionKind::wire`] |
/// | [`trusted_proxies`](Self::trusted_proxies) | none: the socket's peer is the client; forwarding headers are ignored |
/// | [`audit_identities`](Self::audit_identities) | [`AuditIdentities::default()`]: principal ids and peer IPs pseudonymised |
#[must_use]
#[derive(Debug)]
pub struct GuardBuilder<State = WantsAuth> {
    layers: Vec<Arc<dyn Layer>>,
    limits: Limits,
    transport: Option<TransportPolicy>,
    origin: Option<OriginPolicy>,
    rate_limit: Option<RateLimit>,
    liveness: Liveness,
    caps: ConnectionCaps,
    auth: Option<Authenticator>,
    clock: Arc<dyn Clock>,
    websocket_config: WebSocketConfig,
    handshake_rejection: HandshakeRejection,
    close_code_overrides: Vec<(RejectionKind, CloseCode)>,
    audit: AuditIdentities,
    proxies: Option<TrustedProxies>,
    /// Per direction (inbound, outbound): whether a layer added through a
    /// shortcut parses every message into a tree anyway, so earlier layers
    /// read the message type from the tree instead of the text.
    trees: [bool; 2],
    state: PhantomData<State>,
}

/// [`GuardBuilder`] state: authentication not decided yet.
#[derive(Debug)]
pub struct WantsAuth;

/// [`GuardBuilder`] state: authentication decided; the guard can be built.
#[derive(Debug)]
pub struct AuthDecided;

impl GuardBuilder<WantsAuth> {
    pub(super) fn new() -> Self {
        Self {
            layers: Vec::new(),
            limits: Limits::default(),
            transport: None,
            origin: None,
            rate_limit: None,
            liveness: Liveness::default(),
            caps: ConnectionCaps::default(),
            auth: None,
            clock: Arc::new(SystemClock),
            websocket_config: WebSocketConfig::default().read_buffer_size(DEFAULT_READ_BUFFER),
            handshake_rejection: HandshakeRejection::default(),
            close_code_overrides: Vec::new(),
            audit: AuditIdentities::default(),
            proxies: None,
            trees: [false; 2],
            state: PhantomData,
        }
    }

    /// Authenticates every connection with `authenticator`. It runs after
    /// the transport and origin checks and before the builder's layers, so
    /// they see the principal.
    pub fn with_authenticator(mut self, authenticator: Authenticator) -> GuardBuilder<AuthDecided> {
        self.auth = Some(authenticator);
        self.decided()
    }

    /// Accepts connections without authentication: every session's
    /// principal stays `None` unless your own layer sets it.
    pub fn without_auth(self) -> GuardBuilder<AuthDecided> {
        self.decided()
    }

    fn decided(self) -> GuardBuilder<AuthDecided> {
        GuardBuilder {
            layers: self.layers,
            limits: self.limits,
            transport: self.transport,
            origin: self.origin,
            rate_limit: self.rate_limit,
            liveness: self.liveness,
            caps: self.caps,
            auth: self.auth,
            clock: self.clock,
            websocket_config: self.websocket_config,
            handshake_rejection: self.handshake_rejection,
            close_code_overrides: self.close_code_overrides,
            audit: self.audit,
            proxies: self.proxies,
            trees: self.trees,
            state: PhantomData,
        }
    }
}

impl<State> GuardBuilder<State> {
    /// Appends a layer. Layers run in the order they are added.
    pub fn layer(self, layer: impl Layer) -> Self {
        self.shared_layer(Arc::new(layer))
    }

    /// Appends a layer that is already shared, e.g. one chosen at run time
    /// from configuration.
    pub fn shared_layer(mut self, layer: Arc<dyn Layer>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Appends `layer` if it is `Some`.
    pub fn option_layer(self, layer: Option<impl Layer>) -> Self {
        match layer {
            Some(layer) => self.layer(layer),
            None => self,
        }
    }

    /// Appends JSON Schema validation (a shortcut for [`layer`](Self::layer)).
    /// Add it before layers that read the message's JSON, so that it keeps
    /// parser bombs away from them. Added this way, the guard knows that
    /// every inbound message's tree gets built, so layers before it read
    /// the message type from that tree instead of reading the text twice
    /// (see [`Frame::message_type`](crate::Frame::message_type)).
    pub fn json_schema(mut self, validation: SchemaValidation) -> Self {
        for direction in [Direction::Inbound, Direction::Outbound] {
            self.trees[direction.index()] |= validation.builds_tree(direction);
        }
        self.layer(validation)
    }

    /// Appends role-based access control (a shortcut for [`layer`](Self::layer)).
    /// Add it after authentication (it reads the principal's roles) and
    /// after schema validation. Plain rules read only the message type;
    /// templated and field rules need the tree, which the guard then
    /// builds once for the direction they apply to.
    pub fn rbac(mut self, rbac: Rbac) -> Self {
        for direction in [Direction::Inbound, Direction::Outbound] {
            self.trees[direction.index()] |= rbac.builds_tree(direction);
        }
        self.layer(rbac)
    }

    /// Adds rate limiting, placed before authentication: its per-IP
    /// handshake quota refuses floods before any token is checked, and its
    /// message quotas run right after the transport and origin checks,
    /// before the authenticator's message hook and the builder's layers.
    /// (Added with [`layer`](Self::layer) instead, it would run after
    /// authentication, in the order added.) Calling it again replaces it.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Appends the PII scrubber (a shortcut for [`layer`](Self::layer)). Add
    /// it last: it should see outbound messages after every other layer
    /// has rewritten them, and costs the most per byte.
    pub fn scrub_pii(self, scrubber: Scrubber) -> Self {
        self.layer(scrubber)
    }

    /// Replaces the heartbeat and connection timeouts of the tokio adapter.
    pub fn liveness(mut self, liveness: Liveness) -> Self {
        self.liveness = liveness;
        self
    }

    /// Replaces the size and time limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Requires TLS (directly or through trusted proxies). Runs right after
    /// the limits.
    pub fn transport(mut self, policy: TransportPolicy) -> Self {
        self.transport = Some(policy);
        self
    }

    /// Checks the `Origin` header against an allow-list. Runs after the
    /// transport policy, before authentication.
    pub fn origin(mut self, policy: OriginPolicy) -> Self {
        self.origin = Some(policy);
        self
    }

    /// Replaces the concurrent-connection caps.
    pub fn connection_caps(mut self, caps: ConnectionCaps) -> Self {
        self.caps = caps;
        self
    }

    /// Replaces the clock (use [`ManualClock`](crate::time::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the tungstenite configuration. Its message and frame sizes
    /// are lowered to the [`Limits`] if they are larger.
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.websocket_config = config;
        self
    }

    /// Chooses how refused handshakes are answered.
    pub fn handshake_rejection(mut self, mode: HandshakeRejection) -> Self {
        self.handshake_rejection = mode;
        self
    }

    /// Believes the forwarding headers of these proxies: the client's
    /// address (for caps, rate limits, audit and the session) and protocol
    /// come from `Forwarded` or `X-Forwarded-For` when the peer is one of
    /// them. See [`TrustedProxies`].
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = Some(proxies);
        self
    }

    /// Chooses how audit events name principals and peers: pseudonymised
    /// by default (see [`AuditIdentities`]).
    pub fn audit_identities(mut self, identities: AuditIdentities) -> Self {
        self.audit = identities;
        self
    }

    /// Overrides the close code sent for one kind of rejection.
    pub fn close_code(mut self, kind: RejectionKind, code: CloseCode) -> Self {
        self.close_code_overrides.retain(|(k, _)| *k != kind);
        self.close_code_overrides.push((kind, code));
        self
    }
}

impl GuardBuilder<AuthDecided> {
    /// Validates the configuration and builds the guard.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidLimit`] for an unusable limit or cap,
    /// [`ConfigError::UnsendableCloseCode`] for a close-code override that
    /// may not be sent on the wire, and [`ConfigError::Auth`] for cookie
    /// authentication without an [`origin`](Self::origin) policy.
    pub fn build(self) -> Result<Guard, ConfigError> {
        self.limits.validate()?;
        self.caps.validate()?;
        if let Some((_, code)) = self.close_code_overrides.iter().find(|(_, c)| !c.is_sendable()) {
            return Err(ConfigError::UnsendableCloseCode { code: code.get() });
        }
        if self.auth.as_ref().is_some_and(Authenticator::uses_cookies) && self.origin.is_none() {
            return Err(ConfigError::Auth {
                reason: "cookie credentials need an origin policy (cross-site hijacking)",
            });
        }
        let limits = Arc::new(self.limits);
        let mut layers: Vec<Arc<dyn Layer>> = vec![limits.clone()];
        layers.extend(self.transport.map(|l| Arc::new(l) as Arc<dyn Layer>));
        layers.extend(self.origin.map(|l| Arc::new(l) as Arc<dyn Layer>));
        layers.extend(self.rate_limit.map(|l| Arc::new(l) as Arc<dyn Layer>));
        let pre_auth = layers.len();
        layers.extend(self.auth.as_ref().map(|a| Arc::new(a.layer()) as Arc<dyn Layer>));
        layers.extend(self.layers);
        Ok(Guard {
            inner: Arc::new(Inner {
                layers,
                pre_auth,
                limits,
                liveness: self.liveness,
                auth: self.auth,
                registry: SessionRegistry::new(self.caps),
                clock: self.clock,
                websocket_config: self.websocket_config,
                handshake_rejection: self.handshake_rejection,
                close_code_overrides: self.close_code_overrides,
                audit: self.audit,
                proxies: self.proxies,
                trees: self.trees,
                next_id: AtomicU64::new(1),
                metrics: crate::metrics::Metrics::default(),
            }),
        })
    }
}
