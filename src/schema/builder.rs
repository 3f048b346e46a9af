//! [`SchemaBuilder`]: collects schemas and settings; compiles them once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{NonJson, Routes, SchemaValidation};
use crate::error::ConfigError;
use crate::layer::{Discriminator, Strikes};
use crate::schema::{Sanitizer, StructureLimits};

/// The JSON Schema dialect a schema is read as, unless it names its own
/// with `$schema`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Draft {
    /// Draft 4, as in API Gateway and Kong request models.
    #[serde(rename = "draft-04")]
    Draft4,
    /// Draft 6.
    #[serde(rename = "draft-06")]
    Draft6,
    /// Draft 7.
    #[serde(rename = "draft-07")]
    Draft7,
    /// Draft 2019-09.
    #[serde(rename = "2019-09")]
    Draft201909,
    /// Draft 2020-12, the default.
    #[default]
    #[serde(rename = "2020-12")]
    Draft202012,
}

impl Draft {
    fn to_jsonschema(self) -> jsonschema::Draft {
        match self {
            Self::Draft4 => jsonschema::Draft::Draft4,
            Self::Draft6 => jsonschema::Draft::Draft6,
            Self::Draft7 => jsonschema::Draft::Draft7,
            Self::Draft201909 => jsonschema::Draft::Draft201909,
            Self::Draft202012 => jsonschema::Draft::Draft202012,
        }
    }
}

/// A schema as given: parsed, or text parsed at build time.
#[derive(Clone, Debug)]
enum Source {
    Value(Value),
    Text(String),
}

/// Where a schema applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    Inbound(Option<String>),
    Outbound(Option<String>),
}

/// Builds a [`SchemaValidation`] layer. Obtain one with
/// [`SchemaValidation::builder`].
///
/// Nothing is checked until [`build`](Self::build), which compiles every
/// schema once; the builder can be reused.
///
/// | setting | default |
/// |---------|---------|
/// | [`draft`](Self::draft) | [`Draft::Draft202012`] |
/// | [`discriminator`](Self::discriminator) | `/type` |
/// | [`allow_unknown_types`](Self::allow_unknown_types) | `false`: `unknown_type` |
/// | [`structure`](Self::structure) | [`StructureLimits::default()`] |
/// | [`text_not_json`](Self::text_not_json) | [`NonJson::Refuse`] |
/// | [`binary`](Self::binary) | [`NonJson::Refuse`] |
/// | [`strikes`](Self::strikes) | 10 refusals within 60 s close with 1008 |
/// | [`max_errors`](Self::max_errors) | 5 |
/// | [`validate_formats`](Self::validate_formats) | `true` |
#[must_use]
#[derive(Clone, Debug)]
pub struct SchemaBuilder {
    draft: Draft,
    discriminator: Discriminator,
    schemas: Vec<(Target, Source)>,
    dirs: Vec<PathBuf>,
    resources: Vec<(String, Source)>,
    allow_unknown_types: bool,
    structure: StructureLimits,
    text_not_json: NonJson,
    binary: NonJson,
    strikes: Option<Strikes>,
    max_errors: usize,
    validate_formats: bool,
    sanitize: Vec<(String, Option<String>, Sanitizer)>,
}

impl SchemaBuilder {
    pub(super) fn new() -> Self {
        Self {
            draft: Draft::default(),
            discriminator: Discriminator::default(),
            schemas: Vec::new(),
            dirs: Vec::new(),
            resources: Vec::new(),
            allow_unknown_types: false,
            structure: StructureLimits::default(),
            text_not_json: NonJson::Refuse,
            binary: NonJson::Refuse,
            strikes: Some(Strikes::DEFAULT),
            max_errors: 5,
            validate_formats: true,
            sanitize: Vec::new(),
        }
    }

    /// The schema for inbound messages of type `message_type`.
    pub fn schema(self, message_type: impl Into<String>, schema: Value) -> Self {
        self.add(Target::Inbound(Some(message_type.into())), Source::Value(schema))
    }

    /// [`schema`](Self::schema) from JSON text, parsed at build time.
    pub fn schema_str(self, message_type: impl Into<String>, schema: impl Into<String>) -> Self {
        self.add(Target::Inbound(Some(message_type.into())), Source::Text(schema.into()))
    }

