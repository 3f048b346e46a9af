//! Whether digits are a phone number that exists, by libphonenumber's
//! metadata (the `phonenumber` crate's copy of it), with no tables of our
//! own.
//!
//! Two checks, as libphonenumber has them:
//! - [`Check::Possible`]: the region's general pattern (its lengths and
//!   leading digits, `[2-9]\d{9}` for the US), for numbers whose writing
//!   already says "phone" (`+44 20 ...`, `(415) 555-0132`, a context word).
//!   A number that does not exist yet but could is still found.
//! - [`Check::Valid`]: the patterns of every number type (fixed line,
//!   mobile, toll free, premium rate, shared cost, VoIP, personal, pager,
//!   UAN, voicemail), for shapes that other numbers share (`0604 7587 3752`).
//!
//! Each becomes one anchored regex per calling code (the union over the
//! regions sharing it) and per region, compiled the first time a candidate
//! needs it. The regex crate matches in time linear in the digits, and only
//! candidates (digit runs already shaped like phone numbers) are checked,
//! so clean text never reaches this module.

use std::collections::HashMap;
use std::sync::OnceLock;

use phonenumber::metadata::{DATABASE, Metadata};
use regex::bytes::Regex;

/// How strictly digits are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The general pattern: a number the region could have.
    Possible,
    /// A number type's pattern: a number the region has.
    Valid,
}

/// The two patterns of a calling code or a region.
struct Patterns {
    possible: Lazy,
    valid: Lazy,
}

impl Patterns {
    fn is_match(&self, digits: &[u8], check: Check) -> bool {
        match check {
            Check::Possible => self.possible.is_match(digits),
            Check::Valid => self.valid.is_match(digits),
        }
    }
}

/// Patterns per calling code (indexed by the code) and per region.
struct Tables {
    by_code: Vec<Option<Patterns>>,
    regions: Vec<Region>,
    ids: HashMap<String, usize>,
}

/// A region's national prefix and patterns.
struct Region {
    prefix: Option<String>,
    patterns: Patterns,
}

/// A pattern's source, and its regex once compiled.
struct Lazy {
    source: String,
    regex: OnceLock<Option<Regex>>,
}

impl Lazy {
    fn new(patterns: Vec<String>) -> Self {
        Lazy { source: format!("^(?:{})$", patterns.join("|")), regex: OnceLock::new() }
    }

    fn is_match(&self, digits: &[u8]) -> bool {
        // The patterns come from the metadata and parse with the regex crate
        // (the `phonenumber` crate compiles the same ones); a pattern that
        // did not would match nothing.
        let regex = self.regex.get_or_init(|| {
            regex::bytes::RegexBuilder::new(&self.source).unicode(false).size_limit(1 << 24).build().ok()
        });
        regex.as_ref().is_some_and(|r| r.is_match(digits))
    }
}

/// Calling codes have one to three digits.
const CODES: usize = 1000;

/// A pattern of the metadata, without the layout's whitespace (the
/// patterns hold no spaces of their own).
fn pattern(desc: &phonenumber::metadata::Descriptor) -> String {
    desc.national_number().as_str().chars().filter(|c| !c.is_whitespace()).collect()
}

/// The national-number patterns of every type a region has.
fn patterns(m: &Metadata) -> Vec<String> {
    let d = m.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    .map(pattern)
    .collect()
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut codes: Vec<(Vec<String>, Vec<String>)> = vec![(Vec::new(), Vec::new()); CODES];
        let mut regions = Vec::new();
        let mut ids = HashMap::new();
        for m in DATABASE.iter() {
            let (general, types) = (pattern(m.descriptors().general()), patterns(m));
            if let Some(code) = codes.get_mut(usize::from(m.country_code())) {
                code.0.push(general.clone());
                code.1.extend(types.iter().cloned());
            }
            ids.insert(m.id().to_owned(), regions.len());
            let patterns = Patterns { possible: Lazy::new(vec![general]), valid: Lazy::new(types) };
            regions.push(Region { prefix: m.national_prefix().map(str::to_owned), patterns });
        }
        let by_code = codes
            .into_iter()
            .map(|(general, types)| {
                (!general.is_empty()).then(|| Patterns { possible: Lazy::new(general), valid: Lazy::new(types) })
            })
            .collect();
        Tables { by_code, regions, ids }
    })
}

