//! The PII scrubber: personal data and secrets found and neutralised in
//! messages, in both directions.
//!
//! A [`Scrubber`] looks at every text frame (and, if asked, binary frames
//! holding UTF-8) and finds the [`Kind`]s of personal data below. Each
//! finding then gets its kind's [`Action`] for the direction: redact, mask,
//! hash, encrypt (feature `encrypt`), remove the JSON field, drop the
//! message, or close the connection.
//! A report-only mode finds and audits without changing anything.
//!
//! ```
//! use wsguard::pii::{Action, Kind, Scrubber};
//! use wsguard::Direction;
//!
//! let scrubber = Scrubber::builder()
//!     .action(Kind::Email, Action::Mask)
//!     .action(Kind::CreditCard, Action::Mask)
//!     .build()?;
//! let frame = r#"{"type":"chat","text":"mail jane.doe@example.com, card 4111 1111 1111 1111"}"#;
//! let scrubbed = scrubber.scrub(frame, Direction::Outbound);
//! assert_eq!(
//!     scrubbed.text(),
//!     r#"{"type":"chat","text":"mail j***@example.com, card **** **** **** 1111"}"#
//! );
//! assert_eq!(scrubbed.findings()[0].kind(), "email");
//! assert_eq!(scrubbed.findings()[0].range(), 28..48);
//! # Ok::<(), wsguard::ConfigError>(())
//! ```
//!
//! # What it finds
//!
//! | kind | found by | validated by |
//! |------|----------|--------------|
//! | `email` | `@` with a local part and a domain | a dotted domain with an alphabetic TLD |
//! | `phone` | digit runs as people write them: `+` and a calling code, `00`, a trunk `0`, NANP, ES, IN and BR groupings | libphonenumber's metadata (via the `phonenumber` crate): a possible number of the region where the writing says "phone", a valid one where other numbers share the shape; international numbers of every region, national formats of the configured regions; a bare run only after a context word (`call`, `text`, `reach`, `ring`, `mobile`, `cell`, `WhatsApp`, `tel`, ...) |
//! | `credit_card` | 12-19 digits, plain or in brand groupings | brand prefix and length (Maestro from 12), Luhn |
//! | `us_ssn` | `AAA-GG-SSSS` (bare only after `ssn`, `social security`, `tax id`, `TIN`, ...) | area, group and serial rules |
//! | `iban` | two letters and two digits, compact or grouped by 4 | the country's length, mod-97 |
//! | `us_itin` | `9XX-XX-XXXX` (bare nine digits only after a tax-id word) | an IRS ITIN group (50-65, 70-88, 90-92, 94-99) |
//! | `br_cpf` | `000.000.000-00`; bare after `CPF` or under a `cpf` key | both mod-11 check digits, not one repeated digit |
//! | `in_aadhaar` | twelve digits in fours; bare after `Aadhaar`/`UIDAI` or under an `aadhaar` key | first digit 2-9, Verhoeff |
//! | `pl_pesel` | eleven digits after `PESEL` or under a `pesel` key | a date of birth and the 1-3-7-9 check digit |
//! | `uk_nhs` | ten digits, bare or `3 3 4`, after `NHS` or under an `nhs_number` key | mod 11 |
//! | `es_nif` | `12345678Z`, `X1234567L` (NIE), a `-` before the letter allowed | the control letter, mod 23 |
//! | `uk_nino` | `AB 12 34 56 C`, `AB123456C` | a prefix HMRC allocates, suffix A-D (no check character) |
//! | `it_fiscal_code` | 16 characters, `RSSMRA85T10A562S` (omocodia read) | month letter, day, the check letter |
//! | `fi_hetu` | `131052-308T` | a date, the century sign, the mod-31 check character |
//! | `sg_nric` | `S1234567D` (series S, T, F, G, M) | the series' check letter |
//! | `in_pan` | `ABCPE1234F` | a holder-type fourth letter, the exact shape (no check character) |
//! | `kr_rrn` | `900101-1234568`; without its check digit (issued since 2020) or bare only after `RRN`/`주민등록번호` | a date, the sex digit, the mod-11 check |
//! | `br_cnpj` | `11.222.333/0001-81`; bare after `CNPJ` or under a `cnpj` key | both mod-11 check digits |
//! | `au_tfn`, `au_abn`, `au_medicare` | after `TFN`/`tax file number`, `ABN`, `Medicare`, or under those keys | mod 11, mod 89, the Medicare check digit |
//! | `us_passport` | nine digits or a letter and eight, after `passport` | the word (no check digit) |
//! | `us_bank_number` | 8-17 digits after `account number`/`acct`/`bank account`/`checking`/`savings`; nine after `routing`/`ABA` | the word; the ABA 3-7-1 check for routing numbers |
//! | `swift_bic` | `DEUTDEFF`, `DEUTDEFF500` after `SWIFT`/`BIC` | the word and the shape |
//! | `crypto_address` | `1...`/`3...` base58, `bc1...`, `0x` + 40 hex | base58check (double SHA-256), bech32/bech32m, EIP-55 when mixed-case |
//! | `ipv4`, `ipv6` | dotted quads, EC2 host names (`ip-10-0-56-78`); hex with colons | parsed as addresses |
//! | `mac` | six hex pairs with `:` or `-`, or `xxxx.xxxx.xxxx` | exact shape |
//! | `jwt` | `eyJ...` three base64url segments | the header decodes to JSON with `alg` |
//! | `aws_access_key`, `github_token`, `slack_token`, `stripe_key` | literal prefixes (`AKIA`, `ghp_`, `xoxb-`, `sk_live_`, ...) | length and alphabet |
//! | `private_key` | `-----BEGIN ... PRIVATE KEY-----` | to the end marker or, when truncated, the end of its base64 body |
//! | `url_credentials` | `scheme://user:password@host` | only the `user:password` part |
//! | `password`, `date_of_birth`, `person_name`, `address`, and any kind | the value under a sensitive key (`"password": ...`, `token=...`, STOMP `passcode:`), whatever it looks like, numbers included; a value a detector recognises keeps that detector's kind (a JWT under `access_token` is `jwt`) | the key's words |
//! | `password` | line protocols: IRC and POP3 `PASS secret`, IMAP `a1 LOGIN user secret`, `AUTH PLAIN <base64>` | at the start of a line |
//!
//! Dates, times, version strings, prices, UUIDs, hashes and identifiers
//! such as `ORD-2024-000123` are not numbers for these detectors; a
//! 16-digit number that fails Luhn is not a card; "password" in prose is
//! not a finding. The measured precision and recall are in the README.
//!
//! Numbers are found as people write them: glued to a label (`tel:`,
//! `card:`, `cc#`, `id_`), followed by punctuation and more digits (CSV,
//! `number/expiry`, `ref-<number>-01`), in Markdown emphasis, backticks,
//! brackets and quotes, in URLs (`mailto:`, `?email=jane%40example.com`).
//!
//! In text, `key: value` and `key=value` are findings only when the value
//! is data: GraphQL variables (`$email: String`), type annotations
//! (`password: String!`, `token: str`), templates (`{{email}}`,
//! `${phone}`), calls and this scrubber's own placeholders are left alone,
//! and after a key of a kind with its own detector (email, phone, card,
//! SSN, IBAN) that detector decides. `Bearer` alone is not a secret: the
//! word after it is.
//!
//! # How it reads text
//!
//! What renders the same is the same. Before matching, a text that is not
//! plain ASCII, or that holds a backslash, is read as a person reads it:
//! `\uXXXX` and the other JSON escapes are decoded (in any frame, not only
//! in JSON); decimal digits of every script (full-width `４`, Arabic-Indic
//! `٤`, Devanagari `४`, ...) read as ASCII digits; Unicode space
//! separators (no-break, narrow no-break, thin, figure, ideographic) read
//! as spaces; full-width `＠` `．` `－` and the Unicode dashes read as ASCII;
//! zero-width characters and soft hyphens are skipped. Findings still
//! cover the original bytes, and a rewrite replaces the original text.
//! Pure ASCII without a backslash is scanned as it is.
//!
//! # Linear time
//!
//! The scan costs time linear in the frame's length, whatever the bytes:
//! no detector reads a run again from each position in it (each family
//! remembers how far it has read), numbers are cut at 24 digits and 8
//! groups, addresses at 45 bytes, JWT headers at 512. A work counter in
//! the scanner shows it: on every periodic adversarial input the tests try
//! (each ASCII punctuation character, and short runs of what the detectors
//! look for), the bytes examined per input byte are the same at 16 KiB and
//! at 64 KiB. The README gives the measured times.
//!
//! # Where it looks
//!
//! - **JSON frames**: every string value at any depth (with escapes such
//!   as `\u0040` decoded), and numbers under sensitive keys. Object keys
//!   only with [`ScrubberBuilder::scan_keys`].
//! - **Socket.IO frames** (`42["event",{...}]`, `42/ns,7[...]`, binary
//!   events `451-[...]`) and Engine.IO v3 payloads (`97:42[...]`): the JSON
//!   after the packet prefix.
//! - **A frame that is a JSON string** (`"call 415 555 0132"`): its text,
//!   escapes decoded, rewritten as JSON.
//! - **A frame that is a bare JSON number**: the whole number; a finding
//!   replaces it with a JSON string, so the frame stays valid JSON.
//! - **Other text frames**, and JSON the walker rejects (`NaN`, trailing
//!   text, several Engine.IO packets): the whole text, escapes decoded.
//! - **Binary frames**: skipped, unless [`ScrubberBuilder::scan_binary`].
//!
//! [`Finding::range`] is in bytes into the frame as received, escapes
//! included.
//!
//! # Output
//!
//! A frame without findings is passed on untouched. A frame with findings
//! is rewritten by splicing its text once: the rest keeps its formatting,
//! key order and escapes, JSON stays valid (a number under a sensitive key
//! becomes a string), and [`Action::Remove`] takes the member and one
//! comma. Scrubbing the output again changes nothing: a rewrite changes
//! what surrounds the text it leaves (a context word comes closer to a
//! number, a mask turns digits into `*`), so a rewritten frame is scanned
//! again, up to four times, until nothing more is found; in a JSON frame
//! only the strings that were rewritten, since its strings are scanned one
//! by one. [`Scrubbed::findings`] are those of the first pass.
//!
//! # Answers
//!
//! | action | inbound | outbound |
//! |--------|---------|----------|
//! | `report`, `redact`, `mask`, `hash`, `encrypt`, `remove` | delivered (rewritten) | delivered (rewritten) |
//! | `drop` | dropped, reply `{"type":"error","code":"pii_rejected","message":...,"types":["email"]}` | not delivered, silently |
//! | `close` | close 1008 "personal data not allowed" | close 1008 |
//!
//! Every frame with findings is a `pii_detected` audit event with the
//! direction, the action taken, and the kinds with their counts
//! (`email:2,phone:1`), never the values; the session's [`Counts`] (in its
//! extensions) keep the totals per kind.
//!
//! # Role exemptions
//!
//! [`ScrubberBuilder::exempt`] lets principals with a permission (checked
//! by an [`Rbac`](crate::rbac::Rbac) policy) receive a kind unchanged in
//! outbound messages: an admin may see the emails a user sees masked.
//!
//! # Custom detectors
//!
//! Implement [`Detector`], or use [`RegexDetector`] for "a regex, an
//! optional validator, a name". Custom detectors run on the same strings
//! after the built-in pass and share its actions, masks and audit.
//!
//! # Cost
//!
//! One pass over the frame finds the JSON strings; one pass over each
//! string runs every built-in detector (a byte-class table, validators on
//! candidates only, ASCII word boundaries). What a rewrite changed is
//! scanned once more (see Output). Measured numbers and the
//! command to reproduce them are in the README's performance section.

