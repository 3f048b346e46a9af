//! [`Scrubber`]: finding and acting on personal data in one frame.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use super::action::{self, Action, Edit, Mask};
use super::builder::ScrubberBuilder;
use super::detector::Detector;
use super::json::{self, Scalar};
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

/// Where a finding sits in the frame: it decides how a replacement is written.
#[derive(Clone, Debug)]
enum Place {
    Text,
    Json { string: bool, escaped: bool, member: Option<Range<usize>> },
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
        let (findings, rewritten, blocked) = self.process(text, direction, |_| false);
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

    fn process(
        &self,
        text: &str,
        direction: Direction,
        exempt: impl Fn(usize) -> bool,
    ) -> (Vec<Finding>, Option<String>, Option<Action>) {
        let hits = self.hits(text);
        let findings: Vec<Finding> = hits.iter().map(|h| self.finding(h)).collect();
        if hits.is_empty() || self.inner.report_only {
            return (findings, None, None);
        }
        let actions = &self.inner.actions[direction_index(direction)];
        let mut blocked = None;
        let mut edits = Vec::new();
        for hit in &hits {
            let action = if exempt(hit.tag) { Action::Report } else { actions[hit.tag] };
            match action {
                Action::Drop | Action::Close => blocked = blocked.max(Some(action)),
                a if a.rewrites() => edits.push(self.edit(text, hit, a)),
                _ => {}
            }
        }
        if blocked.is_some() || edits.is_empty() {
            return (findings, None, blocked);
        }
        (findings, Some(action::splice(text, edits)), None)
    }

    fn edit(&self, text: &str, hit: &Hit, action: Action) -> Edit {
        let inner = &self.inner;
        if action == Action::Remove {
            if let Place::Json { member: Some(member), .. } = &hit.place {
                return Edit { range: member.clone(), with: String::new(), remove: true };
            }
        }
        let raw = &text[hit.range.clone()];
        let value: Cow<'_, str> = match hit.place {
            Place::Json { string: true, escaped: true, .. } => Cow::Owned(json::decode(raw.as_bytes()).0),
            _ => Cow::Borrowed(raw),
        };
        let placeholder = &inner.placeholders[hit.tag];
        let replacement = match action {
            Action::Mask => inner.masks[hit.tag].apply(&value, hit.tag == Kind::Email.index()),
            Action::Hash => action::hash(&inner.hmac, inner.names[hit.tag], &value, placeholder, inner.hash_len),
            #[cfg(feature = "encrypt")]
            Action::Encrypt => match &inner.cipher {
                Some(cipher) => cipher.seal(inner.names[hit.tag], &value, placeholder),
                None => placeholder.clone(),
            },
            _ => placeholder.clone(),
        };
        let with = match hit.place {
            Place::Text => replacement,
            Place::Json { string: true, .. } => action::json_escape(&replacement),
            Place::Json { string: false, .. } => serde_json::Value::String(replacement).to_string(),
        };
        Edit { range: hit.range.clone(), with, remove: false }
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
        self.segment(text, 0, None, &mut hits);
        hits
    }

    fn scalar(&self, text: &str, scalar: Scalar, hits: &mut Vec<Hit>) {
        let place = Place::Json { string: scalar.string, escaped: scalar.escaped, member: scalar.member.clone() };
        let raw = &text[scalar.raw.clone()];
        if let Some(tag) = scalar.key_tag {
            let value: Cow<'_, str> =
                if scalar.escaped { Cow::Owned(json::decode(raw.as_bytes()).0) } else { Cow::Borrowed(raw) };
            if !value.trim().is_empty() && !self.is_output(tag, &value) {
                hits.push(Hit { tag, range: scalar.raw, place });
            }
            return;
        }
        if !scalar.string {
            return;
        }
        if !scalar.escaped {
            self.segment(raw, scalar.raw.start, Some(&place), hits);
            return;
        }
        let (decoded, map) = json::decode(raw.as_bytes());
        let first = hits.len();
        self.segment(&decoded, 0, Some(&place), hits);
        for hit in &mut hits[first..] {
            let r = json::raw_range(&map, hit.range.clone());
            hit.range = scalar.raw.start + r.start..scalar.raw.start + r.end;
        }
    }

    /// Runs the built-in pass and the custom detectors over one text.
    fn segment(&self, text: &str, offset: usize, place: Option<&Place>, hits: &mut Vec<Hit>) {
        let mut found = Vec::new();
        self.inner.engine.scan(text.as_bytes(), &mut found);
        let mut ranges = Vec::new();
        for (k, detector) in self.inner.detectors.iter().enumerate() {
            detector.detect(text, &mut ranges);
            let tag = Kind::ALL.len() + k;
            for r in ranges.drain(..) {
                let clear = r.start < r.end
                    && r.end <= text.len()
                    && !found.iter().any(|(_, f)| f.start < r.end && r.start < f.end);
                if clear && text.is_char_boundary(r.start) && text.is_char_boundary(r.end) {
                    found.push((tag, r));
                }
            }
        }
        if !self.inner.detectors.is_empty() {
            found.sort_by_key(|(_, r)| r.start);
        }
        let place = place.cloned().unwrap_or(Place::Text);
        hits.extend(found.into_iter().map(|(tag, r)| Hit {
            tag,
            range: offset + r.start..offset + r.end,
            place: place.clone(),
        }));
    }

    /// Whether a value under a sensitive key is already this scrubber's
    /// output (a placeholder, hash or mask), so scrubbing is idempotent.
    fn is_output(&self, tag: usize, value: &str) -> bool {
        let placeholder = &self.inner.placeholders[tag];
        let stem = placeholder.strip_suffix(']').unwrap_or(placeholder);
        value == placeholder.as_str()
            || (value.starts_with(stem) && value.len() == stem.len() + 2 + self.inner.hash_len)
            || (value.starts_with(stem) && value[stem.len()..].starts_with(":enc:"))
            || self.inner.masks[tag].is_output(value)
    }

    fn exempt(&self, tag: usize, session: &Session) -> bool {
        match (&self.inner.exemptions[tag], &self.inner.rbac) {
            (Some(permission), Some(rbac)) => rbac.permits(session, permission),
            _ => false,
        }
    }

    fn check(&self, frame: &mut Frame, session: &mut Session, direction: Direction) -> Outcome {
        let (findings, rewritten, blocked) = {
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
        if findings.is_empty() {
            return Outcome::Pass;
        }
        // This frame's kinds and counts, for the audit event and the reply,
        // then added to the session's totals.
        let mut found = Counts::default();
        for f in &findings {
            found.add(f.name);
        }
        session.extensions_mut().get_or_insert_default::<Counts>().merge(&found);
        let summary: Vec<String> = found.iter().map(|(kind, n)| format!("{kind}:{n}")).collect();
        let summary = summary.join(",");
        let action = match (self.inner.report_only, blocked, &rewritten) {
            (true, ..) => "report_only",
            (_, Some(a), _) => a.as_str(),
            (_, None, Some(_)) => "rewritten",
            (_, None, None) => "report",
        };
        audit::pii_detected(session, direction, action, &summary, findings.len());
        match blocked {
            Some(Action::Close) => {
                Outcome::Close(Rejection::new(RejectionKind::PolicyViolation, "personal data not allowed"))
            }
            Some(_) if direction == Direction::Outbound => Outcome::drop_silently(),
            Some(_) => {
                let types: Vec<&str> = found.iter().map(|(kind, _)| kind).collect();
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

fn direction_index(direction: Direction) -> usize {
    match direction {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
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
