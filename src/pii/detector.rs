//! Custom detectors: the [`Detector`] trait and [`RegexDetector`].

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::error::ConfigError;

/// A detector of your own, added with
/// [`ScrubberBuilder::detector`](super::ScrubberBuilder::detector).
///
/// It is called with each decoded JSON string value of a frame (or the whole
/// text of a non-JSON frame) and pushes the byte ranges it finds, relative
/// to `text`. Its [`name`](Self::name) names its findings, its actions and
/// its audit counts, like a [`Kind`](super::Kind)'s name.
///
/// Custom detectors run after the built-in pass, on the same strings; a
/// range that overlaps an earlier finding is ignored.
pub trait Detector: fmt::Debug + Send + Sync + 'static {
    /// The name used in findings, configuration and audit events.
    fn name(&self) -> &'static str;

    /// Pushes the byte ranges of `text` that hold what this detector finds.
    fn detect(&self, text: &str, found: &mut Vec<Range<usize>>);
}

type Validator = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// "A regex, an optional validator and a name": the short way to a
/// [`Detector`].
///
/// The regex crate guarantees linear-time matching, so a pattern cannot be
/// driven into catastrophic backtracking by a message.
///
/// # Examples
///
/// ```
/// use wsguard::pii::{RegexDetector, Scrubber};
///
/// let employee_id = RegexDetector::new("employee_id", r"\bEMP-\d{6}\b")?
///     .validate(|id| !id.ends_with("000000"));
/// let scrubber = Scrubber::builder().detector(employee_id).build()?;
/// let found = scrubber.find("badge EMP-123456, test badge EMP-000000");
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].kind(), "employee_id");
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct RegexDetector {
    name: &'static str,
    regex: regex::Regex,
    validate: Option<Validator>,
}

impl RegexDetector {
    /// A detector reporting every match of `pattern` as `name`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Pii`] when the pattern does not compile.
    pub fn new(name: &'static str, pattern: &str) -> Result<Self, ConfigError> {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| ConfigError::Pii { item: format!("detector `{name}`"), reason: e.to_string() })?;
        Ok(Self { name, regex, validate: None })
    }

    /// Keeps only the matches for which `check` returns `true` (a checksum,
    /// a lookup).
    #[must_use]
    pub fn validate(mut self, check: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.validate = Some(Arc::new(check));
        self
    }
}

impl fmt::Debug for RegexDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegexDetector")
            .field("name", &self.name)
            .field("regex", &self.regex.as_str())
            .field("validate", &self.validate.is_some())
            .finish()
    }
}

impl Detector for RegexDetector {
    fn name(&self) -> &'static str {
        self.name
    }

    fn detect(&self, text: &str, found: &mut Vec<Range<usize>>) {
        for m in self.regex.find_iter(text) {
            if self.validate.as_ref().is_none_or(|check| check(m.as_str())) {
                found.push(m.range());
            }
        }
    }
}
