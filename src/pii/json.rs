//! Walking a frame's JSON text without building a tree.
//!
//! The scrubber reads the text as received: it finds string values and
//! their byte ranges, knows the key each value sits under, and leaves
//! everything else alone. Most frames have no personal data, so most
//! frames are never parsed into a `serde_json::Value` or re-serialized;
//! a frame with findings is rewritten by splicing the raw text, which
//! keeps the formatting of every untouched part.

use std::ops::Range;

use super::keys::KeyRules;

/// Where the JSON starts in a frame: at the first `{`, `[` or `"`, after a
/// Socket.IO packet prefix such as `42`, `42/chat,`, `431` or `451-` (a
/// binary event), or an Engine.IO v3 length prefix (`97:42`).
pub(crate) fn json_start(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    match s.get(i) {
        Some(b'{' | b'[' | b'"') => return Some(i),
        Some(c) if c.is_ascii_digit() => {}
        _ => return None,
    }
    let digits = |mut i: usize| {
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    i = digits(i);
    // Engine.IO v3 payload: `<length>:<packet>`.
    if s.get(i) == Some(&b':') {
        i = digits(i + 1);
    }
    // A binary event's attachment count: `451-`.
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    if s.get(i) == Some(&b'/') {
        i += s[i..].iter().position(|&c| c == b',')? + 1;
        i = digits(i);
    }
    matches!(s.get(i), Some(b'[' | b'{')).then_some(i)
}

/// A scalar the walker hands to the scrubber.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    /// A string's content (between the quotes), or a number's text.
    pub(crate) raw: Range<usize>,
    pub(crate) string: bool,
    /// The string has backslash escapes, so its text must be decoded.
    pub(crate) escaped: bool,
    /// The tag of the sensitive key this value is under, directly or
    /// through enclosing containers.
    pub(crate) key_tag: Option<usize>,
    /// What removing this value removes: `"key": value` in an object, the
    /// element in an array; `None` for a key or the top-level value.
    pub(crate) member: Option<Range<usize>>,
}

/// The JSON is malformed: scan the frame as plain text instead.
#[derive(Debug)]
pub(crate) struct Malformed;

#[derive(Clone, Copy, Default)]
struct Container {
    object: bool,
    tag: Option<usize>,
}

/// The open containers: the first [`INLINE`] levels without allocating
/// (nearly every frame), deeper ones on the heap.
struct Stack {
    inline: [Container; INLINE],
    len: usize,
    deeper: Vec<Container>,
}

const INLINE: usize = 16;

impl Stack {
    fn new() -> Self {
        Stack { inline: [Container::default(); INLINE], len: 0, deeper: Vec::new() }
    }