mod action;
mod builder;
#[cfg(feature = "encrypt")]
mod crypto;
mod detector;
mod fold;
mod json;
mod keys;
mod kind;
mod national;
mod numeric;
mod phone;
mod scan;
mod scrubber;
mod tokens;
mod wallet;
pub(crate) mod work;

#[cfg(test)]
mod tests;

pub use action::{Action, Mask};
pub(crate) use action::{Keyed, keyed};
pub use builder::ScrubberBuilder;
pub use detector::{Detector, RegexDetector};
pub use kind::{Finding, Kind};
pub use scrubber::{Scrubbed, Scrubber};

/// Findings per kind over a connection, kept in the session's extensions.
///
/// ```
/// # use wsguard::pii::Counts;
/// # fn show(session: &wsguard::Session) {
/// let emails = session.extensions().get::<Counts>().map_or(0, |c| c.get("email"));
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    counts: Vec<(&'static str, u64)>,
}

impl Counts {
    /// How many findings of `kind` (a kind or custom detector name).
    pub fn get(&self, kind: &str) -> u64 {
        self.counts.iter().find(|(n, _)| *n == kind).map_or(0, |(_, c)| *c)
    }

    /// All findings on the connection.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, c)| c).sum()
    }

    /// Each kind found and its count, in the order first found.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counts.iter().copied()
    }

    /// The counts of `kinds`, one finding each.
    pub(crate) fn of(kinds: impl IntoIterator<Item = &'static str>) -> Self {
        let mut counts = Self::default();
        counts.add(kinds);
        counts
    }

    /// Counts in `kinds`, one finding each.
    pub(crate) fn add(&mut self, kinds: impl IntoIterator<Item = &'static str>) {
        for kind in kinds {
            match self.counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, c)) => *c += 1,
                None => self.counts.push((kind, 1)),
            }
        }
    }
}

/// `kind:count` pairs joined by commas, in the order first found
/// (`email:2,phone:1`), as in the `pii_detected` audit event.
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, (kind, n)) in self.counts.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            write!(f, "{kind}:{n}")?;
        }
        Ok(())
    }
}
