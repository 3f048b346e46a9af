//! One configuration for the whole guard: [`GuardConfig`].
//!
//! Every layer can come from one file, in whatever format your application
//! reads (TOML, JSON, YAML, ... through its serde crate):
//!
//! ```
//! use wsguard::config::GuardConfig;
//!
//! let text = r#"
//!     handshake_rejection = "accept_then_close"
//!
//!     [auth]
//!     protocol = "bearer."
//!     static_tokens = [ # the sha256 of "alice-token": the file holds no token
//!         { sha256 = "9c220f200955d76c0a38d308225e0ef10c5f971acaf2f8d1d8f732affa5bd1dc", id = "alice", roles = ["user"] },
//!     ]
//!
//!     [origin]
//!     allow = ["https://chat.example.com"]
//!
//!     [limits]
//!     max_message_size = 16384
//!
//!     [rate_limit]
//!     quotas = [{ quota = { per_second = 5, burst = 10 }, unit = "messages", per = "connection" }]
//!
//!     [schema.types.chat]
//!     type = "object"
//!     required = ["type", "text"]
//!     properties = { type = {}, text = { type = "string", maxLength = 2000 } }
//!
//!     [rbac.roles]
//!     user = ["chat:send"]
//!     [rbac.inbound]
//!     chat = "chat:send"
//!
//!     [pii]
//!     default_action = "mask"
//! "#;
//! let config = GuardConfig::from_deserializer(toml::Deserializer::parse(text)?)?;
//! let guard = wsguard::Guard::from_config(&config)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sections
//!
//! | key | type | absent |
//! |-----|------|--------|
//! | `auth` | [`AuthConfig`]: token sources and exactly one of `none = true`, `static_tokens`, `jwt` | required: authentication is never a default |
//! | `limits` | [`Limits`] | its defaults |
//! | `liveness` | [`Liveness`] | its defaults |
//! | `caps` | [`ConnectionCaps`] | its defaults |
//! | `origin` | [`OriginConfig`] | every origin allowed |
//! | `transport` | [`TransportConfig`] | plain text allowed |
//! | `trusted_proxies` | [`ProxiesConfig`] | no proxy trusted |
//! | `handshake_rejection` | `"http"` or `"accept_then_close"` | `"http"` |
//! | `rate_limit` | [`RateLimitBuilder`] | no quotas |
//! | `schema` | [`SchemaConfig`] | no validation |
//! | `rbac` | [`Policy`] | no RBAC |
//! | `pii` | [`ScrubberBuilder`] (its exemptions use the `rbac` policy) | no scrubbing |
//!
//! The layers run in the order of the crate's recommendation: limits,
//! transport, origin, authentication, rate limits, schema, RBAC, PII. Add
//! your own layers (and a custom verifier's guard) with
//! [`GuardConfig::builder`].
//!
//! # Errors name the field
//!
//! [`GuardConfig::from_deserializer`] and [`GuardConfig::builder`] report
//! [`ConfigError::At`] with the path of the offending field, e.g.
//! `rate_limit.quotas[2].quota.burst: invalid value: integer 0, expected a
//! nonzero u32`. Relative file paths (schemas, keys) are read from the
//! directory given to [`GuardConfig::base_dir`], or the current one.
//!
//! # Reloading
//!
//! A [`GuardHandle`](crate::GuardHandle) hands out the current guard; put
//! a guard built from a new configuration in it, and new connections get
//! it. Live connections keep the guard they were accepted with, to their
//! end (see the handle's docs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{Authenticator, FirstMessage, StaticTokens};
use crate::error::ConfigError;
use crate::guard::{AuthDecided, Guard, GuardBuilder, HandshakeRejection};
use crate::layer::{Limits, OriginPolicy, TransportPolicy, TrustedProxies};
use crate::liveness::Liveness;
use crate::pii::ScrubberBuilder;
use crate::rate_limit::RateLimitBuilder;
use crate::rbac::Policy;
use crate::registry::ConnectionCaps;
use crate::rejection::RejectionKind;
use crate::schema::{Draft, SchemaValidation, StructureLimits};
use crate::session::Principal;

