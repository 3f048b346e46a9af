//! Permissions: colon-separated segments, granted with wildcards, required
//! as plain strings or templates filled from the message.

use serde_json::Value;

/// A granted permission: segments, where `*` matches any one segment and a
/// trailing `*` matches one or more. A lone `*` grants everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant(Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
}

impl Grant {
    /// Parses `text`; `Err` says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        check_segments(text)?;
        Ok(Self(
            text.split(':').map(|s| if s == "*" { Segment::Any } else { Segment::Literal(s.to_owned()) }).collect(),
        ))
    }

    /// Whether the grant has no wildcard, so it can be looked up exactly.
    pub(crate) fn as_exact(&self) -> Option<String> {
        let literals: Option<Vec<&str>> = self
            .0
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => Some(l.as_str()),
                Segment::Any => None,
            })
            .collect();
        literals.map(|l| l.join(":"))
    }

    /// Whether this grant covers the concrete permission `required`.
    pub(crate) fn covers(&self, required: &str) -> bool {
        let mut parts = required.split(':');
        for (i, segment) in self.0.iter().enumerate() {
            let last = i + 1 == self.0.len();
            match (segment, parts.next()) {
                (_, None) => return false,
                // A trailing `*` takes this segment and everything after it.
                (Segment::Any, Some(_)) if last => return true,
                (Segment::Any, Some(_)) => {}
                (Segment::Literal(l), Some(part)) if l == part => {}
                (Segment::Literal(_), Some(_)) => return false,
            }
        }
        parts.next().is_none()
    }
}

/// A required permission: plain, or a template with `{/pointer}` holes
/// filled from the message's string fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Required {
    Plain(String),
    Template(Vec<Piece>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Field(String),
}

impl Required {
    /// Parses `text`; `Err` says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        if !text.contains('{') {
            if text.contains('}') {
                return Err("unmatched `}` in template");
            }
            check_segments(text)?;
            if text.split(':').any(|s| s == "*") {
                return Err("a required permission cannot contain `*`");
            }
            return Ok(Self::Plain(text.to_owned()));
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or("unclosed `{` in template")? + open;
            let pointer = &rest[open + 1..close];
            if !pointer.starts_with('/') {
                return Err("a template field must be a JSON pointer such as `{/room}`");
            }
            pieces.push(Piece::Field(pointer.to_owned()));
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err("unmatched `}` in template");
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        // With every hole filled by a one-segment value, the result must be
        // a well-formed permission.
        let sample: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Field(_) => "x",
            })
            .collect();
        check_segments(&sample)?;
        if sample.split(':').any(|s| s == "*") {
            return Err("a required permission cannot contain `*`");
        }
        Ok(Self::Template(pieces))
    }

    /// The concrete permission for `message`: `None` when a template field
    /// is missing, not a string, or would add or blank out segments (a
    /// value with `:` or `*`, or an empty one), so that the rule denies.
    pub(crate) fn fill(pieces: &[Piece], message: Option<&Value>) -> Option<String> {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(pointer) => {
                    let value = message?.pointer(pointer)?.as_str()?;
                    if value.is_empty() || value.contains(':') || value == "*" {
                        return None;
                    }
                    out.push_str(value);
                }
            }
        }
        Some(out)
    }
}

fn check_segments(text: &str) -> Result<(), &'static str> {
    if text.split(':').any(str::is_empty) {
        return Err("empty segment (permissions look like `chat:read`)");
    }
    if text.split(':').any(|s| s.contains('*') && s != "*") {
        return Err("`*` must be a whole segment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wildcard_matching_table() {
        let cases = [
            ("chat:*", "chat:read", true),
            ("chat:*", "chat:room:write", true),
            ("chat:*", "chat", false),
            ("chat:*", "chatroom:x", false),
            ("chat:read", "chat:read", true),
            ("chat:read", "chat:reads", false),
            ("chat:read", "chat:read:all", false),
            ("chat", "chat:read", false),
            ("room:*:write", "room:42:write", true),
            ("room:*:write", "room:42:read", false),
            ("room:*:write", "room:42:write:x", false),
            ("room:*:write", "room:write", false),
            ("room:42:write", "room:420:write", false),
            ("*", "anything:at:all", true),
            ("*:read", "chat:read", true),
            ("*:read", "chat:write", false),
        ];
        for (grant, required, expected) in cases {
            assert_eq!(Grant::parse(grant).unwrap().covers(required), expected, "{grant} vs {required}");
        }
    }

    #[test]
    fn malformed_permissions_are_refused() {
        for bad in ["", "chat:", ":read", "chat::read", "ch*t:read", "chat:re*"] {
            assert!(Grant::parse(bad).is_err(), "{bad:?}");
        }
        for bad in
            ["chat:*", "room:{room}:write", "room:{/room:write", "room:/room}:write", "a::b", "room::{/r}", "{/r}:*"]
        {
            assert!(Required::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn templates_fill_from_string_fields_and_deny_otherwise() {
        let Required::Template(pieces) = Required::parse("room:{/room}:write").unwrap() else { panic!() };
        let fill = |m: Value| Required::fill(&pieces, Some(&m));
        assert_eq!(fill(json!({"room": "42"})).as_deref(), Some("room:42:write"));
        for denied in [
            json!({}),
            json!({"room": 42}),
            json!({"room": null}),
            json!({"room": ["42"]}),
            json!({"room": ""}),
            json!({"room": "42:admin"}),
            json!({"room": "*"}),
        ] {
            assert_eq!(fill(denied.clone()), None, "{denied}");
        }
        assert_eq!(Required::fill(&pieces, None), None, "non-JSON messages have no fields");
        let Required::Template(nested) = Required::parse("{/meta/org}:{/room}").unwrap() else { panic!() };
        assert_eq!(
            Required::fill(&nested, Some(&json!({"meta": {"org": "acme"}, "room": "x"}))).as_deref(),
            Some("acme:x")
        );
    }
}
