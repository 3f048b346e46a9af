//! JSON Schema validation of messages, routed by message type.
//!
//! [`SchemaValidation`] is a [`Layer`]: each inbound text message is held to
//! [`StructureLimits`] (before it is parsed), parsed once (the frame's JSON,
//! shared with later layers), routed by its type (a [`Discriminator`],
//! `/type` by default) to the schema registered for that type, and either
//! passed on **byte-for-byte unchanged** or dropped with an error reply.
//! Outbound messages can be validated too.
//!
//! ```
//! use serde_json::json;
//! use wsguard::Guard;
//! use wsguard::schema::SchemaValidation;
//!
//! let schemas = SchemaValidation::builder()
//!     .schema("join", json!({
//!         "type": "object",
//!         "properties": {"type": {"const": "join"}, "room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}},
//!         "required": ["type", "room"],
//!         "additionalProperties": false
//!     }))
//!     .schema_str("chat", r#"{"type": "object", "required": ["room", "text"]}"#)
//!     .build()?;
//! let guard = Guard::builder().without_auth().json_schema(schemas).build()?;
//! # Ok::<(), wsguard::ConfigError>(())
//! ```
//!
//! # Answers
//!
//! | input | answer |
//! |-------|--------|
//! | valid for its type's schema | passed on unchanged (or sanitized, if configured) |
//! | fails its schema | `invalid_message` with `path`, `keyword` and `errors` |
//! | breaks a [`StructureLimits`] bound | `invalid_message`, `keyword` `maxDepth` / `maxLength` / `maxItems` / `maxProperties` |
//! | type without a schema, no default schema | `unknown_type` |
//! | text that is not JSON | per [`NonJson`]; by default `invalid_message`, `keyword` `json` |
//! | binary | per [`NonJson`]; by default `invalid_message`, `keyword` `binary` |
//! | the [`Strikes`]-th refusal within the window (default 10 in 60 s) | close 1008, "too many invalid messages" |
//! | text that is not UTF-8 | close 1007 (by the adapters, before any layer) |
//! | outbound message failing its outbound schema | not delivered; audited |
//!
//! An `invalid_message` reply names where and why, never what:
//!
//! ```json
//! {"type":"error","code":"invalid_message","message":"message failed validation",
//!  "path":"/room","keyword":"pattern","errors":[{"path":"/room","keyword":"pattern"}]}
//! ```
//!
//! `path` and `keyword` are the first failure; `errors` lists at most
//! [`max_errors`](SchemaBuilder::max_errors). Paths are JSON pointers into
//! the message, so they contain its keys (never its values).
//!
//! # Schemas and references
//!
//! Schemas are compiled once, by [`SchemaBuilder::build`]; an invalid
//! schema is a [`ConfigError::Schema`](crate::ConfigError::Schema) then,
//! never a failure at run time. `$ref` resolves only against schemas the
//! application registered with [`SchemaBuilder::resource`] (and `$id`s
//! inside the schemas themselves): `jsonschema` is built without its HTTP
//! and file resolvers, and retrieval is switched off. `pattern` uses the
//! `regex` crate, whose matching time is linear in the input, so a schema's
//! pattern cannot be turned into a backtracking bomb by a message; patterns
//! with look-around are refused at build.
//!
//! # Order
//!
//! Put this layer before other layers that read the message's JSON (RBAC,
//! PII scrubbing): it is the one that keeps bombs away from the parser.
//!
//! # Sanitizing
//!
//! [`SchemaBuilder::sanitize`] HTML-escapes chosen fields of a valid
//! message, for applications that insert messages into pages. Escaping at
//! render time remains the real defence against cross-site scripting.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::audit;
use crate::layer::{self, Discriminator, Layer, Strikes};
use crate::message::{Direction, Frame};
use crate::outcome::{ErrorReply, Outcome};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

mod builder;
mod sanitize;
pub(crate) mod structure;

pub use builder::{Draft, SchemaBuilder};
pub use sanitize::Sanitizer;
pub use structure::StructureLimits;

/// The `keyword` and message of refused binary and non-JSON messages.
const BINARY: (&str, &str) = ("binary", "binary messages are not accepted");
const NOT_JSON: (&str, &str) = ("json", "message is not JSON");

/// A function that decides about a message that is not JSON.
pub type RawHandler = Arc<dyn Fn(&mut Frame, &mut Session) -> Outcome + Send + Sync>;

/// What to do with an inbound message that is not JSON: binary, or text
/// that does not parse.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum NonJson {
    /// Drop it with an `invalid_message` reply (and a strike). The default.
    #[default]
    Refuse,
    /// Let it through unvalidated.
    Allow,
    /// Let a function decide.
    Handler(RawHandler),
}