    fn push(&mut self, c: Container) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = c,
            None => self.deeper.push(c),
        }
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Container> {
        let top = self.last()?;
        if self.len > INLINE {
            self.deeper.pop();
        }
        self.len -= 1;
        Some(top)
    }

    fn last(&self) -> Option<Container> {
        match self.len {
            0 => None,
            n if n <= INLINE => Some(self.inline[n - 1]),
            n => self.deeper.get(n - INLINE - 1).copied(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Walks the JSON value at `start`, which must be the whole rest of `s`
/// (trailing whitespace allowed), calling `visit` for string values, for
/// numbers under sensitive keys and, with `keys_too`, for object keys.
pub(crate) fn walk(
    s: &[u8],
    start: usize,
    rules: &KeyRules,
    keys_too: bool,
    mut visit: impl FnMut(Scalar),
) -> Result<(), Malformed> {
    let mut stack = Stack::new();
    let mut i = start;
    // In an object: whether the next string is a key.
    let mut want_key = false;
    // The key's tag, the member start and the tag a container value would
    // take, for the value about to come.
    let mut pending: Option<(Option<usize>, usize, Option<usize>)> = None;
    // Whether the pending key's `:` has been read.
    let mut colon = false;
    // Whether the last token ended a value (a `,` or a closer may follow).
    let mut after_value = false;
    let mut done = false;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if done {
            return Err(Malformed);
        }
        let top = stack.last();
        let inherited = top.and_then(|c| c.tag);
        let in_array = top.is_some_and(|c| !c.object);
        // In an object, a value comes only after a key and its `:`.
        let value_ok = if top.is_some_and(|c| c.object) { pending.is_some() && colon } else { true };
        let is_value = matches!(c, b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') || (c == b'"' && !want_key);
        if is_value && !value_ok {
            return Err(Malformed);
        }
        match c {
            b'{' | b'[' => {
                after_value = false;
                let tag = pending.take().and_then(|(tag, _, container)| tag.or(container)).or(inherited);
                stack.push(Container { object: c == b'{', tag });
                want_key = c == b'{';
                i += 1;
            }
            b'}' | b']' => {
                // Empty, or after a value: not `[1,]`.
                let empty = s[..i].iter().rev().find(|c| !c.is_ascii_whitespace()) == Some(&(c - 2));
                let top = stack.pop().ok_or(Malformed)?;
                if top.object != (c == b'}') || pending.is_some() || !(after_value || empty) {
                    return Err(Malformed);
                }
                after_value = true;
                want_key = false;
                done = stack.is_empty();
                i += 1;
            }
            b',' => {
                let top = stack.last().ok_or(Malformed)?;
                if pending.is_some() || !after_value {
                    return Err(Malformed);
                }
                after_value = false;
                want_key = top.object;
                i += 1;
            }
            b':' => {
                if pending.is_none() || colon {
                    return Err(Malformed);
                }
                colon = true;
                i += 1;
            }
            b'"' => {
                let want_key_before = want_key;
                let (end, escaped) = string_end(s, i)?;
                let raw = i + 1..end;
                if want_key {
                    let decoded;
                    let key = if escaped {
                        decoded = decode(&s[raw.clone()]);
                        decoded.as_bytes()
                    } else {
                        &s[raw.clone()]
                    };
                    let tag = rules.lookup(key);
                    let container = if tag.is_none() { rules.container_tag(key) } else { None };
                    pending = Some((tag.or(inherited), i, container));
                    colon = false;
                    want_key = false;
                    if keys_too {
                        visit(Scalar { raw, string: true, escaped, key_tag: None, member: None });
                    }
                } else {
                    let (key_tag, member) = value_context(&mut pending, inherited, in_array, i, end + 1);
                    visit(Scalar { raw, string: true, escaped, key_tag, member });
                    done = stack.is_empty();
                }
                after_value = !want_key_before;
                i = end + 1;
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                let end = i + s[i..]
                    .iter()
                    .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')))
                    .unwrap_or(s.len() - i);
                let token = &s[i..end];
                let number = c == b'-' || c.is_ascii_digit();
                if !number && !matches!(token, b"true" | b"false" | b"null") {
                    return Err(Malformed);
                }
                let (key_tag, member) = value_context(&mut pending, inherited, in_array, i, end);
                if number && key_tag.is_some() {
                    visit(Scalar { raw: i..end, string: false, escaped: false, key_tag, member });
                }
                done = stack.is_empty();
                after_value = true;
                i = end;
            }
            _ => return Err(Malformed),
        }
    }
    super::work::add(s.len() - start);
    if stack.is_empty() && done { Ok(()) } else { Err(Malformed) }
}

fn value_context(
    pending: &mut Option<(Option<usize>, usize, Option<usize>)>,
    inherited: Option<usize>,
    in_array: bool,
    start: usize,
    end: usize,
) -> (Option<usize>, Option<Range<usize>>) {
    match pending.take() {
        Some((tag, member_start, _)) => (tag, Some(member_start..end)),
        None if in_array => (inherited, Some(start..end)),
        None => (inherited, None),
    }
}

/// The first `"` or `\\` in `rest`. Most keys and many values end within
/// a few bytes, where a plain loop answers before a call into memchr's
/// vector search would (a 300-byte chat has about 18 strings); longer
/// strings go on with memchr.
fn quote_or_backslash(rest: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    let head = &rest[..rest.len().min(SHORT)];
    match head.iter().position(|&c| c == b'"' || c == b'\\') {
        Some(k) => Some(k),
        None if rest.len() <= SHORT => None,
        None => memchr::memchr2(b'"', b'\\', &rest[SHORT..]).map(|k| k + SHORT),
    }
}

/// The index of the closing quote of the string opening at `open`, and
/// whether it has escapes.
fn string_end(s: &[u8], open: usize) -> Result<(usize, bool), Malformed> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        // Raw control characters (invalid JSON) are not looked for: they
        // change nothing about where strings are, and a second pass costs.
        let k = quote_or_backslash(&s[i..]).ok_or(Malformed)?;
        i += k;
        if s[i] == b'"' {
            return Ok((i, escaped));
        }
        escaped = true;
        i += 2;
        if i > s.len() {
            return Err(Malformed);
        }
    }
}

/// Decodes a JSON string's content (or text with JSON-style escapes).
pub(crate) fn decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let (c, len) = unescape(raw, i);
        out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
        i += len;
    }
    // Callers pass slices of a `str` cut at ASCII bytes, and escapes decode
    // to whole characters, so the bytes are UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// The character of the backslash escape at `raw[i]` and its length:
/// `\n`, `\"`, `\u0040`, a surrogate pair `\ud83d\ude00` (a lone surrogate
/// is U+FFFD). Anything else is the backslash itself, so text that is not
/// JSON keeps its meaning.
pub(crate) fn unescape(raw: &[u8], i: usize) -> (char, usize) {
    let simple = match raw.get(i + 1) {
        Some(b'n') => Some('\n'),
        Some(b't') => Some('\t'),
        Some(b'r') => Some('\r'),
        Some(b'b') => Some('\u{8}'),
        Some(b'f') => Some('\u{c}'),
        Some(&c @ (b'"' | b'\\' | b'/')) => Some(char::from(c)),
        _ => None,
    };
    if let Some(c) = simple {
        return (c, 2);
    }
    let unit = |at: usize| {
        raw.get(at..at + 4).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u16::from_str_radix(h, 16).ok())
    };
    if raw.get(i + 1) != Some(&b'u') {
        return ('\\', 1);
    }
    match unit(i + 2) {
        Some(hi @ 0xD800..=0xDBFF) if raw.get(i + 6..i + 8) == Some(b"\\u") => match unit(i + 8) {
            Some(lo @ 0xDC00..=0xDFFF) => {
                let code = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                (char::from_u32(code).unwrap_or('\u{FFFD}'), 12)
            }
            _ => ('\u{FFFD}', 6),
        },
        Some(u) => (char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}'), 6),
        None => ('\\', 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain loop hands over to memchr at the 16th byte: a quote or
    /// backslash is found at every offset on both sides of that seam.
    #[test]
    fn a_string_end_is_found_at_every_offset() {
        for n in 0..48 {
            let plain = "a".repeat(n);
            assert_eq!(quote_or_backslash(plain.as_bytes()), None, "{n}");
            for end in ['"', '\\'] {
                let text = format!("{plain}{end}x\"");
                assert_eq!(quote_or_backslash(text.as_bytes()), Some(n), "{n} {end}");
            }
            let text = format!("\"{plain}\\\"b\"");
            assert_eq!(string_end(text.as_bytes(), 0).ok(), Some((n + 4, true)), "{text}");
        }
    }
}