/// The whole guard's configuration. See the [module docs](self) for the
/// sections and an example.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GuardConfig {
    /// Authentication (required).
    pub auth: AuthConfig,
    /// Size and time limits.
    #[serde(default)]
    pub limits: Limits,
    /// Heartbeat and connection timers.
    #[serde(default)]
    pub liveness: Liveness,
    /// Concurrent connection caps.
    #[serde(default)]
    pub caps: ConnectionCaps,
    /// The origin allow-list.
    #[serde(default)]
    pub origin: Option<OriginConfig>,
    /// "TLS required".
    #[serde(default)]
    pub transport: Option<TransportConfig>,
    /// Proxies whose forwarding headers name the client.
    #[serde(default)]
    pub trusted_proxies: Option<ProxiesConfig>,
    /// How refused handshakes are answered.
    #[serde(default)]
    pub handshake_rejection: HandshakeRejection,
    /// Message quotas.
    #[serde(default)]
    pub rate_limit: Option<RateLimitBuilder>,
    /// JSON Schema validation.
    #[serde(default)]
    pub schema: Option<SchemaConfig>,
    /// The RBAC policy.
    #[serde(default)]
    pub rbac: Option<Policy>,
    /// The PII scrubber.
    #[serde(default)]
    pub pii: Option<ScrubberBuilder>,
    /// Where relative file paths are read from.
    #[serde(skip)]
    base_dir: Option<PathBuf>,
}

/// `auth`: where tokens come from, and how they are verified (exactly one
/// of `none = true`, `static_tokens`, `jwt`).
///
/// Without any source, tokens are read from `Authorization: Bearer` and
/// the `bearer.` subprotocol, as [`AuthBuilder`](crate::auth::AuthBuilder)
/// does.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// No authentication: every connection is anonymous.
    #[serde(default)]
    pub none: bool,
    /// Read `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_header: bool,
    /// Read the token from a subprotocol starting with this prefix.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Read the token from this cookie (requires `origin`).
    #[serde(default)]
    pub cookie: Option<String>,
    /// Accept the token in a first message of this shape.
    #[serde(default)]
    pub first_message: Option<FirstMessage>,
    /// Accept new tokens during the connection.
    #[serde(default)]
    pub reauth: bool,
    /// Static tokens, by their SHA-256 digest.
    #[serde(default)]
    pub static_tokens: Vec<StaticTokenConfig>,
    /// JWT verification (feature `jwt`).
    #[cfg(feature = "jwt")]
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// One static token: the SHA-256 of the token (64 hex digits; the file
/// never holds the token itself) and the principal it stands for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StaticTokenConfig {
    /// `sha256sum` of the token, hex.
    pub sha256: String,
    /// The principal's id.
    pub id: String,
    /// The principal's roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `auth.jwt`: the settings of [`JwtVerifier`](crate::auth::JwtVerifier).
#[cfg(feature = "jwt")]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JwtConfig {
    /// Accepted algorithms (`HS256`, `HS384`, `HS512`, `RS256`, `ES256`, `EdDSA`).
    pub algorithms: Vec<crate::auth::JwtAlgorithm>,
    /// Accepted issuers (`iss`); empty: not checked.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Accepted audiences (`aud`); empty: not checked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Clock leeway for `exp` and `nbf`, in milliseconds (default 30,000).
    #[serde(default)]
    pub leeway_ms: Option<u64>,
    /// The claim holding the roles (default `roles`).
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// Verification keys.
    pub keys: Vec<KeyConfig>,
}

/// One verification key or key set, read from a file or an environment
/// variable (secrets do not belong in configuration files).
#[cfg(feature = "jwt")]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KeyConfig {
    /// What the file or variable holds.
    pub format: KeyFormat,
    /// The key id (`kid`) for a single key.
    #[serde(default)]
    pub kid: Option<String>,
    /// Read from this file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Read from this environment variable.
    #[serde(default)]
    pub env: Option<String>,
    /// Fetch a JWK set from this `https://` URL and keep it fresh
    /// ([`Jwks`](crate::auth::Jwks) with its defaults; feature `jwks`).
    #[cfg(feature = "jwks")]
    #[serde(default)]
    pub url: Option<String>,
    /// Also trust this CA certificate (PEM file) for `url`.
    #[cfg(feature = "jwks")]
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// The format of a [`KeyConfig`].
#[cfg(feature = "jwt")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyFormat {
    /// An HMAC secret (raw bytes, at least 32).
    HmacSecret,
    /// An RSA public key, PEM.
    RsaPem,
    /// A P-256 public key, PEM.
    EcPem,
    /// An Ed25519 public key, PEM.
    EdPem,
    /// A JWK set (JSON).
    JwkSet,
}

