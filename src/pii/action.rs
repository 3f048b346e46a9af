//! What happens to a finding, and the one splice that rewrites a frame.

use std::borrow::Cow;
use std::ops::Range;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What the scrubber does with a finding of one kind in one direction.
///
/// When a frame has findings with different actions, `close` wins over
/// `drop`, and `drop` over the rewriting actions.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave the value, but count and audit it (per-kind report-only).
    Report,
    /// Replace the value with the kind's placeholder, e.g. `[EMAIL]`.
    Redact,
    /// Replace characters with `*`, keeping the kind's [`Mask`] head and tail
    /// (`j***@example.com`, `**** **** **** 1111`).
    Mask,
    /// Replace the value with a keyed HMAC-SHA256, truncated:
    /// `[EMAIL:5d41402abc4b]`. Equal values give equal hashes under one key,
    /// so they can be correlated, but not reversed without the key.
    Hash,
    /// Replace the value with a reversible token, AES-256-GCM under the
    /// [`encryption_key`](super::ScrubberBuilder::encryption_key):
    /// `[EMAIL:enc:...]`, opened with
    /// [`Scrubber::decrypt`](super::Scrubber::decrypt). Equal values give
    /// equal tokens. Needs the `encrypt` feature.
    Encrypt,
    /// Remove the JSON member (`"key": value`) or array element holding the
    /// value; in a non-JSON frame, redact instead.
    Remove,
    /// Drop the whole message. Inbound, the sender gets a `pii_rejected`
    /// error reply; outbound, the message is silently not delivered.
    Drop,
    /// Close the connection with 1008 "personal data not allowed".
    Close,
}

impl Action {
    /// The action's name, as in configuration and audit events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Report => "report",
            Action::Redact => "redact",
            Action::Mask => "mask",
            Action::Hash => "hash",
            Action::Encrypt => "encrypt",
            Action::Remove => "remove",
            Action::Drop => "drop",
            Action::Close => "close",
        }
    }

    pub(crate) fn rewrites(self) -> bool {
        matches!(self, Action::Redact | Action::Mask | Action::Hash | Action::Encrypt | Action::Remove)
    }
}

/// How [`Action::Mask`] masks a kind: how many letters and digits to keep
/// at the start and at the end. Other characters (spaces, dashes, dots)
/// are kept, so the format stays recognizable.
///
/// For `email`, the head applies to the local part and the domain is kept:
/// `jane.doe@example.com` becomes `j***@example.com`. A mask that keeps
/// nothing gives a fixed `********`, so it does not reveal the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Mask {
    /// Letters and digits kept at the start.
    pub keep_head: usize,
    /// Letters and digits kept at the end.
    pub keep_tail: usize,
}

impl Mask {
    /// A mask keeping `keep_head` and `keep_tail` letters and digits.
    pub const fn new(keep_head: usize, keep_tail: usize) -> Self {
        Self { keep_head, keep_tail }
    }

    /// Masks `value`.
    pub(crate) fn apply(self, value: &str, email: bool) -> String {
        if email && let Some(at) = value.rfind('@') {
            let head: String = value[..at].chars().take(self.keep_head).collect();
            return format!("{head}***{}", &value[at..]);
        }
        let total = value.chars().filter(|c| c.is_alphanumeric()).count();
        if self.keep_head == 0 && self.keep_tail == 0 || self.keep_head + self.keep_tail >= total {
            return "********".to_owned();
        }
        let mut seen = 0;
        value
            .chars()
            .map(|c| {
                if !c.is_alphanumeric() {
                    return c;
                }
                seen += 1;
                if seen <= self.keep_head || seen > total - self.keep_tail { c } else { '*' }
            })
            .collect()
    }

    /// Whether `value` already looks like this mask's output, so that
    /// scrubbing twice changes nothing.
    pub(crate) fn is_output(self, value: &str) -> bool {
        value == "********"
            || (value.contains('*')
                && value.chars().filter(|c| c.is_alphanumeric()).count() <= self.keep_head + self.keep_tail)
    }
}

/// HMAC-SHA256 with the key already absorbed: cloned per value, so the
/// key's two blocks are hashed once, at build time.
pub(crate) type Keyed = Hmac<Sha256>;

