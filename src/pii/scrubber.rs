//! [`Scrubber`]: finding and acting on personal data in one frame.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use super::action::{self, Action, Edit, Mask};
use super::builder::ScrubberBuilder;
use super::detector::Detector;
use super::fold;
use super::json::{self, Scalar};
use super::keys;
use super::scan::Engine;
use super::{Counts, Finding, Kind};
use crate::audit;
use crate::layer::Layer;
use crate::message::{Direction, Frame};
use crate::outcome::{ErrorReply, Outcome};
use crate::rbac::Rbac;
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// The PII scrubber: a [`Layer`] that finds personal data and secrets in
/// messages in both directions and redacts, masks, hashes or removes them,
/// or drops the message or closes the connection.
///
/// Build it with [`Scrubber::builder`] and add it with
/// [`GuardBuilder::scrub_pii`](crate::GuardBuilder::scrub_pii), or call
/// [`find`](Self::find) and [`scrub`](Self::scrub) directly.
///
/// # Cloning
///
/// The detectors and key automaton are compiled once by
/// [`ScrubberBuilder::build`] and shared behind an `Arc`: clones are cheap
/// and share everything.
#[derive(Clone, Debug)]
pub struct Scrubber {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) detectors: Vec<Arc<dyn Detector>>,
    /// Tag to name: the built-in kinds, then the custom detectors.
    pub(crate) names: Vec<&'static str>,
    /// Per direction (inbound, outbound), per tag.
    pub(crate) actions: [Vec<Action>; 2],
    pub(crate) placeholders: Vec<String>,
    /// Every placeholder holds `[` or `*` (the defaults do), as do masks
    /// and hashes: a value without either is no output of this scrubber.
    pub(crate) marked_outputs: bool,
    pub(crate) masks: Vec<Mask>,
    pub(crate) hmac: action::Keyed,
    #[cfg(feature = "encrypt")]
    pub(crate) cipher: Option<super::crypto::Cipher>,
    pub(crate) hash_len: usize,
    pub(crate) report_only: bool,
    pub(crate) scan_keys: bool,
    pub(crate) scan_binary: bool,
    pub(crate) exemptions: Vec<Option<String>>,
    pub(crate) rbac: Option<Rbac>,
}

/// How many times a frame is rewritten at most (see `Scrubber::process`).
const MAX_PASSES: usize = 4;

/// Where a finding sits in the frame: it decides how a replacement is written.
#[derive(Clone, Debug)]
enum Place {
    Text,
    /// In a JSON value: a string (maybe with escapes) or a number, whose
    /// raw text is `within`, and the member or element holding it.
    Json {
        string: bool,
        escaped: bool,
        member: Option<Range<usize>>,
        within: Range<usize>,
    },
}

#[derive(Clone, Debug)]
struct Hit {
    tag: usize,
    range: Range<usize>,
    place: Place,
}

/// The result of [`Scrubber::scrub`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scrubbed<'a> {
    text: Cow<'a, str>,
    findings: Vec<Finding>,
    blocked: Option<Action>,
}

impl Scrubbed<'_> {
    /// The text to deliver: rewritten, or the input unchanged (also when
    /// the message is [`blocked`](Self::blocked)).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text was rewritten.
    pub fn is_rewritten(&self) -> bool {
        matches!(self.text, Cow::Owned(_))
    }

    /// What was found, in order, with byte ranges into the input.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// [`Action::Drop`] or [`Action::Close`] when a finding's action stops
    /// the message; `None` when it may be delivered.
    pub fn blocked(&self) -> Option<Action> {
        self.blocked
    }
}

impl Scrubber {
    /// A builder with every default (see [`ScrubberBuilder`]).
    pub fn builder() -> ScrubberBuilder {
        ScrubberBuilder::default()
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self { inner: Arc::new(inner) }
    }

