//! [`Discriminator`]: where a JSON message names its type.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConfigError;

/// The JSON pointer to a message's type, such as `/type` in
/// `{"type":"chat",...}` or `/meta/kind` in `{"meta":{"kind":"chat"}}`.
///
/// Schema validation routes on it; RBAC and rate limiting read the same
/// pointer, so one message has one type across the stack. Only string
/// values count: a number, object or missing field has no type.
///
/// Default: `/type`. Deserializes from the pointer text.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use wsguard::layer::Discriminator;
///
/// let by_action = Discriminator::new("/action")?;
/// assert_eq!(by_action.message_type(&json!({"action": "join"})), Some("join"));
/// assert_eq!(Discriminator::default().message_type(&json!({"type": 7})), None);
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Discriminator {
    pointer: String,
    /// The unescaped key when the pointer has one segment: a map lookup
    /// instead of a pointer walk on the hot path.
    field: Option<String>,
}

impl Discriminator {
    /// A discriminator at `pointer` (RFC 6901: empty, or starting with `/`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPointer`] if `pointer` is not a JSON pointer to
    /// a field (the empty pointer, the whole message, is refused too).
    pub fn new(pointer: impl Into<String>) -> Result<Self, ConfigError> {
        let pointer = pointer.into();
        if !pointer.starts_with('/') {
            return Err(ConfigError::InvalidPointer { pointer, reason: "must start with `/`" });
        }
        let segments = &pointer[1..];
        let field = (!segments.contains('/')).then(|| unescape_segment(segments));
        Ok(Self { pointer, field })
    }

    /// The pointer text.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The message type of `value`: the string at the pointer, if any.
    pub fn message_type<'v>(&self, value: &'v Value) -> Option<&'v str> {
        match &self.field {
            Some(field) => value.get(field),
            None => value.pointer(&self.pointer),
        }
        .and_then(Value::as_str)
    }
}

/// One JSON pointer segment as the key it names (RFC 6901: `~1` is `/`,
/// `~0` is `~`).
pub(crate) fn unescape_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

impl Default for Discriminator {
    fn default() -> Self {
        Self { pointer: "/type".into(), field: Some("type".into()) }
    }
}

impl fmt::Debug for Discriminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Discriminator").field(&self.pointer).finish()
    }
}

impl TryFrom<String> for Discriminator {
    type Error = ConfigError;
    fn try_from(pointer: String) -> Result<Self, ConfigError> {
        Self::new(pointer)
    }
}

impl From<Discriminator> for String {
    fn from(d: Discriminator) -> String {
        d.pointer
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_a_top_level_field_a_nested_pointer_and_escaped_keys() {
        let message = json!({"type": "chat", "meta": {"kind": "join"}, "a/b": "slash", "t~": "tilde"});
        assert_eq!(Discriminator::default().message_type(&message), Some("chat"));
        assert_eq!(Discriminator::new("/meta/kind").unwrap().message_type(&message), Some("join"));
        assert_eq!(Discriminator::new("/a~1b").unwrap().message_type(&message), Some("slash"));
        assert_eq!(Discriminator::new("/t~0").unwrap().message_type(&message), Some("tilde"));
    }

    #[test]
    fn non_strings_and_missing_fields_have_no_type() {
        let d = Discriminator::default();
        for message in [json!({"type": 1}), json!({"type": null}), json!({"kind": "x"}), json!(["type"]), json!("type")]
        {
            assert_eq!(d.message_type(&message), None, "{message}");
        }
    }

    #[test]
    fn refuses_pointers_that_do_not_name_a_field() {
        for bad in ["", "type", "#/type"] {
            assert!(matches!(Discriminator::new(bad), Err(ConfigError::InvalidPointer { .. })), "{bad:?}");
        }
        let parsed: Discriminator = serde_json::from_str(r#""/action""#).unwrap();
        assert_eq!(parsed.pointer(), "/action");
        assert!(serde_json::from_str::<Discriminator>(r#""action""#).is_err());
    }
}
