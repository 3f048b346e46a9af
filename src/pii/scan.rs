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
use super::national;
use super::numeric::{self, Context};
use super::phone::Regions;
use super::tokens;
use super::work;

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
const PERCENT: u8 = 10;
/// A byte of a non-ASCII character: noted, so the caller knows whether
/// the text may need folding.
const HIGH: u8 = 11;
/// A line break: a line protocol's command may follow.
const NEWLINE: u8 = 12;
/// `[`: maybe this scrubber's own `[EMAIL]` or `[CARD:5d41402abc4b]`.
const BRACKET: u8 = 13;

static TRIGGERS: [u8; 256] = {
    let mut t = [NONE; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => DIGIT,
            b'+' | b'(' => NUMBER_START,
            b'@' => AT,
            b'%' => PERCENT,
            0x80..=0xFF => HIGH,
            b'\n' => NEWLINE,
            b'[' => BRACKET,
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
pub(crate) struct Kinds(u64);

impl Kinds {
    pub(crate) const ALL: Kinds = Kinds((1 << Kind::ALL.len()) - 1);

    pub(crate) fn has(self, kind: Kind) -> bool {
        self.0 & (1 << kind.index()) != 0
    }

    pub(crate) fn without(self, kind: Kind) -> Kinds {
        Kinds(self.0 & !(1 << kind.index()))
    }
}

/// What a context word sets.
type Sets = fn(&mut Context);

/// National identifiers' names, after the phone and SSN words.
const IDS: &[(&str, Sets)] = &[
    ("cpf", |c| c.cpf = true),
    ("aadhaar", |c| c.aadhaar = true),
    ("aadhar", |c| c.aadhaar = true),
    ("uidai", |c| c.aadhaar = true),
    ("pesel", |c| c.pesel = true),
    ("nhs", |c| c.nhs = true),
    ("tfn", |c| c.tfn = true),
    ("tax file number", |c| c.tfn = true),
    ("abn", |c| c.abn = true),
    ("medicare", |c| c.medicare = true),
    ("rrn", |c| c.rrn = true),
    ("resident registration", |c| c.rrn = true),
    ("주민등록번호", |c| c.rrn = true),
    ("cnpj", |c| c.cnpj = true),
    ("passport", |c| c.passport = true),
    ("passport no", |c| c.passport = true),
    ("passport number", |c| c.passport = true),
    ("account number", |c| c.bank = true),
    ("account no", |c| c.bank = true),
    ("acct", |c| c.bank = true),
    ("bank account", |c| c.bank = true),
    ("checking", |c| c.bank = true),
    ("savings", |c| c.bank = true),
    ("routing", |c| c.routing = true),
    ("routing number", |c| c.routing = true),
    ("aba", |c| c.routing = true),
    ("swift", |c| c.swift = true),
    ("swift code", |c| c.swift = true),
    ("bic", |c| c.swift = true),
];

/// Words that make a bare digit run a phone number, an SSN or a national
/// identifier, when they appear as words in the 32 bytes before it.
fn context_words() -> &'static (AhoCorasick, usize, usize) {
    static WORDS: OnceLock<(AhoCorasick, usize, usize)> = OnceLock::new();
    const PHONE: &[&str] = &[
        "phone",
        "tel",
        "telephone",
        "call",
        "mobile",
        "mob",
        "cell",
        "cellphone",
        "sms",
        "whatsapp",
        "signal",
        "telegram",
        "viber",
        "text",
        "text me",
        "fax",
        "number",
        "contact",
        "reach",
        "reach me",
        "ring",
        "ring me",
        "dial",
        "landline",
        "hotline",
        "ph",
        "voicemail",
    ];
    const SSN: &[&str] = &["ssn", "ss#", "social", "social security", "tax id", "taxpayer", "tin", "itin"];
    WORDS.get_or_init(|| {
        let patterns = PHONE.iter().chain(SSN).chain(IDS.iter().map(|(word, _)| word));
        // The patterns are fixed and valid; building cannot fail.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(patterns)
            .expect("fixed patterns");
        (automaton, PHONE.len(), PHONE.len() + SSN.len())
    })
}

/// The context words in the 32 bytes before `start`, not reaching back
/// over an earlier finding (which ends at `floor`), a `]` or `***`: a rewrite
/// shortens what came before (`call (415) 555-0132` becomes `call [PHONE]`),
/// and a second pass must not find a context word the first did not.
fn context_before(s: &[u8], start: usize, floor: usize) -> Context {
    let mut from = start.saturating_sub(32).max(floor.min(start));
    // The scrubber's own placeholders and masks end a context too.
    if let Some(k) = memchr::memrchr(b']', &s[from..start]) {
        from += k + 1;
    }
    if let Some(k) = memchr::memmem::rfind(&s[from..start], b"***") {
        from += k + 3;
    }
    let window = &s[from..start];
    work::add(window.len());
    let (automaton, phone_words, id_words) = context_words();
    let mut context = Context::default();
    for m in automaton.find_iter(window) {
        // Whole words only: `tel` is not in `hotel`, nor `call` in
        // `recall`; and not this scrubber's own `[PHONE]`.
        let before = if m.start() > 0 { Some(window[m.start() - 1]) } else { from.checked_sub(1).map(|p| s[p]) };
        let alone = !before.is_some_and(|c| c.is_ascii_alphabetic() || c == b'[')
            && !window.get(m.end()).is_some_and(u8::is_ascii_alphabetic);
        if !alone {
            continue;
        }
        match m.pattern().as_usize() {
            k if k < *phone_words => context.phone = true,
            k if k < *id_words => context.ssn = true,
            k => (IDS[k - id_words].1)(&mut context),
        }
    }
    context
}

/// The built-in detectors, ready to scan.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) kinds: Kinds,
    pub(crate) keys: KeyRules,
    /// The regions whose national phone formats count.
    pub(crate) regions: Regions,
}

