//! What a layer decides about a message, and the error reply it may send.

use std::borrow::Cow;
use std::time::Duration;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::rejection::Rejection;

/// A layer's decision about one message.
#[must_use]
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Let the message through (possibly rewritten) to the next layer.
    Pass,
    /// Drop the message. With a reply, the peer gets it as a text message
    /// and the connection stays open.
    Drop {
        /// The error reply to send, if any.
        reply: Option<ErrorReply>,
    },
    /// Close the connection with the rejection's close code and reason.
    Close(Rejection),
}

impl Outcome {
    /// Drop the message and answer with `reply`.
    pub fn drop_with(reply: ErrorReply) -> Self {
        Self::Drop { reply: Some(reply) }
    }

    /// Drop the message silently.
    pub fn drop_silently() -> Self {
        Self::Drop { reply: None }
    }

    /// Whether this is [`Outcome::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, Self::Pass)
    }
}

/// The error reply a layer sends when it drops a message.
///
/// One JSON shape for every layer:
///
/// ```json
/// {"type":"error","code":"rate_limited","message":"too many messages","retry_after_ms":250}
/// ```
///
/// `type` is always `"error"`; `code` is one of the stable codes below (or an
/// application's own); `message` is short human text that never echoes the
/// offending value; extra fields follow.
///
/// | code | meaning | extra fields |
/// |------|---------|--------------|
/// | `invalid_message` | failed validation | `path`: JSON pointer of the failure |
/// | `unknown_type` | no rule for this message type | |
/// | `forbidden` | not allowed for this principal | |
/// | `rate_limited` | over quota | `retry_after_ms` |
/// | `unauthenticated` | authentication required | |
/// | `too_large` | over a size limit | |
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorReply {
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    fields: Vec<(Cow<'static, str>, Value)>,
}

impl ErrorReply {
    /// A reply with `code` and a short `message`.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code: code.into(), message: message.into(), fields: Vec::new() }
    }

    /// `invalid_message`, with the JSON pointer that failed.
    pub fn invalid_message(path: impl Into<String>) -> Self {
        Self::new("invalid_message", "message failed validation").with_field("path", path.into())
    }

    /// `unknown_type`.
    pub fn unknown_type() -> Self {
        Self::new("unknown_type", "unknown message type")
    }

    /// `forbidden`.
    pub fn forbidden() -> Self {
        Self::new("forbidden", "not allowed")
    }

    /// `rate_limited`, with the delay in whole milliseconds (rounded up).
    pub fn rate_limited(retry_after: Duration) -> Self {
        let ms = retry_after.as_millis() + u128::from(!retry_after.subsec_nanos().is_multiple_of(1_000_000));
        Self::new("rate_limited", "too many messages")
            .with_field("retry_after_ms", u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// `unauthenticated`.
    pub fn unauthenticated() -> Self {
        Self::new("unauthenticated", "authentication required")
    }

    /// `too_large`.
    pub fn too_large() -> Self {
        Self::new("too_large", "message too large")
    }

    /// Adds an extra field. The keys `type`, `code` and `message` are reserved
    /// and ignored here.
    #[must_use]
    pub fn with_field(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        let key = key.into();
        if !matches!(&*key, "type" | "code" | "message") {
            self.fields.push((key, value.into()));
        }
        self
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The extra fields, in insertion order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (&**k, v))
    }

    /// The JSON text sent to the peer, with `type`, `code` and `message` first.
    pub fn to_json(&self) -> String {
        // Serializing strings and `Value`s into a `String` cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Serializes to the documented shape, fields in order: `type`, `code`,
/// `message`, then the extra fields.
impl Serialize for ErrorReply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3 + self.fields.len()))?;
        map.serialize_entry("type", "error")?;
        map.serialize_entry("code", &self.code)?;
        map.serialize_entry("message", &self.message)?;
        for (key, value) in &self.fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_json_has_the_documented_shape() {
        let reply = ErrorReply::rate_limited(Duration::from_micros(250_001));
        assert_eq!(
            reply.to_json(),
            r#"{"type":"error","code":"rate_limited","message":"too many messages","retry_after_ms":251}"#
        );
        let parsed: Value = serde_json::from_str(&ErrorReply::invalid_message("/room").to_json()).unwrap();
        assert_eq!(parsed["type"], "error");
        assert_eq!(parsed["code"], "invalid_message");
        assert_eq!(parsed["path"], "/room");
    }

    #[test]
    fn reserved_keys_cannot_be_overridden_and_strings_are_escaped() {
        let reply = ErrorReply::new("custom", "say \"hi\"").with_field("type", "not-error").with_field("n", 1);
        let parsed: Value = serde_json::from_str(&reply.to_json()).unwrap();
        assert_eq!(parsed["type"], "error");
        assert_eq!(parsed["message"], "say \"hi\"");
        assert_eq!(parsed["n"], 1);
    }
}