    /// Finds personal data in a frame's text, as received: JSON (string
    /// values at any depth, and values under sensitive keys), a Socket.IO
    /// packet (`42["event",{...}]`), or plain text.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        self.hits(text).into_iter().map(|h| self.finding(&h)).collect()
    }

    /// Finds and applies the actions for `direction`, without a session
    /// (so without exemptions). With report-only on, nothing is changed.
    pub fn scrub<'a>(&self, text: &'a str, direction: Direction) -> Scrubbed<'a> {
        let (hits, rewritten, blocked) = self.process(text, direction, |_| false);
        let findings = hits.iter().map(|h| self.finding(h)).collect();
        Scrubbed { text: rewritten.map_or(Cow::Borrowed(text), Cow::Owned), findings, blocked }
    }

    /// Opens a token written by [`Action::Encrypt`] for `kind` (feature
    /// `encrypt`): the original value, or `None` for a token that is not
    /// one, was made for another kind or under another key.
    #[cfg(feature = "encrypt")]
    pub fn decrypt(&self, kind: impl AsRef<str>, token: &str) -> Option<String> {
        self.inner.cipher.as_ref()?.open(kind.as_ref(), token)
    }

    fn finding(&self, hit: &Hit) -> Finding {
        Finding { name: self.inner.names[hit.tag], range: hit.range.clone() }
    }

    /// Finds and acts on `text`. A rewritten frame is scanned again (a JSON
    /// frame only in the strings that were rewritten), and rewritten again,
    /// until nothing more is found (at most [`MAX_PASSES`]): a rewrite
    /// changes what surrounds the text it leaves (a mask turns a digit that
    /// followed a number into `*`), and the result must be what a second
    /// scrub would leave, so scrubbing is idempotent by construction.
    /// Returns the hits of the first pass, in the input's offsets.
    fn process(
        &self,
        text: &str,
        direction: Direction,
        exempt: impl Fn(usize) -> bool,
    ) -> (Vec<Hit>, Option<String>, Option<Action>) {
        let first = self.hits(text);
        if first.is_empty() || self.inner.report_only {
            return (first, None, None);
        }
        let mut rewritten: Option<String> = None;
        let mut later: Option<Vec<Hit>> = None;
        for pass in 1..=MAX_PASSES {
            let current = rewritten.as_deref().unwrap_or(text);
            let hits = later.as_deref().unwrap_or(&first);
            match self.act(current, hits, direction, &exempt) {
                Err(blocked) => return (first, None, Some(blocked)),
                Ok(None) => break,
                Ok(Some((next, edits))) => {
                    let found = if pass < MAX_PASSES { self.rescan(&next, hits, &edits) } else { Vec::new() };
                    rewritten = Some(next);
                    if found.is_empty() {
                        break;
                    }
                    later = Some(found);
                }
            }
        }
        (first, rewritten, None)
    }

    /// The actions for `hits` in `text`: the rewritten text and where its
    /// replacements landed (`None` when nothing rewrites), or the blocking
    /// action.
    fn act(
        &self,
        text: &str,
        hits: &[Hit],
        direction: Direction,
        exempt: &impl Fn(usize) -> bool,
    ) -> Result<Option<(String, Vec<action::Moved>)>, Action> {
        let actions = &self.inner.actions[direction.index()];
        let mut blocked = None;
        let mut edits = Vec::new();
        for hit in hits {
            let action = if exempt(hit.tag) { Action::Report } else { actions[hit.tag] };
            match action {
                Action::Drop | Action::Close => blocked = blocked.max(Some(action)),
                a if a.rewrites() => edits.push(self.edit(text, hit, a)),
                _ => {}
            }
        }
        match blocked {
            Some(action) => Err(action),
            None if edits.is_empty() => Ok(None),
            None => Ok(Some(action::splice(text, edits))),
        }
    }

    fn edit(&self, text: &str, hit: &Hit, action: Action) -> Edit<'_> {
        let inner = &self.inner;
        if action == Action::Remove
            && let Place::Json { member: Some(member), .. } = &hit.place
        {
            return Edit { range: member.clone(), with: Cow::Borrowed(""), remove: true };
        }
        let raw = &text[hit.range.clone()];
        // The value as read, escapes decoded, so masks count its characters.
        let value: Cow<'_, str> = match hit.place {
            Place::Json { string: true, escaped: true, .. } => Cow::Owned(json::decode(raw.as_bytes())),
            Place::Text if raw.contains('\\') => Cow::Owned(json::decode(raw.as_bytes())),
            _ => Cow::Borrowed(raw),
        };
        let placeholder = &inner.placeholders[hit.tag];
        let replacement: Cow<'_, str> = match action {
            Action::Mask => Cow::Owned(inner.masks[hit.tag].apply(&value, hit.tag == Kind::Email.index())),
            Action::Hash => {
                Cow::Owned(action::hash(&inner.hmac, inner.names[hit.tag], &value, placeholder, inner.hash_len))
            }
            #[cfg(feature = "encrypt")]
            Action::Encrypt => match &inner.cipher {
                Some(cipher) => Cow::Owned(cipher.seal(inner.names[hit.tag], &value, placeholder)),
                None => Cow::Borrowed(placeholder),
            },
            _ => Cow::Borrowed(placeholder),
        };
        let with = match hit.place {
            Place::Text => replacement,
            Place::Json { string: true, .. } => action::json_escape(replacement),
            Place::Json { string: false, .. } => {
                Cow::Owned(serde_json::Value::String(replacement.into_owned()).to_string())
            }
        };
        Edit { range: hit.range.clone(), with, remove: false }
    }

    /// The hits left in `text`, rewritten from the text that had `hits`
    /// by `edits` (old and new ranges). A text frame is scanned whole; in
    /// a JSON frame only the strings that were rewritten are scanned again,
    /// since its strings are scanned one by one.
    fn rescan(&self, text: &str, hits: &[Hit], edits: &[action::Moved]) -> Vec<Hit> {
        if hits.iter().any(|h| matches!(h.place, Place::Text)) {
            return self.hits(text);
        }
        // Where `at` (in the old text) is in the new one: shifted by every
        // edit that ends at or before it.
        let shift = |at: usize| {
            edits
                .iter()
                .take_while(|(old, _)| old.end <= at)
                .fold(at as isize, |a, (old, new)| a + new.len() as isize - old.len() as isize) as usize
        };
        let mut found = Vec::new();
        // The strings that held hits, each once (hits come in order, so a
        // string's hits are adjacent).
        let mut last: Option<&Range<usize>> = None;
        for hit in hits {
            let Place::Json { string: true, within: string, .. } = &hit.place else { continue };
            if last == Some(string) {
                continue;
            }
            last = Some(string);
            // A string an edit reaches over (a removed member) is gone.
            if edits.iter().any(|(old, _)| old.start < string.start && string.start < old.end) {
                continue;
            }
            let new = shift(string.start)..shift(string.end);
            let raw = &text[new.clone()];
            let escaped = raw.contains('\\');
            let place = Place::Json { string: true, escaped, member: None, within: new.clone() };
            self.segment(raw, new.start, escaped, &place, &mut found);
        }
        found
    }

    fn hits(&self, text: &str) -> Vec<Hit> {
        let s = text.as_bytes();
        let mut hits = Vec::new();
        if let Some(start) = json::json_start(s) {
            let walked = json::walk(s, start, &self.inner.engine.keys, self.inner.scan_keys, |scalar| {
                self.scalar(text, scalar, &mut hits);
            });
            if walked.is_ok() {
                return hits;
            }
            hits.clear();
        }
        self.segment(text, 0, true, &Place::Text, &mut hits);
        // A frame that is a bare JSON number stays one: its whole number is
        // replaced by a JSON string.
        let number = text.trim();
        let json_number = matches!(number.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
            && serde_json::from_str::<serde::de::IgnoredAny>(number).is_ok();
        if !hits.is_empty() && json_number {
            let start = text.len() - text.trim_start().len();
            hits.truncate(1);
            hits[0].range = start..start + number.len();
            hits[0].place = Place::Json { string: false, escaped: false, member: None, within: hits[0].range.clone() };
        }
        hits
    }

    fn scalar(&self, text: &str, scalar: Scalar, hits: &mut Vec<Hit>) {
        let place = Place::Json {
            string: scalar.string,
            escaped: scalar.escaped,
            member: scalar.member.clone(),
            within: scalar.raw.clone(),
        };
        let raw = &text[scalar.raw.clone()];
        if let Some(tag) = scalar.key_tag {
            let value: Cow<'_, str> =
                if scalar.escaped { Cow::Owned(json::decode(raw.as_bytes())) } else { Cow::Borrowed(raw) };
            if value.trim().is_empty() || self.is_output(&value) {
                return;
            }
            // A value a detector recognises keeps that detector's kind (a
            // JWT under `access_token` is `jwt`), so its action applies;
            // anything else is the key's kind, whole.
            let first = hits.len();
            if scalar.string {
                self.segment(raw, scalar.raw.start, scalar.escaped, &place, hits);
                if hits.len() == first + 1 && only_scheme_left(text, &scalar.raw, &hits[first..]) {
                    return;
                }
                hits.truncate(first);
            }
            hits.push(Hit { tag, range: scalar.raw, place });
            return;
        }
        // Nothing built in fits in fewer bytes than `a@b.co` or `1:2::3`
        // (escapes and folded characters only lengthen the raw text):
        // short strings (`"chat"`, `"lobby"`) are left unread unless custom
        // detectors may want them.
        if scalar.string && (raw.len() >= MIN_FINDING || !self.inner.detectors.is_empty()) {
            self.segment(raw, scalar.raw.start, scalar.escaped, &place, hits);
        }
    }

    /// Runs the built-in pass and the custom detectors over one text
    /// (with `escapes`, backslash escapes are decoded first), as folded
    /// for reading; ranges are reported in the original, from `offset`.
    fn segment(&self, text: &str, offset: usize, escapes: bool, place: &Place, hits: &mut Vec<Hit>) {
        let engine = &self.inner.engine;
        let lines = matches!(place, Place::Text);
        let mut found = Vec::new();
        // Text with escapes is decoded before it is read; other text is
        // read as it is and read again folded only if it holds a
        // character that folds (ASCII text pays nothing for folding). The
        // scan notes the non-ASCII bytes it steps on; a finding may have
        // covered others.
        let folded = if !fold::fits(text) {
            engine.scan(text.as_bytes(), lines, &mut found);
            None
        } else if escapes && memchr::memchr(b'\\', text.as_bytes()).is_some() {
            Some(fold::fold(text, true))
        } else if (engine.scan(text.as_bytes(), lines, &mut found) || (!found.is_empty() && !text.is_ascii()))
            && fold::needed(text)
        {
            found.clear();
            Some(fold::fold(text, false))
        } else {
            None
        };
        if let Some(f) = &folded {
            engine.scan(f.text.as_bytes(), lines, &mut found);
        }
        let read = folded.as_ref().map_or(text, |f| f.text.as_str());
        // What this scrubber wrote (`GB** **** ...` under `"iban":` in text
        // that is not JSON) is not found again, so scrubbing is idempotent.
        if !found.is_empty() {
            found.retain(|(_, r)| !self.is_output(&read[r.clone()]));
        }
        if !self.inner.detectors.is_empty() {
            let mut ranges = Vec::new();
            let mut custom = Vec::new();
            for (k, detector) in self.inner.detectors.iter().enumerate() {
                detector.detect(read, &mut ranges);
                let tag = Kind::ALL.len() + k;
                custom.extend(
                    ranges
                        .drain(..)
                        .filter(|r| {
                            r.start < r.end
                                && r.end <= read.len()
                                && read.is_char_boundary(r.start)
                                && read.is_char_boundary(r.end)
                        })
                        .map(|r| (tag, r)),
                );
            }
            merge_custom(&mut found, custom);
        }
        hits.extend(found.into_iter().map(|(tag, r)| {
            let r = folded.as_ref().map_or(r.clone(), |f| f.original(text, r));
            Hit { tag, range: offset + r.start..offset + r.end, place: place.clone() }
        }));
    }

    /// Whether a value (under a sensitive key, or found again) is this scrubber's
    /// output (a placeholder, hash, token or mask of any kind, since a
    /// detector may have chosen the kind), so scrubbing is idempotent.
    fn is_output(&self, value: &str) -> bool {
        let inner = &self.inner;
        if inner.marked_outputs && memchr::memchr2(b'[', b'*', value.as_bytes()).is_none() {
            return false;
        }
        let placeholder_output = |placeholder: &String, value: &str| {
            let stem = placeholder.strip_suffix(']').unwrap_or(placeholder);
            value == placeholder.as_str()
                || (value.starts_with(stem) && value.len() == stem.len() + 2 + inner.hash_len)
                || (value.starts_with(stem) && value[stem.len()..].starts_with(":enc:"))
        };
        let output = |piece: &str| {
            inner.placeholders.iter().any(|p| placeholder_output(p, piece))
                || inner.masks.iter().any(|m| m.is_output(piece))
                || piece.contains("***@")
        };
        // Several findings, or a scheme and a finding: `Bearer [JWT]`.
        output(value)
            || (value.split_whitespace().any(output)
                && value.split_whitespace().all(|p| output(p) || keys::is_scheme(p.as_bytes())))
    }

    /// What `kind`'s findings got in a frame that was not blocked: its
    /// action for `direction`, or a report for an exempt reader.
    #[cfg(feature = "metrics")]
    fn kind_action(&self, kind: &str, direction: Direction, session: &Session) -> Action {
        let Some(tag) = self.inner.names.iter().position(|name| *name == kind) else { return Action::Report };
        if direction == Direction::Outbound && self.exempt(tag, session) {
            return Action::Report;
        }
        self.inner.actions[direction.index()][tag]
    }

    fn exempt(&self, tag: usize, session: &Session) -> bool {
        match (&self.inner.exemptions[tag], &self.inner.rbac) {
            (Some(permission), Some(rbac)) => rbac.permits(session, permission),
            _ => false,
        }
    }

    fn check(&self, frame: &mut Frame, session: &mut Session, direction: Direction) -> Outcome {
        let (hits, rewritten, blocked) = {
            let text = if frame.is_binary() {
                if !self.inner.scan_binary {
                    return Outcome::Pass;
                }
                match std::str::from_utf8(frame.bytes()) {
                    Ok(text) => text,
                    Err(_) => return Outcome::Pass,
                }
            } else {
                match frame.text() {
                    Some(text) => text,
                    None => return Outcome::Pass,
                }
            };
            let outbound = direction == Direction::Outbound;
            self.process(text, direction, |tag| outbound && self.exempt(tag, session))
        };
        if hits.is_empty() {
            return Outcome::Pass;
        }
        // The kinds found in this frame, in order.
        let kinds = || hits.iter().map(|h| self.inner.names[h.tag]);
        session.extensions_mut().get_or_insert_default::<Counts>().add(kinds());
        let action = match (self.inner.report_only, blocked, &rewritten) {
            (true, ..) => "report_only",
            (_, Some(a), _) => a.as_str(),
            (_, None, Some(_)) => "rewritten",
            (_, None, None) => "report",
        };
        audit::pii_detected(session, direction, action, || Counts::of(kinds()), hits.len());
        #[cfg(feature = "metrics")]
        for (kind, n) in Counts::of(kinds()).iter() {
            let action = match (self.inner.report_only, blocked) {
                (true, _) => Action::Report,
                (_, Some(blocked)) => blocked,
                _ => self.kind_action(kind, direction, session),
            };
            crate::metrics::pii_findings(kind, action.as_str(), direction, n);
        }
        match blocked {
            Some(Action::Close) => {
                Outcome::Close(Rejection::new(RejectionKind::PolicyViolation, "personal data not allowed"))
            }
            Some(_) if direction == Direction::Outbound => Outcome::drop_silently(),
            Some(_) => {
                let types: Vec<&str> = Counts::of(kinds()).iter().map(|(kind, _)| kind).collect();
                Outcome::drop_with(
                    ErrorReply::new("pii_rejected", "message contained personal data").with_field("types", types),
                )
            }
            None => {
                if let Some(text) = rewritten {
                    *frame =
                        if frame.is_binary() { Frame::from_binary(text.into_bytes()) } else { Frame::from_text(text) };
                }
                Outcome::Pass
            }
        }
    }
}

