//! Role-based access control per message type, channel and field.
//!
//! A [`Policy`] names roles (with inheritance) and their permissions
//! (colon-separated, with `*` wildcard segments), the permission each
//! inbound and outbound message type needs (templated from the message,
//! such as `room:{/room}:write`), and fields of outbound messages that only
//! some principals may see. [`Policy::build`] checks it and compiles an
//! [`Rbac`] layer; add it with
//! [`GuardBuilder::rbac`](crate::GuardBuilder::rbac).
//!
//! Roles come from the session's [`Principal`](crate::Principal) at each
//! message, so a re-authentication or another change of principal takes
//! effect from the next message. Role names a policy does not know grant
//! nothing.
//!
//! # Permissions
//!
//! | granted | covers | does not cover |
//! |---------|--------|----------------|
//! | `chat:read` | `chat:read` | `chat:reads`, `chat:read:all` |
//! | `chat:*` | `chat:read`, `chat:room:write` | `chat`, `chatroom:x` |
//! | `room:*:write` | `room:42:write` | `room:42:read`, `room:42:write:x` |
//! | `*` | everything | |
//!
//! A template field that is missing, not a string, empty, `*` or contains
//! `:` makes the rule deny: a message cannot widen its own permission.
//!
//! # Answers
//!
//! | input | answer |
//! |-------|--------|
//! | inbound type whose permission the principal lacks | dropped, `forbidden` reply |
//! | inbound type without a rule | `forbidden`, unless `allow_unmapped_inbound` |
//! | inbound message without a type (binary, not JSON, no type field) | as a type without a rule |
//! | the [`Strikes`]-th denial within the window (default 10 in 60 s) | close 4403 "too many forbidden messages" |
//! | outbound type whose permission the principal lacks | not delivered to that client, silently |
//! | outbound field whose permission the principal lacks | removed or masked (`"***"`) for that client |
//! | outbound object or array the parser cannot read ([`Frame::is_unreadable_json`]), when the policy has outbound or field rules | not delivered, silently: fail closed |
//! | outbound text that is not JSON at all (plain text) | delivered: no type or field rule can apply |
//!
//! Every denial is an `access_denied` audit event with the principal, the
//! message type and the permission, never the payload.
//!
//! # Checking a permission elsewhere
//!
//! [`Rbac::permits`] answers "may this session do `permission`?" with the
//! same compiled policy, so other layers (the PII scrubber's role
//! exemptions) need no second policy language. `Rbac` is an `Arc` inside:
//! clone it into those layers.
//!
//! # Cost
//!
//! Plain rules are decided from a per-role table built by
//! [`Policy::build`]: a hash lookup of the message type and one of each of
//! the principal's roles, with no string formatting. The tables are fixed
//! after the build and only looked up, so they use the fast `FxHash`
//! rather than the DoS-resistant default (no input can grow them). Templated rules
//! format the filled permission and test it against the principal's
//! effective permissions.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value;

use crate::audit;
use crate::layer::{self, Discriminator, Layer, Strikes};
use crate::message::{Direction, Frame};
use crate::outcome::{ErrorReply, Outcome};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

mod permission;
mod policy;

use permission::{Grant, Piece, Required};
pub use policy::{FieldAction, FieldRule, Policy, Role};

/// One role's effective permissions: exact ones in a set, wildcard ones
/// tested in turn.
#[derive(Debug, Default)]
struct PermissionSet {
    exact: HashSet<String>,
    wildcards: Vec<Grant>,
}

impl Rule {
    /// The permission as the policy wrote it (a template unfilled): what an
    /// audit event may name, since a filled one holds the client's text.
    fn configured(&self) -> &str {
        match self {
            Self::Plain { permission, .. } => permission,
            Self::Template { text, .. } => text,
        }
    }
}

impl PermissionSet {
    fn add(&mut self, grant: Grant) {
        match grant.as_exact() {
            Some(exact) => {
                self.exact.insert(exact);
            }
            None if !self.wildcards.contains(&grant) => self.wildcards.push(grant),
            None => {}
        }
    }

    fn covers(&self, required: &str) -> bool {
        self.exact.contains(required) || self.wildcards.iter().any(|g| g.covers(required))
    }
}

/// A compiled rule.
#[derive(Debug)]
enum Rule {
    /// Decided per role at build time.
    Plain { permission: String, allowed: Vec<bool> },
    /// Filled from the message at decision time.
    Template { pieces: Vec<Piece>, text: String },
}

struct Compiled {
    /// Role name → index into `sets` and the rules' tables.
    index: HashMap<String, usize>,
    sets: Vec<PermissionSet>,
    anonymous: Option<usize>,
    inbound: HashMap<String, Rule>,
    outbound: HashMap<String, Rule>,
    /// Field rules with their per-role table.
    fields: Vec<(FieldRule, Vec<bool>)>,
    allow_unmapped_inbound: bool,
    discriminator: Discriminator,
    strikes: Option<Strikes>,
}

/// The compiled RBAC layer. Build it with [`Policy::build`].
///
/// # Cloning
///
/// An `Arc` inside: clones are cheap and share the compiled policy.
#[derive(Clone)]
pub struct Rbac {
    inner: Arc<Compiled>,
}