/// `origin`: the allow-list of [`OriginPolicy`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OriginConfig {
    /// Allowed origins: `https://app.example.com`, `https://*.example.com`.
    pub allow: Vec<String>,
    /// Whether requests without `Origin` (non-browser clients) pass. Default `true`.
    #[serde(default = "yes")]
    pub allow_missing: bool,
}

/// `transport`: [`TransportPolicy`]. Forwarded `https` is read from the
/// `trusted_proxies`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Refuse plain-text connections (403).
    pub require_tls: bool,
    /// Refuse them with 426 instead of 403.
    #[serde(default)]
    pub upgrade_required: bool,
}

/// `trusted_proxies`: [`TrustedProxies`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ProxiesConfig {
    /// Proxy networks: `10.0.0.0/8`, `::1`.
    pub networks: Vec<String>,
    /// Expect a PROXY protocol header from them.
    #[serde(default)]
    pub proxy_protocol: bool,
}

/// `schema`: [`SchemaValidation`], with schemas inline or by file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SchemaConfig {
    /// The JSON Schema draft (default 2020-12).
    #[serde(default)]
    pub draft: Draft,
    /// Inbound schemas by message type.
    #[serde(default)]
    pub types: BTreeMap<String, SchemaSource>,
    /// Outbound schemas by message type.
    #[serde(default)]
    pub outbound: BTreeMap<String, SchemaSource>,
    /// A directory of `<type>.json` schemas.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Whether types without a schema pass (default: `unknown_type`).
    #[serde(default)]
    pub allow_unknown_types: bool,
    /// Structure limits checked before parsing.
    #[serde(default)]
    pub structure: StructureLimits,
    /// Most validation errors reported per message (default 5).
    #[serde(default)]
    pub max_errors: Option<usize>,
}

/// A schema written inline, or `{ file = "chat.json" }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SchemaSource {
    /// Read from a JSON file.
    File {
        /// The file's path.
        file: PathBuf,
    },
    /// The schema itself.
    Inline(serde_json::Value),
}

impl StaticTokenConfig {
    /// A token by its SHA-256 (hex), for principal `id` with `roles`.
    pub fn new<R: Into<String>>(
        sha256: impl Into<String>,
        id: impl Into<String>,
        roles: impl IntoIterator<Item = R>,
    ) -> Self {
        Self { sha256: sha256.into(), id: id.into(), roles: roles.into_iter().map(Into::into).collect() }
    }
}

fn yes() -> bool {
    true
}

/// `path: inner`, for errors of one section.
fn at(path: impl Into<String>, error: ConfigError) -> ConfigError {
    ConfigError::At { path: path.into(), source: Box::new(error) }
}

fn invalid(path: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { path: path.to_owned(), reason: reason.into() }
}

