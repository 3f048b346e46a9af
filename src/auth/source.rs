//! Where tokens are found: request headers, cookies, the query string, or a
//! first message.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::layer::HandshakeRequest;
use crate::message::Frame;
use crate::session::Session;

/// One configured token source of the handshake.
#[derive(Clone)]
pub(crate) enum Source {
    Bearer,
    Protocol(String),
    Cookie(String),
    Query(String),
}

/// A token and the name of the source it came from.
pub(crate) struct Credential {
    pub(crate) token: String,
    pub(crate) source: &'static str,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer => f.write_str("Bearer"),
            Self::Protocol(prefix) => write!(f, "Protocol({prefix:?})"),
            Self::Cookie(name) => write!(f, "Cookie({name:?})"),
            Self::Query(name) => write!(f, "Query({name:?})"),
        }
    }
}

impl Source {
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Self::Bearer => false,
            Self::Protocol(s) | Self::Cookie(s) | Self::Query(s) => s.is_empty(),
        }
    }

    /// The name used in audit details.
    fn name(&self) -> &'static str {
        match self {
            Self::Bearer => "header",
            Self::Protocol(_) => "protocol",
            Self::Cookie(_) => "cookie",
            Self::Query(_) => "query",
        }
    }

    pub(crate) fn find(&self, request: &HandshakeRequest, session: &Session) -> Option<Credential> {
        let headers = request.headers();
        let values = |name| headers.get_all(name).into_iter().filter_map(|v| v.to_str().ok());
        let token = match self {
            Self::Bearer => values(http::header::AUTHORIZATION).find_map(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
            }),
            Self::Protocol(prefix) => {
                session.requested_protocols().iter().find_map(|p| p.strip_prefix(prefix.as_str())).map(str::to_owned)
            }
            Self::Cookie(name) => values(http::header::COOKIE).flat_map(|v| v.split(';')).find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name).then(|| value.trim_matches('"').to_owned())
            }),
            Self::Query(name) => request.uri().query()?.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (percent_decode(key)? == *name).then(|| percent_decode(value)).flatten()
            }),
        }?;
        (!token.is_empty()).then(|| Credential { token, source: self.name() })
    }
}

/// Decodes `%XX` escapes and `+`; `None` for malformed escapes or non-UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'%' => {
                let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            }
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// The default first-message deadline.
const DEFAULT_FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The shape of a first (or re-authentication) message, e.g.
/// `{"type":"auth","token":"..."}`, and its deadline.
///
/// | field | default |
/// |-------|---------|
/// | [`type_pointer`](Self::type_pointer) | `/type` |
/// | [`type_value`](Self::type_value) | `auth` |
/// | [`token_pointer`](Self::token_pointer) | `/token` |
/// | [`timeout`](Self::timeout) | 10 s |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wsguard::auth::FirstMessage;
///
/// // {"action":"login","credentials":{"jwt":"..."}} within 5 s
/// let shape = FirstMessage::default()
///     .type_pointer("/action")
///     .type_value("login")
///     .token_pointer("/credentials/jwt")
///     .timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FirstMessage {
    /// JSON pointer to the discriminator. Default `/type`.
    pub type_pointer: String,
    /// The discriminator's value for an auth message. Default `auth`.
    pub type_value: String,
    /// JSON pointer to the token string. Default `/token`.
    pub token_pointer: String,
    /// How long after the upgrade the auth message may arrive. Default 10 s.
    #[serde(with = "crate::layer::millis", rename = "timeout_ms")]
    pub timeout: Duration,
}

impl Default for FirstMessage {
    fn default() -> Self {
        Self {
            type_pointer: "/type".into(),
            type_value: "auth".into(),
            token_pointer: "/token".into(),
            timeout: DEFAULT_FIRST_MESSAGE_TIMEOUT,
        }
    }
}

impl FirstMessage {
    /// Sets the discriminator's pointer.
    #[must_use]
    pub fn type_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.type_pointer = pointer.into();
        self
    }

    /// Sets the discriminator's value.
    #[must_use]
    pub fn type_value(mut self, value: impl Into<String>) -> Self {
        self.type_value = value.into();
        self
    }

    /// Sets the token's pointer.
    #[must_use]
    pub fn token_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.token_pointer = pointer.into();
        self
    }

    /// Sets the deadline.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let pointer = |p: &str| p.starts_with('/');
        if !pointer(&self.type_pointer) || !pointer(&self.token_pointer) {
            return Err(ConfigError::Auth { reason: "first-message pointers must start with `/`" });
        }
        if self.type_value.is_empty() || self.timeout.is_zero() {
            return Err(ConfigError::Auth { reason: "first-message type value and timeout must not be empty" });
        }
        Ok(())
    }

    /// The token, if `frame` is an auth message. A message of the auth type
    /// without a string token yields an empty token, which no verifier
    /// accepts.
    pub(crate) fn token_in(&self, frame: &mut Frame) -> Option<String> {
        // Skip the JSON parse for the common case: the value cannot be there.
        if !frame.text()?.contains(self.type_value.as_str()) {
            return None;
        }
        let value = frame.json()?;
        if value.pointer(&self.type_pointer)?.as_str()? != self.type_value {
            return None;
        }
        Some(value.pointer(&self.token_pointer).and_then(|t| t.as_str()).unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(percent_decode("plain.jwt-token_1").as_deref(), Some("plain.jwt-token_1"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
