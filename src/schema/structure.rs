//! [`StructureLimits`]: depth, string, array and object bounds, checked by
//! one linear scan of the text before it is parsed.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Bounds on the shape of a JSON message, checked before it is parsed.
///
/// A message within the size limit can still be a bomb: 65,000 nested
/// arrays, or a million-key object that costs far more memory parsed than
/// as text. The check is one pass over the bytes with no recursion and no
/// allocation beyond one entry per open container (at most `max_depth`), so
/// a refused message is never parsed at all.
///
/// A refusal is an `invalid_message` reply whose `keyword` names the bound
/// in JSON Schema's words and whose `path` points at the offending
/// container or string.
///
/// | field | default | `keyword` when exceeded |
/// |-------|---------|-------------------------|
/// | `max_depth` | 32 | `maxDepth` |
/// | `max_string_bytes` | 16,384 | `maxLength` |
/// | `max_array_len` | 1,024 | `maxItems` |
/// | `max_object_keys` | 256 | `maxProperties` |
///
/// With these bounds, parsing never allocates more than about 20 times the
/// message size (a `serde_json::Value` is 32 bytes and each needs at least
/// two bytes of input; an object entry adds a `String` and a map node).
///
/// Deserializes from e.g. `{"max_depth": 16}`; missing fields keep their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StructureLimits {
    /// Deepest nesting of arrays and objects; the top-level container is
    /// depth 1. Default: 32.
    pub max_depth: usize,
    /// Longest string (keys included), in bytes as written, escapes
    /// included. Default: 16,384 (16 KiB).
    pub max_string_bytes: usize,
    /// Most elements in one array. Default: 1,024.
    pub max_array_len: usize,
    /// Most keys in one object. Default: 256.
    pub max_object_keys: usize,
}

impl Default for StructureLimits {
    fn default() -> Self {
        Self { max_depth: 32, max_string_bytes: 16 * 1024, max_array_len: 1024, max_object_keys: 256 }
    }
}

impl StructureLimits {
    /// Sets [`max_depth`](Self::max_depth).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`max_string_bytes`](Self::max_string_bytes).
    #[must_use]
    pub fn max_string_bytes(mut self, bytes: usize) -> Self {
        self.max_string_bytes = bytes;
        self
    }

    /// Sets [`max_array_len`](Self::max_array_len).
    #[must_use]
    pub fn max_array_len(mut self, len: usize) -> Self {
        self.max_array_len = len;
        self
    }

    /// Sets [`max_object_keys`](Self::max_object_keys).
    #[must_use]
    pub fn max_object_keys(mut self, keys: usize) -> Self {
        self.max_object_keys = keys;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let fields = [
            ("max_depth", self.max_depth),
            ("max_string_bytes", self.max_string_bytes),
            ("max_array_len", self.max_array_len),
            ("max_object_keys", self.max_object_keys),
        ];
        match fields.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(ConfigError::InvalidLimit { name, reason: "must be at least 1" }),
            None => Ok(()),
        }
    }

    /// Scans `text` and reports the first bound it breaks.
    ///
    /// The scan does not validate JSON (the parser does, afterwards); on
    /// text that is not JSON it still ends, in one pass, with some answer.
    pub(crate) fn check(&self, text: &str) -> Result<(), Violation> {
        let bytes = text.as_bytes();
        let mut stack: Vec<Level> = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let byte = bytes[i];
            if let Some(top) = stack.last_mut() {
                if top.count == 0 && !matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b']' | b'}') {
                    top.count = 1;
                }
            }
            match byte {
                b'"' => {
                    let start = i + 1;
                    let end = string_end(bytes, start);
                    let in_key = stack.last().is_some_and(|top| top.object && top.expect_key);
                    if end - start > self.max_string_bytes {
                        let path = if in_key {
                            pointer(text, &stack, stack.len() - 1)
                        } else {
                            pointer(text, &stack, stack.len())
                        };
                        return Err(Violation { keyword: "maxLength", path });
                    }
                    if in_key {
                        if let Some(top) = stack.last_mut() {
                            top.key = (start, end);
                        }
                    }
                    i = end + 1;
                    continue;
                }
                b'[' | b'{' => {
                    if stack.len() == self.max_depth {
                        return Err(Violation { keyword: "maxDepth", path: pointer(text, &stack, stack.len()) });
                    }
                    stack.push(Level { object: byte == b'{', expect_key: byte == b'{', count: 0, key: (0, 0) });
                }
                b']' | b'}' => {
                    stack.pop();
                }
                b',' => {
                    if let Some(top) = stack.last_mut() {
                        top.count += 1;
                        top.expect_key = top.object;
                        let (limit, keyword) = if top.object {
                            (self.max_object_keys, "maxProperties")
                        } else {
                            (self.max_array_len, "maxItems")
                        };
                        if top.count > limit {
                            return Err(Violation { keyword, path: pointer(text, &stack, stack.len() - 1) });
                        }
                    }
                }
                b':' => {
                    if let Some(top) = stack.last_mut() {
                        top.expect_key = false;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }
}

/// A broken structural bound: the JSON Schema keyword that names it and
/// the JSON pointer of the offending value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) keyword: &'static str,
    pub(crate) path: String,
}

/// One open array or object.
struct Level {
    object: bool,
    /// In an object: whether the next string is a key.
    expect_key: bool,
    /// Elements (or keys) seen so far, counting the current one.
    count: usize,
    /// In an object: the byte range of the current key, inside its quotes.
    key: (usize, usize),
}

