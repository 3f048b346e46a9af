//! The limits layer: message, frame and handshake-head sizes, binary policy,
//! handshake timeout.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::layer::Layer;
use crate::message::Frame;
use crate::outcome::Outcome;
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// Size and time limits; every guard has them, at the front of the stack.
///
/// The sizes are enforced twice: by tungstenite while reading (the guard's
/// [`websocket_config`](crate::Guard::websocket_config) carries them, so an
/// oversized frame is refused from its header, before its payload is
/// buffered), and again by the layer, for applications that feed messages
/// to the guard by hand.
///
/// | field | default | outcome when exceeded |
/// |-------|---------|-----------------------|
/// | `max_message_size` | 64 KiB | close 1009 |
/// | `max_frame_size` | 64 KiB | close 1009 |
/// | `allow_binary` | `true` | close 1003 when `false` |
/// | `max_header_bytes` | 16 KiB | HTTP 431 |
/// | `handshake_timeout` | 10 s | HTTP 408 (blocking and tokio adapters) |
///
/// Why these defaults: see [`manual::defaults`](crate::manual::defaults).
///
/// Deserializes from e.g. `{"max_message_size": 1048576, "handshake_timeout_ms": 5000}`;
/// missing fields keep their defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message payload in bytes, after reassembly of fragments.
    /// Default: 65,536 (64 KiB).
    pub max_message_size: usize,
    /// Largest single frame payload in bytes. Default: 65,536 (64 KiB).
    pub max_frame_size: usize,
    /// Whether binary messages are accepted. Default: `true`.
    pub allow_binary: bool,
    /// Largest HTTP upgrade request head (request line and headers) in
    /// bytes. Default: 16,384 (16 KiB).
    pub max_header_bytes: usize,
    /// Time allowed from accepting the TCP connection to the end of the
    /// upgrade. Default: 10 seconds. Kept by the connection core and
    /// enforced by the blocking and tokio adapters (under axum, hyper reads
    /// the request head first and its own limits apply).
    #[serde(rename = "handshake_timeout_ms", with = "super::millis")]
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 64 * 1024,
            max_frame_size: 64 * 1024,
            allow_binary: true,
            max_header_bytes: 16 * 1024,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_frame_size`](Self::max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`allow_binary`](Self::allow_binary).
    #[must_use]
    pub fn allow_binary(mut self, allow: bool) -> Self {
        self.allow_binary = allow;
        self
    }

    /// Sets [`max_header_bytes`](Self::max_header_bytes).
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, reason| Err(ConfigError::InvalidLimit { name, reason });
        if self.max_message_size == 0 {
            return invalid("max_message_size", "must be at least 1 byte");
        }
        if self.max_frame_size == 0 {
            return invalid("max_frame_size", "must be at least 1 byte");
        }
        if self.max_header_bytes < 1024 {
            return invalid("max_header_bytes", "must be at least 1024 bytes");
        }
        if self.handshake_timeout.is_zero() {
            return invalid("handshake_timeout", "must be longer than zero");
        }
        Ok(())
    }
}

impl Limits {
    /// The rejection for a message over [`max_message_size`](Self::max_message_size)
    /// or a frame over [`max_frame_size`](Self::max_frame_size).
    pub(crate) fn too_large() -> Rejection {
        Rejection::new(RejectionKind::TooLarge, "message too large")
    }
}

impl Layer for Limits {
    fn name(&self) -> &'static str {
        "limits"
    }

    fn on_inbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
        if frame.len() > self.max_message_size {
            return Outcome::Close(Self::too_large());
        }
        if frame.is_binary() && !self.allow_binary {
            return Outcome::Close(Rejection::new(RejectionKind::UnsupportedData, "binary messages are not accepted"));
        }
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Guard;

    fn check(limits: &Limits, mut frame: Frame) -> Outcome {
        let guard = Guard::builder().without_auth().build().unwrap();
        let mut session = guard.new_session(None);
        limits.on_inbound(&mut frame, &mut session, Instant::now())
    }

    #[test]
    fn size_limit_is_inclusive() {
        let limits = Limits::default().max_message_size(10);
        assert_eq!(check(&limits, Frame::from_text("0123456789")), Outcome::Pass);
        let Outcome::Close(r) = check(&limits, Frame::from_text("0123456789a")) else { panic!("expected close") };
        assert_eq!(r.kind(), RejectionKind::TooLarge);
        assert_eq!(r.kind().wire().close_code.get(), 1009);
        let Outcome::Close(_) = check(&limits, Frame::from_binary(vec![0; 11])) else { panic!("binary counts too") };
    }

    #[test]
    fn binary_policy() {
        let open = Limits::default();
        assert_eq!(check(&open, Frame::from_binary(vec![1, 2, 3])), Outcome::Pass);
        let strict = Limits::default().allow_binary(false);
        let Outcome::Close(r) = check(&strict, Frame::from_binary(vec![1, 2, 3])) else { panic!("expected close") };
        assert_eq!(r.kind().wire().close_code.get(), 1003);
        assert_eq!(check(&strict, Frame::from_text("text is fine")), Outcome::Pass);
    }

    #[test]
    fn invalid_limits_are_config_errors() {
        for (limits, name) in [
            (Limits::default().max_message_size(0), "max_message_size"),
            (Limits::default().max_frame_size(0), "max_frame_size"),
            (Limits::default().max_header_bytes(100), "max_header_bytes"),
            (Limits::default().handshake_timeout(Duration::ZERO), "handshake_timeout"),
        ] {
            let err = Guard::builder().without_auth().limits(limits).build().unwrap_err();
            assert!(matches!(err, ConfigError::InvalidLimit { name: n, .. } if n == name), "{err}");
        }
    }

    #[test]
    fn limits_deserialize_with_defaults_and_refuse_unknown_fields() {
        let limits: Limits =
            serde_json::from_str(r#"{"max_message_size": 1024, "handshake_timeout_ms": 2500}"#).unwrap();
        assert_eq!(limits.max_message_size, 1024);
        assert_eq!(limits.handshake_timeout, Duration::from_millis(2500));
        assert_eq!(limits.max_frame_size, 64 * 1024);
        assert!(serde_json::from_str::<Limits>(r#"{"max_mesage_size": 1}"#).is_err());
        let round: Limits = serde_json::from_str(&serde_json::to_string(&limits).unwrap()).unwrap();
        assert_eq!(round, limits);
    }
}
