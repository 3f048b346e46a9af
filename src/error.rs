//! Runtime errors ([`Error`]) and build-time errors ([`ConfigError`]).

use std::fmt;
use std::io;

use crate::rejection::Rejection;

/// An error from a guarded socket.
///
/// Every variant is something the caller can act on: a rejection carries
/// the [`Rejection`] that was sent to the peer (as an HTTP status or a close
/// code), so the application can log it without parsing strings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The handshake was refused; the peer got the rejection's HTTP status
    /// (or, in accept-then-close mode, its close code).
    #[error("handshake rejected ({0})")]
    HandshakeRejected(Box<Rejection>),
    /// A layer closed the connection; the peer got the rejection's close code.
    ///
    /// The close frame has been sent. You may keep reading to complete the
    /// closing handshake, or drop the socket.
    #[error("connection closed by the guard ({0})")]
    Closed(Box<Rejection>),
    /// The connection is closed (the closing handshake completed).
    #[error("connection closed")]
    ConnectionClosed,
    /// The socket was used after [`Error::ConnectionClosed`]; a program error.
    #[error("connection already closed")]
    AlreadyClosed,
    /// An I/O error from the underlying stream.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the WebSocket protocol, or tungstenite reported
    /// another error.
    #[error("websocket error: {0}")]
    WebSocket(#[source] WebSocketError),
    /// The store that shares rate limits across instances (Redis) could
    /// not be reached; see [`rate_limit`](crate::rate_limit) for what the
    /// limits do meanwhile.
    #[error("rate-limit store unavailable: {0}")]
    RateLimitStore(#[source] StoreError),
}

impl Error {
    /// The rejection behind this error, if the guard refused something.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::HandshakeRejected(r) | Self::Closed(r) => Some(r),
            _ => None,
        }
    }

    /// tungstenite's error: `ConnectionClosed` and `AlreadyClosed` as ours,
    /// I/O errors as [`Error::Io`], the rest opaque.
    pub(crate) fn from_tungstenite(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::ConnectionClosed => Self::ConnectionClosed,
            tungstenite::Error::AlreadyClosed => Self::AlreadyClosed,
            tungstenite::Error::Io(e) => Self::Io(e),
            other => Self::WebSocket(WebSocketError(Box::new(other))),
        }
    }

    /// An error of another WebSocket implementation (axum's socket).
    #[cfg(feature = "axum")]
    pub(crate) fn from_other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::WebSocket(WebSocketError(Box::new(error)))
    }
}

impl From<tungstenite::Error> for Error {
    fn from(error: tungstenite::Error) -> Self {
        Self::from_tungstenite(error)
    }
}

/// An opaque protocol-level error from the WebSocket implementation.
///
/// Kept opaque so that this crate's API does not change with tungstenite's
/// (or axum's).
pub struct WebSocketError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Debug for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for WebSocketError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// An opaque error from a rate-limit store (the Redis client's error,
/// kept opaque so that this crate's API does not change with it).
pub struct StoreError(pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// An invalid configuration, reported by
/// [`GuardBuilder::build`](crate::GuardBuilder::build).
///
/// # Construction failure
///
/// A guard built from constants in code either always fails or never does,
/// so `build().expect(..)` is reasonable there. A guard built from a
/// configuration file should report the error to the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit has a value that cannot work.
    #[error("invalid limit `{name}`: {reason}")]
    InvalidLimit {
        /// The field name, as in [`Limits`](crate::layer::Limits).
        name: &'static str,
        /// Why the value is refused.
        reason: &'static str,
    },
    /// A close-code override names a code that may not be sent on the wire.
    #[error("close code {code} may not be sent (allowed: 1000-1003, 1007-1014, 3000-4999)")]
    UnsendableCloseCode {
        /// The refused code.
        code: u16,
    },
    /// An origin pattern of an [`OriginPolicy`](crate::layer::OriginPolicy) is malformed.
    #[error("invalid origin pattern `{pattern}`: {reason}")]
    InvalidOrigin {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A network (`10.0.0.0/8`, `::1`) is malformed.
    #[error("invalid network `{network}`: expected an IP address or address/prefix")]
    InvalidNetwork {
        /// The text as given.
        network: String,
    },
    /// The authentication settings contradict each other.
    #[error("invalid authentication setup: {reason}")]
    Auth {
        /// What is wrong.
        reason: &'static str,
    },
    /// A JSON pointer in the configuration is malformed.
    #[error("invalid json pointer `{pointer}`: {reason}")]
    InvalidPointer {
        /// The pointer as given.
        pointer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A JSON Schema (or a schema directory) cannot be used.
    #[error("invalid schema `{name}`: {reason}")]
    Schema {
        /// Which schema: its message type, `default`, `outbound:<type>`,
        /// a resource URI or a file path.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An RBAC policy is inconsistent.
    #[error("invalid rbac policy, {item}: {reason}")]
    Rbac {
        /// What is wrong: a role, rule or field rule, by name.
        item: String,
        /// Why.
        reason: String,
    },
    /// A PII scrubber setting is unusable.
    #[error("invalid pii scrubber setup, {item}: {reason}")]
    Pii {
        /// What is wrong: a kind, detector or setting, by name.
        item: String,
        /// Why.
        reason: String,
    },
    /// A rate-limit setting is unusable.
    #[error("invalid rate limit setup: {reason}")]
    RateLimit {
        /// Why (never a URL's password).
        reason: String,
    },
    /// A JWT key, key set or validation setting is unusable.
    #[error("invalid jwt setup: {reason}")]
    Jwt {
        /// What is wrong (never key material).
        reason: String,
    },
    /// A field of a [`GuardConfig`](crate::config::GuardConfig) is
    /// malformed or cannot be read.
    #[error("{path}: {reason}")]
    Invalid {
        /// The field's path, e.g. `rate_limit.quotas[2].quota.burst`
        /// (empty for the top level).
        path: String,
        /// What is wrong (the deserializer's message, never a secret's value).
        reason: String,
    },
    /// A section of a [`GuardConfig`](crate::config::GuardConfig) that
    /// deserialized but does not build.
    #[error("{path}: {source}")]
    At {
        /// The section's or field's path, e.g. `rbac` or `origin.allow`.
        path: String,
        /// The layer's own error.
        source: Box<ConfigError>,
    },
}