/// Whether ASCII digits written after `+` (calling code, then national
/// number) are a number of a region with that calling code.
pub(crate) fn international(d: &[u8], check: Check) -> bool {
    if !(7..=15).contains(&d.len()) || d[0] == b'0' {
        return false;
    }
    // Calling codes are prefix-free: at most one of the first one, two or
    // three digits is one.
    (1..=3).any(|n| {
        let code = d[..n].iter().fold(0u16, |a, &c| a * 10 + u16::from(c - b'0'));
        with_code(code, &d[n..], check)
    })
}

/// Whether ASCII digits are a national number of a region with calling
/// code `code` (`1` for the NANP, `44` for the UK).
pub(crate) fn with_code(code: u16, national: &[u8], check: Check) -> bool {
    tables().by_code.get(usize::from(code)).and_then(Option::as_ref).is_some_and(|p| p.is_match(national, check))
}

/// The regions whose national formats count, resolved once when the
/// scrubber is built.
#[derive(Clone, Debug, Default)]
pub(crate) struct Regions {
    list: Vec<usize>,
    /// The US or Canada: NANP groupings count.
    pub(crate) nanp: bool,
    /// Spain, India, Brazil: their groupings without a trunk prefix count.
    pub(crate) spain: Option<usize>,
    pub(crate) india: Option<usize>,
    pub(crate) brazil: bool,
}

impl Regions {
    /// Resolves ISO 3166 region codes.
    ///
    /// # Errors
    ///
    /// The first code libphonenumber's metadata does not have.
    pub(crate) fn new(ids: &[String]) -> Result<Self, String> {
        let tables = tables();
        let list = ids
            .iter()
            .map(|id| tables.ids.get(id).copied().ok_or_else(|| id.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let find = |id: &str| ids.iter().position(|r| r == id).map(|k| list[k]);
        Ok(Regions {
            nanp: find("US").is_some() || find("CA").is_some(),
            spain: find("ES"),
            india: find("IN"),
            brazil: find("BR").is_some(),
            list,
        })
    }

    /// Whether ASCII digits as dialled inside one of the regions are a
    /// number there (see [`national`]).
    pub(crate) fn any_national(&self, d: &[u8], check: Check) -> bool {
        self.list.iter().any(|&r| national(d, r, check))
    }
}

/// Whether ASCII digits as dialled inside region `r` are a number there:
/// after its national prefix where it has one (`020 7946 0958`), whole
/// where it has none (Spain, Italy).
pub(crate) fn national(d: &[u8], r: usize, check: Check) -> bool {
    let region = &tables().regions[r];
    let rest = match &region.prefix {
        Some(p) if d.starts_with(p.as_bytes()) => &d[p.len()..],
        Some(_) => return false,
        None => d,
    };
    region.patterns.is_match(rest, check)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern of the metadata compiles with the regex crate: one that
    /// did not would match nothing, silently, after a `phonenumber` upgrade.
    #[test]
    fn every_calling_code_and_region_compiles() {
        let tables = tables();
        let mut compiled = 0;
        for patterns in tables.by_code.iter().flatten().chain(tables.regions.iter().map(|r| &r.patterns)) {
            for lazy in [&patterns.possible, &patterns.valid] {
                lazy.is_match(b"0");
                assert!(lazy.regex.get().is_some_and(Option::is_some), "{}", lazy.source);
                compiled += 1;
            }
        }
        assert!(compiled > 400, "{compiled}");
    }

    #[test]
    fn possible_is_wider_than_valid() {
        let us = Regions::new(&["US".to_owned()]).unwrap();
        assert!(us.nanp);
        // Area code 745 is not in service: possible, not valid.
        assert!(international(b"17452109180", Check::Possible));
        assert!(!international(b"17452109180", Check::Valid));
        assert!(international(b"14155550132", Check::Valid));
        // No calling code 999; a leading zero is no calling code.
        assert!(!international(b"99912345678", Check::Possible));
        assert!(!international(b"04155550132", Check::Possible));
        assert_eq!(Regions::new(&["GB".to_owned(), "XX".to_owned()]).unwrap_err(), "XX");
    }
}
