//! The built-in detectors' names, and what a detection reports.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// A built-in kind of personal data or secret.
///
/// Its [`name`](Self::name) (snake case, also its serde form) is used in
/// findings, configuration, audit events and session counters.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `email`: an address such as `jane.doe@example.com`.
    Email,
    /// `phone`: NANP numbers in their common formats, E.164 (`+44 20 7946 0958`),
    /// and grouped national numbers of UK, DE, FR, ES, NL, IE, IN, JP, AU and BR.
    /// A bare digit run counts only after a context word such as "call" or
    /// under a phone key.
    Phone,
    /// `credit_card`: 12-19 digits, ungrouped or in the brands' groupings,
    /// with a known brand prefix and length and a valid Luhn check digit.
    CreditCard,
    /// `us_ssn`: `AAA-GG-SSSS` with area not 000, 666 or 9xx, group not 00
    /// and serial not 0000 (nine bare digits only after a context word).
    UsSsn,
    /// `iban`: compact or grouped by four, with the country's length and a
    /// valid mod-97 check.
    Iban,
    /// `ipv4`: a dotted quad that parses as an address, or the address in
    /// an EC2 private host name (`ip-10-0-56-78`).
    Ipv4,
    /// `ipv6`: text that parses as an IPv6 address (`::1` and other
    /// addresses with a single group are ignored).
    Ipv6,
    /// `mac`: six hex pairs separated by `:` or `-`, or Cisco's `xxxx.xxxx.xxxx`.
    Mac,
    /// `jwt`: three base64url segments whose header decodes to JSON with `alg`.
    Jwt,
    /// `aws_access_key`: `AKIA` or `ASIA` and 16 upper-case letters or digits.
    AwsAccessKey,
    /// `github_token`: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` or `github_pat_` tokens.
    GithubToken,
    /// `slack_token`: `xoxb-` style tokens and `hooks.slack.com` webhook URLs.
    SlackToken,
    /// `stripe_key`: `sk_live_`, `sk_test_`, `rk_live_` and `rk_test_` keys.
    StripeKey,
    /// `private_key`: a PEM `-----BEGIN ... PRIVATE KEY-----` block, to its
    /// end marker or, when truncated, to the end of its base64 body.
    PrivateKey,
    /// `url_credentials`: the `user:password` of `scheme://user:password@host`
    /// (not the host).
    UrlCredentials,
    /// `password`: the value under a password- or secret-like key
    /// (`"password": ...`, `token=...`), whatever it looks like.
    Password,
    /// `date_of_birth`: the value under a date-of-birth key (`dob`,
    /// `birthdate`, ...). Found by key only.
    DateOfBirth,
    /// `person_name`: the value under a personal-name key (`first_name`,
    /// `last_name`, `full_name`, `surname`, `given_name`, `legal_name`, ...).
    /// Found by key only: a bare `name` is too generic (products, rooms,
    /// files) and is not a rule unless you add it
    /// ([`sensitive_key`](super::ScrubberBuilder::sensitive_key)). Names in
    /// free text are not found: no method we measured reached a precision
    /// of 0.9 on text we did not write.
    PersonName,
    /// `address`: the value under a postal-address key (`street`,
    /// `street_address`, `address_line1`, `billing_address`, `postcode`,
    /// `zip`, ...), including every value of an address object under such a
    /// key. Found by key only; a bare `address` is not a rule (e-mail, IP and
    /// wallet addresses share the word).
    Address,
    /// `us_itin`: a US Individual Taxpayer Identification Number,
    /// `9XX-XX-XXXX` with a group the IRS assigns (50-65, 70-88, 90-92,
    /// 94-99); nine bare digits only after a context word (`TIN`, `tax id`,
    /// ...) or under an `itin` key.
    UsItin,
    /// `br_cpf`: a Brazilian CPF written `000.000.000-00`, with both mod-11
    /// check digits (and not one digit repeated); eleven bare digits only
    /// after the word `CPF` or under a `cpf` key in JSON.
    BrCpf,
    /// `in_aadhaar`: an Indian Aadhaar number written in groups of four
    /// (`2345 6789 0124`), starting 2-9, with a valid Verhoeff check digit;
    /// twelve bare digits only after `Aadhaar` or `UIDAI`, or under an
    /// `aadhaar` key in JSON.
    InAadhaar,
    /// `pl_pesel`: a Polish PESEL, eleven digits with a valid date of birth
    /// and check digit, only after the word `PESEL` or under a `pesel` key
    /// in JSON (eleven bare digits are too common to go without).
    PlPesel,
    /// `uk_nhs`: a UK NHS number, ten digits (bare or `943 476 5919`) with a
    /// valid mod-11 check digit, only after the word `NHS` or under an
    /// `nhs_number` key in JSON: the grouping is also a phone number's.
    UkNhs,
    /// `es_nif`: a Spanish DNI/NIF (`12345678Z`) or NIE (`X1234567L`),
    /// optionally with a `-` before the letter, whose control letter
    /// matches (mod 23).
    EsNif,
}

impl Kind {
    /// Every built-in kind, in a fixed order.
    pub const ALL: [Kind; 25] = [
        Kind::Email,
        Kind::Phone,
        Kind::CreditCard,
        Kind::UsSsn,
        Kind::Iban,
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Mac,
        Kind::Jwt,
        Kind::AwsAccessKey,
        Kind::GithubToken,
        Kind::SlackToken,
        Kind::StripeKey,
        Kind::PrivateKey,
        Kind::UrlCredentials,
        Kind::Password,
        Kind::DateOfBirth,
        Kind::PersonName,
        Kind::Address,
        Kind::UsItin,
        Kind::BrCpf,
        Kind::InAadhaar,
        Kind::PlPesel,
        Kind::UkNhs,
        Kind::EsNif,
    ];

    /// The kind's name, e.g. `credit_card`.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::CreditCard => "credit_card",
            Kind::UsSsn => "us_ssn",
            Kind::Iban => "iban",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Mac => "mac",
            Kind::Jwt => "jwt",
            Kind::AwsAccessKey => "aws_access_key",
            Kind::GithubToken => "github_token",
            Kind::SlackToken => "slack_token",
            Kind::StripeKey => "stripe_key",
            Kind::PrivateKey => "private_key",
            Kind::UrlCredentials => "url_credentials",
            Kind::Password => "password",
            Kind::DateOfBirth => "date_of_birth",
            Kind::PersonName => "person_name",
            Kind::Address => "address",
            Kind::UsItin => "us_itin",
            Kind::BrCpf => "br_cpf",
            Kind::InAadhaar => "in_aadhaar",
            Kind::PlPesel => "pl_pesel",
            Kind::UkNhs => "uk_nhs",
            Kind::EsNif => "es_nif",
        }
    }

    /// The kind with this name, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Its position in [`Kind::ALL`]; custom detectors are numbered after.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AsRef<str> for Kind {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// One detection: what was found and where.
///
/// The range is in bytes into the frame **as received**: for a JSON string
/// with escapes (`\u0040`), it covers the escaped text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub(crate) name: &'static str,
    pub(crate) range: Range<usize>,
}

impl Finding {
    /// The detector's name: a [`Kind::name`] or a custom detector's name.
    pub fn kind(&self) -> &'static str {
        self.name
    }

    /// The byte range in the frame as received.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}