/// The index of the quote that closes the string starting at `start`, or
/// the end of the input for an unterminated string.
fn string_end(bytes: &[u8], mut start: usize) -> usize {
    loop {
        match memchr::memchr2(b'"', b'\\', &bytes[start..]) {
            Some(offset) if bytes[start + offset] == b'\\' => start += offset + 2,
            Some(offset) => return start + offset,
            None => return bytes.len(),
        }
        if start >= bytes.len() {
            return bytes.len();
        }
    }
}

/// The JSON pointer of the current child of each of the first `depth`
/// levels. Built only when reporting a violation.
fn pointer(text: &str, stack: &[Level], depth: usize) -> String {
    let mut path = String::new();
    for level in &stack[..depth] {
        path.push('/');
        if level.object {
            let (start, end) = level.key;
            let raw = text.get(start..end).unwrap_or_default();
            // Keys with escapes are decoded; the quotes around `raw` make it a JSON string.
            let key = text
                .get(start.saturating_sub(1)..end + 1)
                .and_then(|quoted| serde_json::from_str::<String>(quoted).ok())
                .unwrap_or_else(|| raw.to_owned());
            path.push_str(&key.replace('~', "~0").replace('/', "~1"));
        } else {
            path.push_str(&level.count.saturating_sub(1).to_string());
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(limits: StructureLimits, text: &str) -> Result<(), (&'static str, String)> {
        limits.check(text).map_err(|v| (v.keyword, v.path))
    }

    #[test]
    fn ordinary_messages_pass() {
        let limits = StructureLimits::default();
        for text in [
            r#"{"type":"chat","room":"lobby","text":"hi [there] {you} \"quoted\" \\"}"#,
            r#"[1,2,[3,[4]],{"a":{"b":[]}}]"#,
            r#""just a string""#,
            "42",
            "",
            "not json at all [",
        ] {
            assert_eq!(check(limits, text), Ok(()), "{text}");
        }
    }

    #[test]
    fn depth_is_counted_with_the_top_level_as_one() {
        let limits = StructureLimits::default().max_depth(3);
        assert_eq!(check(limits, "[[[]]]"), Ok(()));
        assert_eq!(check(limits, r#"{"a":{"b":[1]}}"#), Ok(()));
        assert_eq!(check(limits, r#"{"a":{"b":[[1]]}}"#), Err(("maxDepth", "/a/b/0".into())));
        assert_eq!(check(limits, "[0,[1,[2,3,[]]]]"), Err(("maxDepth", "/1/1/2".into())));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let limits = StructureLimits::default().max_depth(1).max_array_len(1);
        assert_eq!(check(limits, r#"["[[[[,,,,{{{{\"]]]"]"#), Ok(()));
    }

    #[test]
    fn array_and_object_sizes_are_bounded() {
        let limits = StructureLimits::default().max_array_len(3).max_object_keys(2);
        assert_eq!(check(limits, "[1,2,3]"), Ok(()));
        assert_eq!(check(limits, "[ ]"), Ok(()));
        assert_eq!(check(limits, r#"{"x":[1,2,3,4]}"#), Err(("maxItems", "/x".into())));
        assert_eq!(check(limits, r#"{"a":1,"b":2}"#), Ok(()));
        assert_eq!(check(limits, r#"[{"a":1,"b":2,"c":3}]"#), Err(("maxProperties", "/0".into())));
        // Commas inside a nested container count for that container only.
        assert_eq!(check(limits, "[[1,2,3],[1,2,3],[1,2,3]]"), Ok(()));
    }

    #[test]
    fn long_strings_are_reported_at_their_value_or_container() {
        let limits = StructureLimits::default().max_string_bytes(4);
        assert_eq!(check(limits, r#"{"abcd":"wxyz"}"#), Ok(()));
        assert_eq!(check(limits, r#"{"a":["ok","12345"]}"#), Err(("maxLength", "/a/1".into())));
        assert_eq!(check(limits, r#"{"a":1,"12345":2}"#), Err(("maxLength", "".into())));
        // Escapes count as written: `\u00e9` is six bytes.
        assert_eq!(check(limits, r#"["\u00e9"]"#), Err(("maxLength", "/0".into())));
    }

    #[test]
    fn pointers_escape_and_decode_keys() {
        let limits = StructureLimits::default().max_array_len(1);
        assert_eq!(check(limits, r#"{"a/b~c":[1,2]}"#), Err(("maxItems", "/a~1b~0c".into())));
        assert_eq!(check(limits, r#"{"\u0041":[1,2]}"#), Err(("maxItems", "/A".into())));
    }

    #[test]
    fn a_hundred_thousand_nested_arrays_stop_at_the_limit() {
        let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let (keyword, path) = check(StructureLimits::default(), &bomb).unwrap_err();
        assert_eq!(keyword, "maxDepth");
        assert_eq!(path, "/0".repeat(32));
    }

    #[test]
    fn unterminated_strings_and_stray_closers_end_the_scan() {
        let limits = StructureLimits::default();
        for text in [r#"{"a":"unterminated"#, r#"["\"#, "]]]}}", r#"{"a":1}}}]"#] {
            assert_eq!(check(limits, text), Ok(()), "{text}");
        }
    }

    #[test]
    fn zero_bounds_are_refused() {
        assert!(StructureLimits::default().validate().is_ok());
        assert_eq!(
            StructureLimits::default().max_array_len(0).validate(),
            Err(ConfigError::InvalidLimit { name: "max_array_len", reason: "must be at least 1" })
        );
    }
}
