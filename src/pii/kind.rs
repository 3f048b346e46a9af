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
    /// `phone`: international numbers (`+44 20 7946 0958`, `0049 30 ...`) of
    /// every region, and national numbers of the configured regions
    /// ([`phone_regions`](super::ScrubberBuilder::phone_regions): by default
    /// US, CA, GB, DE, FR, ES, NL, IE, IN, JP, AU, BR), judged by
    /// libphonenumber's metadata. A bare digit run counts only after a
    /// context word such as "call" or under a phone key.
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
    /// `uk_nino`: a UK National Insurance number, two prefix letters HMRC
    /// allocates (not `D`, `F`, `I`, `Q`, `U`, `V` first, nor `O` second, nor
    /// `BG`, `GB`, `KN`, `NK`, `NT`, `TN`, `ZZ`), six digits and the suffix
    /// A-D (`AB 12 34 56 C`, `AB123456C`). There is no check character.
    UkNino,
    /// `it_fiscal_code`: an Italian codice fiscale (`RSSMRA85T10A562S`), with
    /// a valid month letter and day and its check letter; digits replaced
    /// by letters (omocodia) are read.
    ItFiscalCode,
    /// `fi_hetu`: a Finnish personal identity code (`131052-308T`), a valid
    /// date, a century sign and the mod-31 check character.
    FiHetu,
    /// `sg_nric`: a Singapore NRIC or FIN (`S1234567D`), series S, T, F, G or
    /// M, with its check letter.
    SgNric,
    /// `au_tfn`: an Australian Tax File Number (`123 456 782`), eight or nine
    /// digits with the mod-11 check, only after `TFN` or `tax file number`
    /// or under a `tfn` key.
    AuTfn,
    /// `au_abn`: an Australian Business Number (`51 824 753 556`), with the
    /// mod-89 check, only after `ABN` or under an `abn` key.
    AuAbn,
    /// `au_medicare`: an Australian Medicare card number (`2123 45670 1`),
    /// with its check digit, only after `Medicare` or under a `medicare` key.
    AuMedicare,
    /// `in_pan`: an Indian Permanent Account Number (`ABCPE1234F`): five
    /// letters whose fourth names the holder type (`P` a person, `C` a company,
    /// ...), four digits, a letter.
    InPan,
    /// `kr_rrn`: a Korean resident registration number (`900101-1234568`),
    /// a valid date and sex digit, and the old check digit; numbers issued
    /// since 2020 (no check digit) and bare thirteen digits only after `RRN`
    /// or `주민등록번호`.
    KrRrn,
    /// `br_cnpj`: a Brazilian company number written `11.222.333/0001-81`,
    /// with both mod-11 check digits; fourteen bare digits only after
    /// `CNPJ` or under a `cnpj` key.
    BrCnpj,
    /// `us_passport`: nine digits, or a letter and eight digits, only after
    /// the word `passport` or under a `passport` key (there is no check
    /// digit).
    UsPassport,
    /// `us_bank_number`: a bank account number (8-17 digits) after `account
    /// number`, `acct`, `bank account`, `checking` or `savings`, or an ABA
    /// routing number (with its 3-7-1 check) after `routing` or `ABA`.
    UsBankNumber,
    /// `swift_bic`: a SWIFT/BIC code (`DEUTDEFF`, `DEUTDEFF500`) after the
    /// word `SWIFT` or `BIC`, or under a `swift` or `bic` key.
    SwiftBic,
    /// `crypto_address`: a Bitcoin address (base58check `1...`/`3...`, or
    /// bech32/bech32m `bc1...`, each with its checksum) or an Ethereum
    /// address (`0x` and 40 hex digits; EIP-55 checked when mixed-case).
    CryptoAddress,
}

impl Kind {
    /// Every built-in kind, in a fixed order.
    pub const ALL: [Kind; 39] = [
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
        Kind::UkNino,
        Kind::ItFiscalCode,
        Kind::FiHetu,
        Kind::SgNric,
        Kind::AuTfn,
        Kind::AuAbn,
        Kind::AuMedicare,
        Kind::InPan,
        Kind::KrRrn,
        Kind::BrCnpj,
        Kind::UsPassport,
        Kind::UsBankNumber,
        Kind::SwiftBic,
        Kind::CryptoAddress,
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
            Kind::UkNino => "uk_nino",
            Kind::ItFiscalCode => "it_fiscal_code",
            Kind::FiHetu => "fi_hetu",
            Kind::SgNric => "sg_nric",
            Kind::AuTfn => "au_tfn",
            Kind::AuAbn => "au_abn",
            Kind::AuMedicare => "au_medicare",
            Kind::InPan => "in_pan",
            Kind::KrRrn => "kr_rrn",
            Kind::BrCnpj => "br_cnpj",
            Kind::UsPassport => "us_passport",
            Kind::UsBankNumber => "us_bank_number",
            Kind::SwiftBic => "swift_bic",
            Kind::CryptoAddress => "crypto_address",
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