impl Rbac {
    /// The role indices of the session: its principal's known roles, or the
    /// anonymous role when it has no principal.
    fn roles<'s>(&'s self, session: &'s Session) -> impl Iterator<Item = usize> + 's {
        let inner = &self.inner;
        let named =
            session.principal().into_iter().flat_map(|p| p.roles.iter()).filter_map(|r| inner.index.get(r).copied());
        let anonymous = inner.anonymous.filter(|_| session.principal().is_none());
        named.chain(anonymous)
    }

    /// Whether this layer needs the parsed tree of messages going
    /// `direction`: for templated rules and field rules (a plain rule
    /// needs only the type).
    pub(crate) fn builds_tree(&self, direction: Direction) -> bool {
        let templated = |rules: &HashMap<String, Rule>| rules.values().any(|r| matches!(r, Rule::Template { .. }));
        match direction {
            Direction::Inbound => templated(&self.inner.inbound),
            Direction::Outbound => templated(&self.inner.outbound) || !self.inner.fields.is_empty(),
        }
    }

    /// Whether the session's roles grant the concrete `permission`
    /// (no template, no wildcard: `room:42:write`).
    pub fn permits(&self, session: &Session, permission: &str) -> bool {
        self.roles(session).any(|r| self.inner.sets[r].covers(permission))
    }

    /// Whether `rule` allows the message for the session. Only a template
    /// reads the message (its parsed value).
    fn decide(&self, rule: &Rule, session: &Session, frame: &mut Frame) -> bool {
        match rule {
            Rule::Plain { allowed, .. } => self.roles(session).any(|r| allowed[r]),
            Rule::Template { pieces, .. } => {
                Required::fill(pieces, frame.json()).is_some_and(|permission| self.permits(session, &permission))
            }
        }
    }

    /// Hides the fields this session may not see, rewriting the JSON only
    /// when one is present.
    fn filter_fields(&self, frame: &mut Frame, session: &Session) {
        let hidden: Vec<&FieldRule> = {
            let Some(value) = frame.json() else { return };
            let message_type = self.inner.discriminator.message_type(value);
            self.inner
                .fields
                .iter()
                .filter(|(rule, _)| rule.message_type.is_none() || rule.message_type.as_deref() == message_type)
                .filter(|(rule, _)| value.pointer(&rule.pointer).is_some())
                .filter(|(_, allowed)| !self.roles(session).any(|r| allowed[r]))
                .map(|(rule, _)| rule)
                .collect()
        };
        if hidden.is_empty() {
            return;
        }
        let Some(value) = frame.json_mut() else { return };
        for rule in hidden {
            match rule.action {
                FieldAction::Mask => {
                    if let Some(field) = value.pointer_mut(&rule.pointer) {
                        *field = Value::String("***".into());
                    }
                }
                FieldAction::Remove => remove(value, &rule.pointer),
            }
        }
    }

    /// Refuses a message under `rule` (with its type, as the policy names
    /// it). The audit event holds only the policy's words: `(other)` for a
    /// type without a rule, the permission unfilled.
    fn deny(
        &self,
        session: &mut Session,
        direction: Direction,
        rule: Option<(&String, &Rule)>,
        now: Instant,
    ) -> Outcome {
        let (message_type, permission) = rule.map_or(("(other)", "(no rule)"), |(t, r)| (t.as_str(), r.configured()));
        audit::access_denied(session, direction, message_type, permission);
        if direction == Direction::Outbound {
            return Outcome::drop_silently();
        }
        layer::refuse::<Self>(self.inner.strikes.as_ref(), session, now, ErrorReply::forbidden(), || {
            Rejection::new(RejectionKind::Forbidden, "too many forbidden messages")
        })
    }
}

/// Removes the value at `pointer` from its parent object or array.
fn remove(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else { return };
    let key = layer::unescape_segment(last);
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Some(i) = key.parse::<usize>().ok().filter(|&i| i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

impl Layer for Rbac {
    fn name(&self) -> &'static str {
        "rbac"
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        let rule = frame.message_type(&self.inner.discriminator).and_then(|t| self.inner.inbound.get_key_value(t));
        let allowed = match rule {
            Some((_, rule)) => self.decide(rule, session, frame),
            None => self.inner.allow_unmapped_inbound,
        };
        match allowed {
            true => Outcome::Pass,
            false => self.deny(session, Direction::Inbound, rule, now),
        }
    }

    fn on_outbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        if self.inner.outbound.is_empty() && self.inner.fields.is_empty() {
            // Nothing to decide outbound: the message is not even parsed.
            return Outcome::Pass;
        }
        // The type is read without building the tree; a plain rule needs
        // nothing more.
        let rule = frame.message_type(&self.inner.discriminator).and_then(|t| self.inner.outbound.get_key_value(t));
        if frame.is_unreadable_json() {
            // A client may read what the guard cannot (`1e999`, a lone
            // surrogate, deep nesting, JSON in a binary frame): fail closed.
            return self.deny(session, Direction::Outbound, None, now);
        }
        if let Some(rule) = rule.filter(|(_, rule)| !self.decide(rule, session, frame)) {
            return self.deny(session, Direction::Outbound, Some(rule), now);
        }
        if !self.inner.fields.is_empty() {
            self.filter_fields(frame, session);
        }
        Outcome::Pass
    }
}

impl fmt::Debug for Rbac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut roles: Vec<_> = self.inner.index.keys().collect();
        roles.sort();
        f.debug_struct("Rbac")
            .field("roles", &roles)
            .field("inbound_rules", &self.inner.inbound.len())
            .field("outbound_rules", &self.inner.outbound.len())
            .field("field_rules", &self.inner.fields.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
