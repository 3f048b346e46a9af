//! [`Discriminator`]: where a JSON message names its type.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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
    /// Shared, so a frame can remember which pointer its cached type was
    /// read with without copying it.
    pointer: Arc<str>,
    /// Every segment, unescaped. One segment is looked up as a map key
    /// (`Value::get`), more are walked as a pointer.
    segments: Vec<String>,
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
        let segments: Vec<String> = pointer[1..].split('/').map(unescape_segment).collect();
        Ok(Self { pointer: pointer.into(), segments })
    }

    /// The pointer text.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The pointer text, shared (see [`Frame::message_type`](crate::Frame::message_type)).
    pub(crate) fn shared_pointer(&self) -> &Arc<str> {
        &self.pointer
    }

    /// The message type of `value`: the string at the pointer, if any.
    pub fn message_type<'v>(&self, value: &'v Value) -> Option<&'v str> {
        match self.segments.as_slice() {
            [field] => value.get(field),
            _ => value.pointer(&self.pointer),
        }
        .and_then(Value::as_str)
    }

    /// The message type of `text` read as JSON, without building its tree:
    /// what [`message_type`](Self::message_type) says of the parsed value,
    /// and an error exactly where parsing it would fail (the same parser
    /// reads every byte; numbers are parsed, escapes decoded, the last of
    /// duplicate keys wins). Allocates only to decode an escaped type.
    pub(crate) fn message_type_in<'t>(&self, text: &'t str) -> Result<Option<Cow<'t, str>>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let found = Seek { segments: &self.segments, arrays: self.segments.len() > 1 }.deserialize(&mut de)?;
        de.end()?;
        Ok(found)
    }
}

/// Walks a JSON value towards `segments`, reading (and so checking) all of
/// it: the string at the end of the path, if there is one.
struct Seek<'p> {
    segments: &'p [String],
    /// Whether segments index arrays (`Value::pointer` does, `Value::get`
    /// with one key does not).
    arrays: bool,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self.segments.is_empty().then_some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.segments.is_empty().then(|| Cow::Owned(v.to_owned())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(hit) = map.next_key_seed(KeyIs(self.segments.first().map(String::as_str)))? {
            if hit {
                // A later duplicate replaces the value, as in a parsed map.
                found = map.next_value_seed(Seek { segments: &self.segments[1..], arrays: self.arrays })?;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let index = match self.segments.first() {
            Some(segment) if self.arrays => array_index(segment),
            _ => None,
        };
        let mut found = None;
        let mut at = 0;
        loop {
            if Some(at) == index {
                match seq.next_element_seed(Seek { segments: &self.segments[1..], arrays: self.arrays })? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if seq.next_element::<Skip>()?.is_none() {
                break;
            }
            at += 1;
        }
        Ok(found)
    }
}

/// An array index as `Value::pointer` reads one: decimal digits, no sign,
/// no leading zero.
fn array_index(segment: &str) -> Option<usize> {
    if segment.starts_with('+') || (segment.starts_with('0') && segment.len() != 1) {
        return None;
    }
    segment.parse().ok()
}

/// Whether a map key is `want` (never, for `None`).
struct KeyIs<'p>(Option<&'p str>);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(self.0 == Some(key))
    }
}

/// Any JSON value, read as `Value` would read it (numbers parsed, so an
/// out-of-range one fails the same way) and then forgotten.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<IgnoredKey, Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A map key, read (escapes checked) and forgotten.
struct IgnoredKey;

impl<'de> Deserialize<'de> for IgnoredKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Skip).map(|_| IgnoredKey)
    }
}

/// One JSON pointer segment as the key it names (RFC 6901: `~1` is `/`,
/// `~0` is `~`).
pub(crate) fn unescape_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

impl Default for Discriminator {
    fn default() -> Self {
        Self { pointer: "/type".into(), segments: vec!["type".into()] }
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
        d.pointer.to_string()
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

    /// The type read from the text is the tree's, and there is none where
    /// the text does not parse (the `structure` fuzz target checks the same
    /// on arbitrary input).
    #[test]
    fn reading_the_text_agrees_with_the_parsed_tree() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let texts = [
            r#"{"type":"chat"}"#,
            r#"{"text":"a \"type\": here","type":"chat","n":[1,2.5e3,-0,{"type":"x"}]}"#,
            r#"{"type":"chat","type":"admin"}"#,
            r#"{"type":"chat","type":7}"#,
            r#"{"t\u0079pe":"escaped key"}"#,
            r#"{"type":"caf\u00e9 \"x\""}"#,
            r#"{"type":1}"#,
            r#"{"type":null}"#,
            r#"{"type":{"type":"nested"}}"#,
            r#"["chat",{"type":"x"}]"#,
            r#""type""#,
            r#"{"type":"chat"} trailing"#,
            r#"{"type":"chat",}"#,
            r#"{"type":"chat","n":1e999}"#,
            r#"{"type":"\ud800"}"#,
            r#"{"type":"chat","x":"\q"}"#,
            r#"{"type":"chat"#,
            r#"{"meta":{"kind":"join"},"meta":{"other":1}}"#,
            r#"{"meta":{"kind":"join"},"a/b":"slash","t~":"tilde","0":"zero"}"#,
            r#"[{"kind":"first"},{"kind":"second"}]"#,
            r#"{"a":{"b":"deep"},"list":[{"b":"x"},{"b":"y"}]}"#,
            &deep,
            "  {\"type\" : \"spaced\" }\n",
            "",
        ];
        let pointers =
            ["/type", "/meta/kind", "/a~1b", "/t~0", "/0", "/0/kind", "/1/kind", "/01/kind", "/a/b", "/list/1/b"];
        for pointer in pointers {
            let d = Discriminator::new(pointer).unwrap();
            for text in texts {
                let tree = serde_json::from_str::<Value>(text).ok();
                let expected = tree.as_ref().and_then(|v| d.message_type(v));
                let read = d.message_type_in(text);
                assert_eq!(read.is_ok(), tree.is_some(), "{pointer} in {text}: parses the same");
                assert_eq!(read.ok().flatten().as_deref(), expected, "{pointer} in {text}");
            }
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