/// A keyed HMAC for `key` (any length).
pub(crate) fn keyed(key: &[u8]) -> Keyed {
    // HMAC accepts keys of any length; this cannot fail.
    Keyed::new_from_slice(key).expect("hmac takes any key length")
}

/// The keyed hash of a value, as `[EMAIL:hex]` (from the placeholder `[EMAIL]`).
pub(crate) fn hash(keyed: &Keyed, kind: &str, value: &str, placeholder: &str, hex_len: usize) -> String {
    let mut mac = keyed.clone();
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex = crate::hex::hex(&digest, hex_len);
    match placeholder.strip_suffix(']') {
        Some(stem) => format!("{stem}:{hex}]"),
        None => format!("{placeholder}:{hex}"),
    }
}

/// One change to the frame's text.
#[derive(Debug)]
pub(crate) struct Edit<'a> {
    pub(crate) range: Range<usize>,
    /// The replacement: a placeholder is borrowed from the scrubber.
    pub(crate) with: Cow<'a, str>,
    /// A JSON member or element removal: it takes a neighbouring comma.
    pub(crate) remove: bool,
}

/// An edit as made: its range in the input and where its replacement
/// landed in the output.
pub(crate) type Moved = (Range<usize>, Range<usize>);

/// Applies `edits` to `text` in one pass. Overlapping edits keep the
/// first; removals also take one comma so the JSON stays valid.
///
/// Also returns, for each edit made, in order, its range in `text` and
/// where its replacement landed in the output.
pub(crate) fn splice(text: &str, mut edits: Vec<Edit<'_>>) -> (String, Vec<Moved>) {
    let s = text.as_bytes();
    edits.sort_by_key(|e| e.range.start);
    // Kept edits move to the front, in place.
    let mut kept: usize = 0;
    for i in 0..edits.len() {
        // A second finding in a member already removed, or an edit inside
        // an earlier one: nothing left to change.
        let prev = kept.checked_sub(1).map(|p| &edits[p]);
        if prev.is_some_and(|prev| edits[i].range.start < prev.range.end) {
            continue;
        }
        if edits[i].remove {
            let mut range = edits[i].range.clone();
            widen_removal(s, &mut range, prev);
            edits[i].range = range;
        }
        edits.swap(kept, i);
        kept += 1;
    }
    edits.truncate(kept);
    let mut out = String::with_capacity(text.len() + 16 * edits.len());
    let mut landed = Vec::with_capacity(edits.len());
    let mut at = 0;
    for edit in &edits {
        out.push_str(&text[at..edit.range.start]);
        landed.push((edit.range.clone(), out.len()..out.len() + edit.with.len()));
        out.push_str(&edit.with);
        at = edit.range.end;
    }
    out.push_str(&text[at..]);
    (out, landed)
}

/// Extends a member's range with one comma: the one before it, unless an
/// earlier removal took that one (or there is none, for a first member);
/// then the one after it. Removing any set of members of an object or
/// elements of an array this way leaves valid JSON.
fn widen_removal(s: &[u8], range: &mut Range<usize>, prev: Option<&Edit<'_>>) {
    let mut before = range.start;
    while before > 0 && s[before - 1].is_ascii_whitespace() {
        before -= 1;
    }
    if before > 0 && s[before - 1] == b',' {
        let comma = before - 1;
        if !prev.is_some_and(|p| p.remove && p.range.contains(&comma)) {
            range.start = comma;
            return;
        }
    }
    let mut after = range.end;
    while after < s.len() && s[after].is_ascii_whitespace() {
        after += 1;
    }
    if s.get(after) == Some(&b',') {
        range.end = after + 1;
    }
}

/// `value` as the inside of a JSON string.
pub(crate) fn json_escape(value: Cow<'_, str>) -> Cow<'_, str> {
    // Placeholders and masks rarely need escaping: kept as they are.
    if !value.bytes().any(|c| c < 0x20 || c == b'"' || c == b'\\') {
        return value;
    }
    let quoted = serde_json::to_string(&value).unwrap_or_default();
    Cow::Owned(quoted[1..quoted.len() - 1].to_owned())
}