impl GuardConfig {
    /// Reads a configuration from any serde deserializer (`toml`,
    /// `serde_json`, `serde_yaml`, ...); an error names the offending
    /// field's path.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] with the path and the deserializer's message.
    pub fn from_deserializer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, ConfigError> {
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            ConfigError::Invalid { path, reason: e.into_inner().to_string() }
        })
    }

    /// Reads relative file paths (schemas, keys) from `dir`, e.g. the
    /// configuration file's directory.
    #[must_use]
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    fn path(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_owned(),
        }
    }

    fn read(&self, field: &str, path: &Path) -> Result<String, ConfigError> {
        std::fs::read_to_string(self.path(path))
            .map_err(|e| invalid(field, format!("cannot read {}: {}", path.display(), e.kind())))
    }

    /// A guard builder with every configured layer, to which you can add
    /// your own ([`GuardBuilder::layer`]) before [`build`](GuardBuilder::build).
    ///
    /// # Errors
    ///
    /// [`ConfigError::At`] (the section's or field's path, and the layer's
    /// own error) or [`ConfigError::Invalid`].
    pub fn builder(&self) -> Result<GuardBuilder<AuthDecided>, ConfigError> {
        let builder = match self.authenticator()? {
            Some(auth) => Guard::builder().with_authenticator(auth),
            None => Guard::builder().without_auth(),
        };
        let mut builder = builder
            .limits(self.limits.clone())
            .liveness(self.liveness)
            .connection_caps(self.caps)
            .handshake_rejection(self.handshake_rejection);
        if let Some(origin) = &self.origin {
            let policy = OriginPolicy::new(&origin.allow).map_err(|e| at("origin.allow", e))?;
            builder = builder.origin(policy.allow_missing(origin.allow_missing));
        }
        if let Some(proxies) = &self.trusted_proxies {
            let trusted = TrustedProxies::new(&proxies.networks).map_err(|e| at("trusted_proxies.networks", e))?;
            builder = builder.trusted_proxies(trusted.proxy_protocol(proxies.proxy_protocol));
        }
        if let Some(transport) = self.transport.as_ref().filter(|t| t.require_tls) {
            let networks = self.trusted_proxies.as_ref().map_or(&[][..], |p| &p.networks[..]);
            let mut policy = TransportPolicy::require_tls()
                .trust_proxies(networks)
                .map_err(|e| at("trusted_proxies.networks", e))?;
            if transport.upgrade_required {
                policy = policy.refuse_with(RejectionKind::UpgradeRequired);
            }
            builder = builder.transport(policy);
        }
        if let Some(rate_limit) = &self.rate_limit {
            builder = builder.rate_limit(rate_limit.build().map_err(|e| at("rate_limit", e))?);
        }
        if let Some(schema) = &self.schema {
            builder = builder.json_schema(self.schema(schema)?);
        }
        let rbac = self.rbac.as_ref().map(|p| p.build().map_err(|e| at("rbac", e))).transpose()?;
        if let Some(rbac) = &rbac {
            builder = builder.rbac(rbac.clone());
        }
        if let Some(pii) = &self.pii {
            let pii = match rbac {
                Some(rbac) => pii.clone().rbac(rbac),
                None => pii.clone(),
            };
            builder = builder.scrub_pii(pii.build().map_err(|e| at("pii", e))?);
        }
        Ok(builder)
    }

    fn schema(&self, config: &SchemaConfig) -> Result<SchemaValidation, ConfigError> {
        let mut builder = SchemaValidation::builder()
            .draft(config.draft)
            .allow_unknown_types(config.allow_unknown_types)
            .structure(config.structure);
        if let Some(max) = config.max_errors {
            builder = builder.max_errors(max);
        }
        if let Some(dir) = &config.dir {
            builder = builder.schema_dir(self.path(dir));
        }
        for (outbound, map) in [(false, &config.types), (true, &config.outbound)] {
            for (message_type, source) in map {
                let field = format!("schema.{}.{message_type}", if outbound { "outbound" } else { "types" });
                let schema = match source {
                    SchemaSource::Inline(schema) => schema.clone(),
                    SchemaSource::File { file } => serde_json::from_str(&self.read(&field, file)?)
                        .map_err(|e| invalid(&field, format!("{} is not JSON: {e}", file.display())))?,
                };
                builder = match outbound {
                    false => builder.schema(message_type.as_str(), schema),
                    true => builder.outbound_schema(message_type.as_str(), schema),
                };
            }
        }
        builder.build().map_err(|e| at("schema", e))
    }

    fn authenticator(&self) -> Result<Option<Authenticator>, ConfigError> {
        let auth = &self.auth;
        #[cfg(feature = "jwt")]
        let jwt = auth.jwt.is_some();
        #[cfg(not(feature = "jwt"))]
        let jwt = false;
        let chosen = usize::from(auth.none) + usize::from(!auth.static_tokens.is_empty()) + usize::from(jwt);
        if chosen != 1 {
            return Err(invalid("auth", "choose exactly one of `none = true`, `static_tokens` and `jwt`"));
        }
        if auth.none {
            return Ok(None);
        }
        let mut builder = Authenticator::builder().reauth(auth.reauth);
        if auth.bearer_header {
            builder = builder.bearer_header();
        }
        if let Some(prefix) = &auth.protocol {
            builder = builder.protocol(prefix.as_str());
        }
        if let Some(cookie) = &auth.cookie {
            builder = builder.cookie(cookie.as_str());
        }
        if let Some(shape) = &auth.first_message {
            builder = builder.first_message(shape.clone());
        }
        // Exactly one was chosen: without static tokens, JWT.
        #[cfg(feature = "jwt")]
        if auth.static_tokens.is_empty() {
            return builder.build(self.jwt()?).map(Some).map_err(|e| at("auth", e));
        }
        let mut tokens = StaticTokens::new();
        for (i, token) in auth.static_tokens.iter().enumerate() {
            let principal = Principal::new(token.id.as_str()).with_roles(token.roles.iter().map(String::as_str));
            tokens = tokens
                .token_sha256(&token.sha256, principal)
                .map_err(|e| at(format!("auth.static_tokens[{i}].sha256"), e))?;
        }
        builder.build(tokens).map(Some).map_err(|e| at("auth", e))
    }

    #[cfg(feature = "jwt")]
    fn jwt(&self) -> Result<crate::auth::JwtVerifier, ConfigError> {
        let Some(jwt) = &self.auth.jwt else { return Err(invalid("auth.jwt", "missing")) };
        let mut builder = crate::auth::JwtVerifier::builder().algorithms(jwt.algorithms.iter().copied());
        for issuer in &jwt.issuers {
            builder = builder.issuer(issuer.as_str());
        }
        for audience in &jwt.audiences {
            builder = builder.audience(audience.as_str());
        }
        if let Some(ms) = jwt.leeway_ms {
            builder = builder.leeway(std::time::Duration::from_millis(ms));
        }
        if let Some(claim) = &jwt.roles_claim {
            builder = builder.roles_claim(claim.as_str());
        }
        for (i, key) in jwt.keys.iter().enumerate() {
            let field = format!("auth.jwt.keys[{i}]");
            #[cfg(feature = "jwks")]
            if let Some(url) = &key.url {
                if key.format != KeyFormat::JwkSet || key.file.is_some() || key.env.is_some() {
                    return Err(invalid(&field, "a `url` is a `jwk_set`, without `file` or `env`"));
                }
                let mut jwks = crate::auth::Jwks::builder(url.as_str());
                if let Some(ca) = &key.ca_file {
                    jwks = jwks.root_certificate(self.read(&field, ca)?.as_bytes());
                }
                builder = builder.jwks(jwks.build().map_err(|e| at(&field, e))?);
                continue;
            }
            let material = match (&key.file, &key.env) {
                (Some(file), None) => self.read(&field, file)?,
                (None, Some(var)) => {
                    std::env::var(var).map_err(|_| invalid(&field, format!("environment variable {var} is not set")))?
                }
                _ => return Err(invalid(&field, "give exactly one of `file` and `env`")),
            };
            let kid = key.kid.as_deref();
            builder = match key.format {
                KeyFormat::HmacSecret => builder.hmac_secret(kid, material.trim_end_matches(['\r', '\n']).as_bytes()),
                KeyFormat::RsaPem => builder.rsa_pem(kid, material.as_bytes()),
                KeyFormat::EcPem => builder.ec_pem(kid, material.as_bytes()),
                KeyFormat::EdPem => builder.ed_pem(kid, material.as_bytes()),
                KeyFormat::JwkSet => builder.jwk_set(&material),
            };
        }
        builder.build().map_err(|e| at("auth.jwt", e))
    }
}

impl Guard {
    /// The guard a [`GuardConfig`] describes: `config.builder()?.build()`.
    ///
    /// # Errors
    ///
    /// As [`GuardConfig::builder`], and [`GuardBuilder::build`]'s.
    pub fn from_config(config: &GuardConfig) -> Result<Guard, ConfigError> {
        config.builder()?.build()
    }
}

#[cfg(test)]
mod tests;