    /// Every `<type>.json` file in `dir` is the inbound schema for `<type>`,
    /// read at build time. Other files are ignored.
    pub fn schema_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// The schema for inbound messages with no type, or a type that has no
    /// schema of its own. Without one, such messages get `unknown_type`
    /// (unless [`allow_unknown_types`](Self::allow_unknown_types)).
    pub fn default_schema(self, schema: Value) -> Self {
        self.add(Target::Inbound(None), Source::Value(schema))
    }

    /// The schema for outbound messages of type `message_type`: a message
    /// the application sends that fails it is not delivered. With
    /// `"additionalProperties": false` it stops a server bug from leaking a
    /// field (an `email`, say) to clients.
    ///
    /// Outbound messages of other types pass, unless an
    /// [`outbound_default_schema`](Self::outbound_default_schema) is set.
    pub fn outbound_schema(self, message_type: impl Into<String>, schema: Value) -> Self {
        self.add(Target::Outbound(Some(message_type.into())), Source::Value(schema))
    }

    /// The schema for outbound messages that have no schema of their own.
    /// `false` (the schema that nothing satisfies) blocks every outbound
    /// type not listed.
    pub fn outbound_default_schema(self, schema: Value) -> Self {
        self.add(Target::Outbound(None), Source::Value(schema))
    }

    /// A schema that others may `$ref` by `uri`. References are resolved
    /// only against these resources and the schemas' own `$id`s; nothing is
    /// ever fetched from the network or the file system.
    pub fn resource(mut self, uri: impl Into<String>, schema: Value) -> Self {
        self.resources.push((uri.into(), Source::Value(schema)));
        self
    }

    /// The dialect of schemas without `$schema`.
    pub fn draft(mut self, draft: Draft) -> Self {
        self.draft = draft;
        self
    }

    /// Where messages name their type; the default is `/type`.
    pub fn discriminator(mut self, discriminator: Discriminator) -> Self {
        self.discriminator = discriminator;
        self
    }

    /// Lets inbound messages without a schema through unvalidated (they
    /// still meet the structural limits), instead of answering
    /// `unknown_type`.
    pub fn allow_unknown_types(mut self, allow: bool) -> Self {
        self.allow_unknown_types = allow;
        self
    }

    /// Replaces the structural limits.
    pub fn structure(mut self, limits: StructureLimits) -> Self {
        self.structure = limits;
        self
    }

    /// What to do with inbound text that is not JSON.
    pub fn text_not_json(mut self, policy: NonJson) -> Self {
        self.text_not_json = policy;
        self
    }

    /// What to do with inbound binary messages.
    pub fn binary(mut self, policy: NonJson) -> Self {
        self.binary = policy;
        self
    }

    /// Replaces the strike policy; `None` never closes, only answers.
    pub fn strikes(mut self, strikes: Option<Strikes>) -> Self {
        self.strikes = strikes;
        self
    }

    /// The most failures listed in one `invalid_message` reply (at least one
    /// is always listed).
    pub fn max_errors(mut self, max: usize) -> Self {
        self.max_errors = max.max(1);
        self
    }

    /// Whether `format` (`email`, `date-time`, `uuid`, ...) is asserted
    /// rather than treated as an annotation, whatever the draft says.
    pub fn validate_formats(mut self, validate: bool) -> Self {
        self.validate_formats = validate;
        self
    }

    /// After validation, rewrites every string at or under `pointer` in
    /// inbound messages of type `message_type` with `sanitizer`.
    pub fn sanitize(
        mut self,
        message_type: impl Into<String>,
        pointer: impl Into<String>,
        sanitizer: Sanitizer,
    ) -> Self {
        self.sanitize.push((message_type.into(), Some(pointer.into()), sanitizer));
        self
    }

    /// After validation, rewrites every string value of inbound messages of
    /// type `message_type` with `sanitizer`.
    pub fn sanitize_all(mut self, message_type: impl Into<String>, sanitizer: Sanitizer) -> Self {
        self.sanitize.push((message_type.into(), None, sanitizer));
        self
    }

    fn add(mut self, target: Target, source: Source) -> Self {
        self.schemas.push((target, source));
        self
    }