/// How far each detector family has already read: a detector that looked
/// at a run and found nothing there is not asked again inside that run,
/// which keeps the whole scan linear (`ab:ab:ab:...`, `xoxb-xoxb-...`).
#[derive(Default)]
struct Floors {
    /// No finding starts before this (the end of the last finding): an
    /// email's local part does not reach back over it.
    found: usize,
    /// Just after the last `@` or `%40` looked at.
    at: usize,
    hex: usize,
    prefixed: usize,
}

impl Engine {
    /// Appends `(tag, range)` for everything found in `s`, in order. With
    /// `lines`, `s` is a whole text frame and line protocols are read too.
    /// Returns whether `s` holds a non-ASCII byte.
    pub(crate) fn scan(&self, s: &[u8], lines: bool, out: &mut Vec<(usize, Range<usize>)>) -> bool {
        let kinds = self.kinds;
        let mut floors = Floors::default();
        let mut i = 0;
        let mut high = false;
        // Credentials in a line protocol: IRC and POP3 `PASS`, IMAP
        // `LOGIN`, `AUTH PLAIN` (in text frames, not in JSON strings, where
        // "PASS the salt" is prose). Later lines are looked at after `\n`.
        let lines = lines && kinds.has(Kind::Password);
        if let Some(range) = lines.then(|| tokens::line_credential(s, 0)).flatten() {
            floors.found = range.end;
            i = range.end;
            out.push((Kind::Password.index(), range));
        }
        while i < s.len() {
            let c = s[i];
            let trigger = TRIGGERS[c as usize];
            // `_` is a boundary: `_4111..._` in Markdown, `id_4111...`. So
            // is the end of a finding, as it will be once it is replaced.
            let boundary = i == 0 || i == floors.found || !tokens::is_alnum(s[i - 1]);
            if tokens::is_alnum(c) && (!boundary || trigger == NONE) {
                // Nothing starts inside a word, or at a word without a
                // trigger letter: skip the whole word.
                i = tokens::run(s, i + 1, tokens::is_alnum);
                continue;
            }
            work::add(1);
            if trigger == NONE {
                // After a space, lower-case words start nothing: passed
                // over eight bytes at a time.
                i = if c == b' ' { tokens::plain(s, i + 1) } else { i + 1 };
                continue;
            }
            let mut next = if tokens::is_alnum(c) { tokens::run(s, i + 1, tokens::is_alnum) } else { i + 1 };
            let found: Option<(usize, Range<usize>)> = match trigger {
                HIGH => {
                    high = true;
                    None
                }
                NEWLINE if lines => tokens::line_credential(s, i + 1).map(|r| (Kind::Password.index(), r)),
                BRACKET => {
                    // A placeholder, hash or token this scrubber wrote is
                    // read as one word: nothing is found inside it.
                    next = tokens::placeholder(s, i).unwrap_or(i + 1);
                    None
                }
                // UUIDs and timestamps, common in JSON, are passed over
                // whole; their first word (eight hex digits, or a year) and
                // a `-` say which words to look at.
                DIGIT | HEX_LOWER | UPPER
                    if boundary
                        && matches!(next - i, 4 | 8)
                        && s.get(next) == Some(&b'-')
                        && let Some(end) = tokens::inert(s, i) =>
                {
                    next = end;
                    None
                }
                DIGIT | NUMBER_START if boundary => {
                    match (trigger == DIGIT).then(|| self.hex(s, i, &mut floors)).flatten() {
                        Some(found) => Some(found),
                        None => {
                            let floor = floors.found;
                            let (found, resume) =
                                numeric::at(s, i, &self.regions, |start| context_before(s, start, floor));
                            next = resume;
                            found.filter(|d| kinds.has(d.kind)).map(|d| (d.kind.index(), d.start..d.end))
                        }
                    }
                }
                AT | PERCENT if kinds.has(Kind::Email) => {
                    let found = tokens::email(s, i, floors.found.max(floors.at));
                    // A local part never reaches back over an earlier `@`.
                    floors.at = i + 1;
                    found.map(|r| (Kind::Email.index(), r))
                }
                COLON => tokens::url(s, i)
                    .filter(|(kind, _)| kinds.has(*kind))
                    .map(|(kind, r)| (kind.index(), r))
                    .or_else(|| keys::key_value(s, i, &self.keys))
                    .or_else(|| if boundary { self.hex(s, i, &mut floors) } else { None }),
                EQUALS => keys::key_value(s, i, &self.keys),
                DASH if kinds.has(Kind::PrivateKey) => tokens::private_key(s, i).map(|r| (Kind::PrivateKey.index(), r)),
                UPPER | HEX_LOWER | PREFIX_LOWER if boundary => self
                    .prefixed(s, i, &mut floors)
                    .or_else(|| {
                        let floor = floors.found;
                        (trigger == UPPER)
                            .then(|| national::upper(s, i, kinds, |start| context_before(s, start, floor)))
                            .flatten()
                            .map(|(kind, r)| (kind.index(), r))
                    })
                    .or_else(|| if trigger != PREFIX_LOWER { self.hex(s, i, &mut floors) } else { None }),
                _ => None,
            };
            match found {
                Some((tag, range)) => {
                    i = range.end.max(i + 1);
                    floors.found = range.end;
                    out.push((tag, range));
                }
                None => i = next.max(i + 1),
            }
        }
        high
    }

    fn prefixed(&self, s: &[u8], i: usize, floors: &mut Floors) -> Option<(usize, Range<usize>)> {
        self.floored(s, i, &mut floors.prefixed, tokens::prefixed)
    }

    fn hex(&self, s: &[u8], i: usize, floors: &mut Floors) -> Option<(usize, Range<usize>)> {
        self.floored(s, i, &mut floors.hex, tokens::hex_address)
    }

    /// Runs a detector family that reports how far it read, unless an
    /// earlier call already read past `i`.
    fn floored(
        &self,
        s: &[u8],
        i: usize,
        floor: &mut usize,
        detect: fn(&[u8], usize) -> tokens::Scanned,
    ) -> Option<(usize, Range<usize>)> {
        if i < *floor {
            return None;
        }
        match detect(s, i) {
            Ok((kind, r)) => self.kinds.has(kind).then(|| (kind.index(), r)),
            Err(read) => {
                *floor = read;
                None
            }
        }
    }
}
