//! [`Sanitizer`]: rewriting string values for apps that render them as HTML.

use std::borrow::Cow;

use serde_json::Value;

/// How a string value is made safe to insert into HTML.
///
/// Sanitizing on input is a second line of defence only: escaping at render
/// time, in the template or with `textContent`, remains the real defence
/// against cross-site scripting, and covers data that did not come through
/// this socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sanitizer {
    /// Replace `&`, `<`, `>`, `"` and `'` with HTML entities, so the text
    /// renders as written: `<b>` arrives as `&lt;b&gt;`.
    EscapeHtml,
}

impl Sanitizer {
    /// `text` sanitized; borrowed when nothing needed changing.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self {
            Self::EscapeHtml => escape_html(text),
        }
    }

    /// Sanitizes every string in `value`, at any depth; says whether
    /// anything changed. Object keys are left alone.
    pub(crate) fn apply_all(&self, value: &mut Value) -> bool {
        match value {
            Value::String(text) => self.apply_one(text),
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| self.apply_all(item) | changed),
            Value::Object(map) => map.values_mut().fold(false, |changed, item| self.apply_all(item) | changed),
            _ => false,
        }
    }

    /// Sanitizes `text` in place; says whether it changed.
    pub(crate) fn apply_one(&self, text: &mut String) -> bool {
        match self.apply(text) {
            Cow::Borrowed(_) => false,
            Cow::Owned(new) => {
                *text = new;
                true
            }
        }
    }

    /// Whether `value` holds a string (at any depth) that
    /// [`apply`](Self::apply) would change: checked before taking the
    /// frame's JSON for rewriting, so clean messages stay byte-for-byte.
    pub(crate) fn would_change(&self, value: &Value) -> bool {
        match value {
            Value::String(text) => matches!(self.apply(text), Cow::Owned(_)),
            Value::Array(items) => items.iter().any(|item| self.would_change(item)),
            Value::Object(map) => map.values().any(|item| self.would_change(item)),
            _ => false,
        }
    }
}

fn escape_html(text: &str) -> Cow<'_, str> {
    let special = |b: u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
    let Some(first) = text.bytes().position(special) else { return Cow::Borrowed(text) };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_the_five_html_specials_and_nothing_else() {
        let s = Sanitizer::EscapeHtml;
        assert_eq!(
            s.apply(r#"<img src=x onerror="alert('1')"> & é"#),
            "&lt;img src=x onerror=&quot;alert(&#x27;1&#x27;)&quot;&gt; &amp; é"
        );
        assert!(matches!(s.apply("plain text, no specials: é 😀"), Cow::Borrowed(_)));
    }

    #[test]
    fn reaches_nested_strings_but_not_keys() {
        let s = Sanitizer::EscapeHtml;
        let mut value = json!({"<k>": ["<a>", {"b": "ok"}], "n": 1});
        assert!(s.would_change(&value));
        assert!(s.apply_all(&mut value));
        assert_eq!(value, json!({"<k>": ["&lt;a&gt;", {"b": "ok"}], "n": 1}));
        assert!(!s.would_change(&value.clone().as_object().unwrap()["n"]));
        assert!(!s.apply_all(&mut json!({"clean": ["yes"]})));
    }
}