    /// Reads the directories, parses and compiles every schema.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Schema`] naming the schema (its message type,
    /// `default`, `outbound:<type>`, a resource URI or a file path) for text
    /// that is not JSON, an unreadable directory, a type given twice, a
    /// schema that is not valid under its draft, an unresolvable `$ref` or
    /// a `pattern` the `regex` crate cannot compile;
    /// [`ConfigError::InvalidLimit`] for a zero structural limit;
    /// [`ConfigError::InvalidPointer`] for a sanitizer pointer that does not
    /// start with `/`.
    pub fn build(&self) -> Result<SchemaValidation, ConfigError> {
        self.structure.validate()?;
        let mut schemas = Vec::new();
        for (target, source) in &self.schemas {
            schemas.push((target.clone(), parse(&name_of(target), source)?));
        }
        for dir in &self.dirs {
            for (message_type, value) in read_dir(dir)? {
                schemas.push((Target::Inbound(Some(message_type)), value));
            }
        }
        let mut resources = Vec::new();
        for (uri, source) in &self.resources {
            resources.push((uri.as_str(), parse(uri, source)?));
        }
        let registry = resources
            .iter()
            .try_fold(jsonschema::Registry::new().draft(self.draft.to_jsonschema()), |registry, (uri, value)| {
                registry.add(uri, value)
            })
            .and_then(jsonschema::RegistryBuilder::prepare)
            .map_err(|e| ConfigError::Schema { name: "resources".into(), reason: e.to_string() })?;
        let options = jsonschema::options()
            .with_draft(self.draft.to_jsonschema())
            .offline()
            .with_registry(&registry)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .should_validate_formats(self.validate_formats);

        let mut inbound = Routes::new(self.allow_unknown_types);
        let mut outbound = Routes::new(true);
        let mut has_outbound = false;
        for (target, value) in schemas {
            let name = name_of(&target);
            let validator =
                options.build(&value).map_err(|e| ConfigError::Schema { name: name.clone(), reason: e.to_string() })?;
            let (routes, message_type) = match target {
                Target::Inbound(t) => (&mut inbound, t),
                Target::Outbound(t) => {
                    has_outbound = true;
                    (&mut outbound, t)
                }
            };
            if !routes.insert(message_type, validator) {
                return Err(ConfigError::Schema { name, reason: "given twice".into() });
            }
        }

        let mut sanitize: HashMap<String, Vec<(Option<String>, Sanitizer)>> = HashMap::new();
        for (message_type, pointer, sanitizer) in &self.sanitize {
            if let Some(pointer) = pointer.as_ref().filter(|p| !p.starts_with('/')) {
                return Err(ConfigError::InvalidPointer { pointer: pointer.clone(), reason: "must start with `/`" });
            }
            sanitize.entry(message_type.clone()).or_default().push((pointer.clone(), *sanitizer));
        }

        Ok(SchemaValidation {
            discriminator: self.discriminator.clone(),
            inbound,
            outbound: has_outbound.then_some(outbound),
            structure: self.structure,
            text_not_json: self.text_not_json.clone(),
            binary: self.binary.clone(),
            strikes: self.strikes,
            max_errors: self.max_errors,
            sanitize,
        })
    }
}

fn name_of(target: &Target) -> String {
    match target {
        Target::Inbound(Some(t)) => t.clone(),
        Target::Inbound(None) => "default".into(),
        Target::Outbound(Some(t)) => format!("outbound:{t}"),
        Target::Outbound(None) => "outbound:default".into(),
    }
}

fn parse(name: &str, source: &Source) -> Result<Value, ConfigError> {
    match source {
        Source::Value(value) => Ok(value.clone()),
        Source::Text(text) => serde_json::from_str(text)
            .map_err(|e| ConfigError::Schema { name: name.into(), reason: format!("not JSON: {e}") }),
    }
}

/// The `<type>.json` files of `dir`, in name order.
fn read_dir(dir: &Path) -> Result<Vec<(String, Value)>, ConfigError> {
    let error = |path: &Path, reason: String| ConfigError::Schema { name: path.display().to_string(), reason };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .and_then(|entries| entries.map(|entry| entry.map(|e| e.path())).collect())
        .map_err(|e| error(dir, e.to_string()))?;
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "json") && path.is_file());
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let message_type = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| error(&path, e.to_string()))?;
            let value = serde_json::from_str(&text).map_err(|e| error(&path, format!("not JSON: {e}")))?;
            Ok((message_type, value))
        })
        .collect()
}
