//! The built-in detectors' single pass over a text.
//!
//! One loop walks the bytes. A 256-entry table says which bytes can start
//! something (digits, `+`, `(`, `@`, `:`, `=`, `-`, and letters that begin
//! a prefix or a hex address); every other byte costs one table lookup.
//! At a trigger the matching detectors run on that spot and validate what
//! they find (Luhn, mod-97, address parsing, JWT header decoding), so
//! validators run on candidates only. After a finding, the scan resumes at
//! its end, so findings never overlap.

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use super::Kind;
use super::keys::{self, KeyRules};
use super::numeric::{self, Context};
use super::tokens::{self, is_word};

const NONE: u8 = 0;
const DIGIT: u8 = 1;
const NUMBER_START: u8 = 2;
const AT: u8 = 3;
const COLON: u8 = 4;
const EQUALS: u8 = 5;
const DASH: u8 = 6;
const UPPER: u8 = 7;
const HEX_LOWER: u8 = 8;
const PREFIX_LOWER: u8 = 9;

static TRIGGERS: [u8; 256] = {
    let mut t = [NONE; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => DIGIT,
            b'+' | b'(' => NUMBER_START,
            b'@' => AT,
            b':' => COLON,
            b'=' => EQUALS,
            b'-' => DASH,
            b'A'..=b'Z' => UPPER,
            b'a'..=b'f' => HEX_LOWER,
            b'g' | b'r' | b's' | b'x' => PREFIX_LOWER,
            _ => NONE,
        };
        c += 1;
    }
    t
};

/// A set of kinds, one bit per [`Kind::index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kinds(u32);

impl Kinds {
    pub(crate) const ALL: Kinds = Kinds((1 << Kind::ALL.len()) - 1);

    pub(crate) fn has(self, kind: Kind) -> bool {
        self.0 & (1 << kind.index()) != 0
    }

    pub(crate) fn without(self, kind: Kind) -> Kinds {
        Kinds(self.0 & !(1 << kind.index()))
    }
}

/// Words that make a bare digit run a phone number or an SSN, when they
/// appear in the 32 bytes before it.
fn context_words() -> &'static (AhoCorasick, usize) {
    static WORDS: OnceLock<(AhoCorasick, usize)> = OnceLock::new();
    const PHONE: &[&str] = &[
        "phone", "tel", "call", "mobile", "cell", "sms", "whatsapp", "text me", "fax", "number", "contact", "reach me",
        "ring me", "dial",
    ];
    const SSN: &[&str] = &["ssn", "social security", "ss#"];
    WORDS.get_or_init(|| {
        let patterns = PHONE.iter().chain(SSN);
        // The patterns are fixed and valid; building cannot fail.
        let automaton = AhoCorasick::builder().ascii_case_insensitive(true).build(patterns).expect("fixed patterns");
        (automaton, PHONE.len())
    })
}

fn context_before(s: &[u8], start: usize) -> Context {
    let window = &s[start.saturating_sub(32)..start];
    let (automaton, phone_words) = context_words();
    let mut context = Context::default();
    for m in automaton.find_iter(window) {
        if m.pattern().as_usize() < *phone_words {
            context.phone = true;
        } else {
            context.ssn = true;
        }
    }
    context
}

/// The built-in detectors, ready to scan.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) kinds: Kinds,
    pub(crate) keys: KeyRules,
}

impl Engine {
    /// Appends `(tag, range)` for everything found in `s`, in order.
    pub(crate) fn scan(&self, s: &[u8], out: &mut Vec<(usize, Range<usize>)>) {
        let kinds = self.kinds;
        let mut i = 0;
        let mut floor = 0;
        while i < s.len() {
            let trigger = TRIGGERS[s[i] as usize];
            let boundary = i == 0 || !is_word(s[i - 1]);
            if is_word(s[i]) && (!boundary || trigger == NONE) {
                // Nothing starts inside a word, or at a word without a
                // trigger letter: skip the whole word.
                i = tokens::run(s, i + 1, is_word);
                continue;
            }
            if trigger == NONE {
                i += 1;
                continue;
            }
            let mut next = if is_word(s[i]) { tokens::run(s, i + 1, is_word) } else { i + 1 };
            let found: Option<(usize, Range<usize>)> = match trigger {
                DIGIT | NUMBER_START if boundary => {
                    match (trigger == DIGIT).then(|| tokens::hex_address(s, i)).flatten() {
                        Some((kind, r)) if kinds.has(kind) => Some((kind.index(), r)),
                        Some((_, r)) => {
                            next = r.end;
                            None
                        }
                        None => {
                            let (found, resume) = numeric::at(s, i, |start| context_before(s, start));
                            next = resume;
                            found.filter(|d| kinds.has(d.kind)).map(|d| (d.kind.index(), d.start..d.end))
                        }
                    }
                }
                AT if kinds.has(Kind::Email) => tokens::email(s, i, floor).map(|r| (Kind::Email.index(), r)),
                COLON => tokens::url(s, i)
                    .filter(|(kind, _)| kinds.has(*kind))
                    .map(|(kind, r)| (kind.index(), r))
                    .or_else(|| keys::key_value(s, i, &self.keys))
                    .or_else(|| self.hex(s, i, boundary)),
                EQUALS => keys::key_value(s, i, &self.keys),
                DASH if kinds.has(Kind::PrivateKey) => tokens::private_key(s, i).map(|r| (Kind::PrivateKey.index(), r)),
                UPPER | HEX_LOWER | PREFIX_LOWER if boundary => self
                    .prefixed(s, i)
                    .or_else(|| {
                        (trigger == UPPER && kinds.has(Kind::Iban))
                            .then(|| tokens::iban(s, i))
                            .flatten()
                            .map(|r| (Kind::Iban.index(), r))
                    })
                    .or_else(|| (trigger != PREFIX_LOWER).then(|| self.hex(s, i, true)).flatten()),
                _ => None,
            };
            match found {
                Some((tag, range)) => {
                    i = range.end.max(i + 1);
                    floor = range.end;
                    out.push((tag, range));
                }
                None => i = next.max(i + 1),
            }
        }
    }
}

impl Engine {
    fn prefixed(&self, s: &[u8], i: usize) -> Option<(usize, Range<usize>)> {
        tokens::prefixed(s, i).filter(|(kind, _)| self.kinds.has(*kind)).map(|(kind, r)| (kind.index(), r))
    }

    fn hex(&self, s: &[u8], i: usize, boundary: bool) -> Option<(usize, Range<usize>)> {
        if !boundary {
            return None;
        }
        tokens::hex_address(s, i).filter(|(kind, _)| self.kinds.has(*kind)).map(|(kind, r)| (kind.index(), r))
    }
}