impl NonJson {
    /// [`NonJson::Handler`] from a closure.
    ///
    /// ```
    /// use wsguard::schema::{NonJson, SchemaValidation};
    /// use wsguard::{ErrorReply, Outcome};
    ///
    /// // Accept the text "ping" as a keep-alive; refuse other text.
    /// let policy = NonJson::handler(|frame, _session| match frame.text() {
    ///     Some("ping") => Outcome::Pass,
    ///     _ => Outcome::drop_with(ErrorReply::new("invalid_message", "expected JSON")),
    /// });
    /// let layer = SchemaValidation::builder().text_not_json(policy).build()?;
    /// # Ok::<(), wsguard::ConfigError>(())
    /// ```
    pub fn handler(f: impl Fn(&mut Frame, &mut Session) -> Outcome + Send + Sync + 'static) -> Self {
        Self::Handler(Arc::new(f))
    }
}

impl fmt::Debug for NonJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Refuse => "Refuse",
            Self::Allow => "Allow",
            Self::Handler(_) => "Handler(..)",
        })
    }
}

/// Compiled schemas for one direction.
struct Routes {
    by_type: HashMap<String, jsonschema::Validator>,
    default: Option<jsonschema::Validator>,
    allow_unknown: bool,
}

/// Where a message goes.
enum Route<'a> {
    Validate(&'a jsonschema::Validator),
    Unknown,
    Pass,
}

impl Routes {
    fn new(allow_unknown: bool) -> Self {
        Self { by_type: HashMap::new(), default: None, allow_unknown }
    }

    /// Adds a schema; `false` if its slot was taken.
    fn insert(&mut self, message_type: Option<String>, validator: jsonschema::Validator) -> bool {
        match message_type {
            Some(t) => match self.by_type.entry(t) {
                Entry::Occupied(_) => false,
                Entry::Vacant(slot) => {
                    slot.insert(validator);
                    true
                }
            },
            None => self.default.replace(validator).is_none(),
        }
    }

    fn route(&self, message_type: Option<&str>) -> Route<'_> {
        match message_type.and_then(|t| self.by_type.get(t)).or(self.default.as_ref()) {
            Some(validator) => Route::Validate(validator),
            None if self.allow_unknown => Route::Pass,
            None => Route::Unknown,
        }
    }
}

/// The schema validation layer. Build one with [`SchemaValidation::builder`]
/// and add it with [`GuardBuilder::json_schema`](crate::GuardBuilder::json_schema).
///
/// See the [module docs](self) for the answers it gives.
pub struct SchemaValidation {
    discriminator: Discriminator,
    inbound: Routes,
    outbound: Option<Routes>,
    structure: StructureLimits,
    text_not_json: NonJson,
    binary: NonJson,
    strikes: Option<Strikes>,
    max_errors: usize,
    /// Per message type: (pointer or the whole message, sanitizer).
    sanitize: HashMap<String, Vec<(Option<String>, Sanitizer)>>,
}

impl SchemaValidation {
    /// Starts building a validation layer; see [`SchemaBuilder`] for the defaults.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::new()
    }

    /// Whether this layer parses every JSON message going `direction` into
    /// a tree (inbound it validates; outbound only with outbound schemas).
    pub(crate) fn builds_tree(&self, direction: Direction) -> bool {
        match direction {
            Direction::Inbound => true,
            Direction::Outbound => self.outbound.is_some(),
        }
    }

    /// Answers a refused message: a reply, or a close on the last strike.
    fn refuse(&self, session: &mut Session, now: Instant, reply: ErrorReply) -> Outcome {
        layer::refuse::<Self>(self.strikes.as_ref(), session, now, reply, || {
            Rejection::new(RejectionKind::PolicyViolation, "too many invalid messages")
        })
    }

    /// Applies `policy`; a refusal is `invalid_message` with the kind's
    /// keyword and message.
    fn non_json(
        &self,
        policy: &NonJson,
        (keyword, message): (&str, &'static str),
        frame: &mut Frame,
        session: &mut Session,
        now: Instant,
    ) -> Outcome {
        match policy {
            NonJson::Refuse => {
                self.refuse(session, now, invalid_message(message, vec![(String::new(), keyword.to_owned())]))
            }
            NonJson::Allow => Outcome::Pass,
            NonJson::Handler(handler) => handler(frame, session),
        }
    }

    /// The first `max_errors` failures of `value` against `validator`, as (path, keyword).
    fn failures(&self, validator: &jsonschema::Validator, value: &Value) -> Vec<(String, String)> {
        let mut failures: Vec<_> = validator
            .iter_errors(value)
            .take(self.max_errors)
            .map(|e| (e.instance_path().to_string(), e.kind().keyword().to_owned()))
            .collect();
        if failures.is_empty() {
            failures.push((String::new(), "schema".to_owned()));
        }
        failures
    }

    /// Applies the sanitizers for the message's type, taking the frame's JSON
    /// for rewriting only if a string would change.
    fn sanitize(&self, frame: &mut Frame) {
        let Some(value) = frame.json() else { return };
        let Some(rules) = self.discriminator.message_type(value).and_then(|t| self.sanitize.get(t)) else { return };
        if !rules.iter().any(|(p, s)| at(value, p.as_deref()).is_some_and(|v| s.would_change(v))) {
            return;
        }
        let Some(value) = frame.json_mut() else { return };
        for (pointer, sanitizer) in rules {
            let target = match pointer {
                Some(p) => value.pointer_mut(p),
                None => Some(&mut *value),
            };
            if let Some(target) = target {
                sanitizer.apply_all(target);
            }
        }
    }
}