/// The fewest bytes any built-in finding takes.
const MIN_FINDING: usize = 6;

/// Whether the text of `raw` outside `hits` is blank or an authentication
/// scheme (`Bearer `), so the hits stand for the whole value.
fn only_scheme_left(text: &str, raw: &Range<usize>, hits: &[Hit]) -> bool {
    let mut left = String::new();
    let mut at = raw.start;
    for hit in hits {
        left.push_str(&text[at..hit.range.start.max(at)]);
        at = at.max(hit.range.end);
    }
    left.push_str(&text[at..raw.end]);
    let left = left.trim();
    left.is_empty() || keys::is_scheme(left.as_bytes())
}

/// Adds the custom detectors' findings to the built-in ones (sorted, not
/// overlapping): each keeps its place unless it overlaps a built-in finding
/// or an earlier custom one. Sorting and one merge keep it `O(n log n)`.
fn merge_custom(found: &mut Vec<(usize, Range<usize>)>, mut custom: Vec<(usize, Range<usize>)>) {
    if custom.is_empty() {
        return;
    }
    custom.sort_by_key(|(_, r)| (r.start, r.end));
    let built_in = std::mem::take(found);
    let mut k = 0;
    let mut last_custom_end = 0;
    let mut accepted = Vec::with_capacity(custom.len());
    for (tag, r) in custom {
        while k < built_in.len() && built_in[k].1.end <= r.start {
            k += 1;
        }
        let overlaps_built_in = built_in.get(k).is_some_and(|(_, f)| f.start < r.end);
        if !overlaps_built_in && r.start >= last_custom_end {
            last_custom_end = r.end;
            accepted.push((tag, r));
        }
    }
    *found = built_in;
    found.extend(accepted);
    found.sort_by_key(|(_, r)| r.start);
}

impl Layer for Scrubber {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, _now: Instant) -> Outcome {
        self.check(frame, session, Direction::Inbound)
    }

    fn on_outbound(&self, frame: &mut Frame, session: &mut Session, _now: Instant) -> Outcome {
        self.check(frame, session, Direction::Outbound)
    }
}
