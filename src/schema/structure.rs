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
/// Within the default bounds and a 64 KiB message, parsing allocates at
/// most about 17 times the message size at its peak (a `serde_json::Value`
/// is 32 bytes and can come from two bytes of input, `0,`; an object entry
/// adds a `String` and a map node). `tests/alloc.rs` measures the worst
/// shapes and holds the bound at 24x.
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
        if self.cannot_break(text.as_bytes()) {
            return Ok(());
        }
        self.scan(text)
    }

    /// The full scan behind [`check`](Self::check).
    fn scan(&self, text: &str) -> Result<(), Violation> {
        // Up to 32 levels live on the stack: no allocation for the default depth.
        let mut inline = [Level::EMPTY; 32];
        let mut heap = Vec::new();
        let stack: &mut [Level] = if self.max_depth <= inline.len() {
            &mut inline[..self.max_depth]
        } else {
            heap.resize(self.max_depth, Level::EMPTY);
            &mut heap
        };
        let mut depth = 0;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    let start = i + 1;
                    let end = string_end(bytes, start);
                    let in_key = depth > 0 && stack[depth - 1].expect_key;
                    if end - start > self.max_string_bytes {
                        let path = pointer(text, &stack[..depth - usize::from(in_key)]);
                        return Err(Violation { keyword: "maxLength", path });
                    }
                    if in_key {
                        stack[depth - 1].key = (start as u32, end as u32);
                    }
                    i = end;
                }
                open @ (b'[' | b'{') => {
                    if depth == stack.len() {
                        return Err(Violation { keyword: "maxDepth", path: pointer(text, stack) });
                    }
                    stack[depth] = Level { object: open == b'{', expect_key: open == b'{', ..Level::EMPTY };
                    depth += 1;
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' if depth > 0 => {
                    let top = &mut stack[depth - 1];
                    top.commas += 1;
                    top.expect_key = top.object;
                    let (limit, keyword) = if top.object {
                        (self.max_object_keys, "maxProperties")
                    } else {
                        (self.max_array_len, "maxItems")
                    };
                    // A comma means at least two elements: commas + 1 of them.
                    if top.commas as usize >= limit {
                        return Err(Violation { keyword, path: pointer(text, &stack[..depth - 1]) });
                    }
                }
                b':' if depth > 0 => stack[depth - 1].expect_key = false,
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }
}

impl StructureLimits {
    /// Whether `bytes` is too small to break any bound, whatever its
    /// structure: a quick count that spares typical messages the full scan.
    ///
    /// Sound because every real opener and comma is one of the bytes
    /// counted (those inside strings only add to the count): no more
    /// openers than `max_depth` means no deeper nesting, fewer commas than
    /// a count limit means no container reaches it, and no string is
    /// longer than the whole text.
    fn cannot_break(&self, bytes: &[u8]) -> bool {
        if bytes.len() > self.max_string_bytes {
            return false;
        }
        let (mut openers, mut commas) = (0_usize, 0_usize);
        // Byte-sized counters over chunks that cannot overflow them: the
        // loop vectorizes.
        for chunk in bytes.chunks(255) {
            let (mut o, mut c) = (0_u8, 0_u8);
            for &b in chunk {
                o += u8::from(b == b'[') + u8::from(b == b'{');
                c += u8::from(b == b',');
            }
            openers += usize::from(o);
            commas += usize::from(c);
        }
        openers <= self.max_depth && commas < self.max_array_len.min(self.max_object_keys)
    }
}

/// A broken structural bound: the JSON Schema keyword that names it and
/// the JSON pointer of the offending value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) keyword: &'static str,
    pub(crate) path: String,
}

/// One open array or object.
#[derive(Clone, Copy)]
struct Level {
    object: bool,
    /// In an object: whether the next string is a key.
    expect_key: bool,
    /// Commas seen so far: the index of the current element. `u32` keeps
    /// a level at 16 bytes; a message has fewer than 4 Gi commas.
    commas: u32,
    /// In an object: the byte range of the current key, inside its quotes.
    key: (u32, u32),
}

impl Level {
    const EMPTY: Self = Self { object: false, expect_key: false, commas: 0, key: (0, 0) };
}

/// The index of the quote that closes the string starting at `start`, or
/// the end of the input for an unterminated string.
fn string_end(bytes: &[u8], mut start: usize) -> usize {
    while start < bytes.len() {
        start = next_quote_or_backslash(bytes, start);
        match bytes.get(start) {
            Some(b'\\') => start += 2,
            Some(_) => return start,
            None => break,
        }
    }
    bytes.len()
}

/// The index of the next `"` or `\` at or after `i`, or the end of the
/// input. Eight bytes at a time: strings are most of a message's bytes.
fn next_quote_or_backslash(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // The classic "has a zero byte" test: the lowest flagged byte is exact.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else { break };
        let word = u64::from_le_bytes(chunk);
        let found = zero_bytes(word ^ (ONES * u64::from(b'"'))) | zero_bytes(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\') {
        i += 1;
    }
    i
}

/// The JSON pointer of the current child of each level. Built only when
/// reporting a violation.
fn pointer(text: &str, levels: &[Level]) -> String {
    let mut path = String::new();
    for level in levels {
        path.push('/');
        if level.object {
            let (start, end) = (level.key.0 as usize, level.key.1 as usize);
            let raw = text.get(start..end).unwrap_or_default();
            // Keys with escapes are decoded; the quotes around `raw` make it a JSON string.
            let key = text
                .get(start.saturating_sub(1)..end + 1)
                .and_then(|quoted| serde_json::from_str::<String>(quoted).ok())
                .unwrap_or_else(|| raw.to_owned());
            path.push_str(&key.replace('~', "~0").replace('/', "~1"));
        } else {
            path.push_str(&level.commas.to_string());
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

    proptest::proptest! {
        /// The quick count never passes what the full scan refuses.
        #[test]
        fn the_quick_count_agrees_with_the_full_scan(
            text in r#"[\[\]{}",:\\a1 ]{0,80}"#,
            depth in 1_usize..6,
            items in 1_usize..6,
            string in 1_usize..40,
        ) {
            let limits = StructureLimits::default().max_depth(depth).max_array_len(items).max_object_keys(items).max_string_bytes(string);
            if limits.cannot_break(text.as_bytes()) {
                proptest::prop_assert_eq!(limits.scan(&text), Ok(()));
            }
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