/// The value at `pointer`, or the whole value.
fn at<'v>(value: &'v Value, pointer: Option<&str>) -> Option<&'v Value> {
    match pointer {
        Some(p) => value.pointer(p),
        None => Some(value),
    }
}

/// `invalid_message` with the first failure as `path` and `keyword`, and
/// all of them as `errors`.
fn invalid_message(message: &'static str, failures: Vec<(String, String)>) -> ErrorReply {
    let (path, keyword) = failures.first().cloned().unwrap_or_default();
    let errors: Vec<Value> =
        failures.into_iter().map(|(path, keyword)| serde_json::json!({"path": path, "keyword": keyword})).collect();
    ErrorReply::new("invalid_message", message)
        .with_field("path", path)
        .with_field("keyword", keyword)
        .with_field("errors", errors)
}

/// Whether `text` can be JSON at all: its first non-blank byte starts a value.
fn looks_like_json(text: &str) -> bool {
    text.bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| matches!(b, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'))
}

impl Layer for SchemaValidation {
    fn name(&self) -> &'static str {
        "schema"
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        let Some(text) = frame.text() else {
            return self.non_json(&self.binary, BINARY, frame, session, now);
        };
        if !looks_like_json(text) {
            return self.non_json(&self.text_not_json, NOT_JSON, frame, session, now);
        }
        if let Err(violation) = frame.check_structure(&self.structure) {
            let reply =
                invalid_message("message failed validation", vec![(violation.path, violation.keyword.to_owned())]);
            return self.refuse(session, now, reply);
        }
        let Some(value) = frame.json() else {
            return self.non_json(&self.text_not_json, NOT_JSON, frame, session, now);
        };
        let message_type = self.discriminator.message_type(value);
        let failures = match self.inbound.route(message_type) {
            Route::Unknown => return self.refuse(session, now, ErrorReply::unknown_type()),
            Route::Pass => None,
            Route::Validate(validator) if validator.is_valid(value) => None,
            Route::Validate(validator) => Some(self.failures(validator, value)),
        };
        if let Some(failures) = failures {
            return self.refuse(session, now, invalid_message("message failed validation", failures));
        }
        if !self.sanitize.is_empty() {
            self.sanitize(frame);
        }
        Outcome::Pass
    }

    fn on_outbound(&self, frame: &mut Frame, session: &mut Session, _: Instant) -> Outcome {
        let Some(routes) = &self.outbound else { return Outcome::Pass };
        if frame.is_unreadable_json() {
            // What a client may read but the validator cannot: fail closed.
            audit::outbound_invalid(session, "(other)", "", "unreadable");
            return Outcome::drop_silently();
        }
        let Some(value) = frame.json() else { return Outcome::Pass };
        let message_type = self.discriminator.message_type(value);
        match routes.route(message_type) {
            Route::Validate(validator) if !validator.is_valid(value) => {
                // The audit names the schema's location, not the message's
                // path: the message's keys are the application's data.
                let (schema_path, keyword) = validator
                    .iter_errors(value)
                    .next()
                    .map(|e| (e.schema_path().to_string(), e.kind().keyword().to_owned()))
                    .unwrap_or_default();
                let configured = message_type.and_then(|t| routes.by_type.get_key_value(t)).map(|(t, _)| t.as_str());
                audit::outbound_invalid(session, configured.unwrap_or("(other)"), &schema_path, &keyword);
                Outcome::drop_silently()
            }
            _ => Outcome::Pass,
        }
    }
}

impl fmt::Debug for SchemaValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<_> = self.inbound.by_type.keys().collect();
        types.sort();
        f.debug_struct("SchemaValidation")
            .field("discriminator", &self.discriminator)
            .field("types", &types)
            .field("default_schema", &self.inbound.default.is_some())
            .field("outbound", &self.outbound.is_some())
            .field("structure", &self.structure)
            .field("text_not_json", &self.text_not_json)
            .field("binary", &self.binary)
            .field("strikes", &self.strikes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
