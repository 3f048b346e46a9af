//! Sensitive key names: `"password": ...`, `userEmail`, `access_token=...`.
//!
//! Keys are compared by their words, so `api_key`, `apiKey`, `API-KEY` and
//! `apikey` are the same key. A rule matches a key that *ends* with the
//! rule's words at a word boundary: `user_email` and `contactPhone` match
//! `email` and `phone`; `email_verified`, `hotel` and `tokenCount` do not.
//! All rules are one aho-corasick automaton.

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

use super::Kind;

/// The default rules: normalized key (lower case, no separators) and kind.
pub(crate) const DEFAULT_KEYS: &[(&str, Kind)] = &[
    ("password", Kind::Password),
    ("passwd", Kind::Password),
    ("pwd", Kind::Password),
    ("passphrase", Kind::Password),
    ("secret", Kind::Password),
    ("apikey", Kind::Password),
    ("accesskey", Kind::Password),
    ("privatekey", Kind::Password),
    ("token", Kind::Password),
    ("authorization", Kind::Password),
    ("bearer", Kind::Password),
    ("cookie", Kind::Password),
    ("passcode", Kind::Password),
    ("cvv", Kind::Password),
    ("cvc", Kind::Password),
    ("pin", Kind::Password),
    ("ssn", Kind::UsSsn),
    ("socialsecuritynumber", Kind::UsSsn),
    ("cardnumber", Kind::CreditCard),
    ("creditcard", Kind::CreditCard),
    ("ccnumber", Kind::CreditCard),
    ("iban", Kind::Iban),
    ("email", Kind::Email),
    ("emailaddress", Kind::Email),
    ("phone", Kind::Phone),
    ("phonenumber", Kind::Phone),
    ("mobile", Kind::Phone),
    ("mobilenumber", Kind::Phone),
    ("telephone", Kind::Phone),
    ("tel", Kind::Phone),
    ("fax", Kind::Phone),
    ("dob", Kind::DateOfBirth),
    ("dateofbirth", Kind::DateOfBirth),
    ("birthdate", Kind::DateOfBirth),
    ("birthday", Kind::DateOfBirth),
    ("firstname", Kind::PersonName),
    ("lastname", Kind::PersonName),
    ("fullname", Kind::PersonName),
    ("surname", Kind::PersonName),
    ("givenname", Kind::PersonName),
    ("familyname", Kind::PersonName),
    ("middlename", Kind::PersonName),
    ("maidenname", Kind::PersonName),
    ("legalname", Kind::PersonName),
    ("forename", Kind::PersonName),
    ("street", Kind::Address),
    ("streetaddress", Kind::Address),
    ("addressline", Kind::Address),
    ("addressline1", Kind::Address),
    ("addressline2", Kind::Address),
    ("addressline3", Kind::Address),
    ("address1", Kind::Address),
    ("address2", Kind::Address),
    ("address3", Kind::Address),
    ("homeaddress", Kind::Address),
    ("postaladdress", Kind::Address),
    ("mailingaddress", Kind::Address),
    ("billingaddress", Kind::Address),
    ("shippingaddress", Kind::Address),
    ("residentialaddress", Kind::Address),
    ("postcode", Kind::Address),
    ("postalcode", Kind::Address),
    ("zip", Kind::Address),
    ("zipcode", Kind::Address),
    ("itin", Kind::UsItin),
    ("cpf", Kind::BrCpf),
    ("aadhaar", Kind::InAadhaar),
    ("aadhaarnumber", Kind::InAadhaar),
    ("aadhaarno", Kind::InAadhaar),
    ("uidai", Kind::InAadhaar),
    ("pesel", Kind::PlPesel),
    ("nhs", Kind::UkNhs),
    ("nhsnumber", Kind::UkNhs),
    ("nhsno", Kind::UkNhs),
    ("nif", Kind::EsNif),
    ("nie", Kind::EsNif),
    ("dni", Kind::EsNif),
    ("nino", Kind::UkNino),
    ("ninumber", Kind::UkNino),
    ("nationalinsurancenumber", Kind::UkNino),
    ("codicefiscale", Kind::ItFiscalCode),
    ("fiscalcode", Kind::ItFiscalCode),
    ("hetu", Kind::FiHetu),
    ("henkilotunnus", Kind::FiHetu),
    ("nric", Kind::SgNric),
    ("tfn", Kind::AuTfn),
    ("taxfilenumber", Kind::AuTfn),
    ("abn", Kind::AuAbn),
    ("medicare", Kind::AuMedicare),
    ("medicarenumber", Kind::AuMedicare),
    ("pannumber", Kind::InPan),
    ("rrn", Kind::KrRrn),
    ("cnpj", Kind::BrCnpj),
    ("passport", Kind::UsPassport),
    ("passportnumber", Kind::UsPassport),
    ("passportno", Kind::UsPassport),
    ("accountnumber", Kind::UsBankNumber),
    ("bankaccount", Kind::UsBankNumber),
    ("bankaccountnumber", Kind::UsBankNumber),
    ("routingnumber", Kind::UsBankNumber),
    ("swift", Kind::SwiftBic),
    ("swiftcode", Kind::SwiftBic),
    ("bic", Kind::SwiftBic),
    ("walletaddress", Kind::CryptoAddress),
    ("bitcoinaddress", Kind::CryptoAddress),
    ("btcaddress", Kind::CryptoAddress),
    ("ethaddress", Kind::CryptoAddress),
];

/// The longest key name looked at; longer keys are not sensitive.
const MAX_KEY: usize = 64;

/// The compiled key rules.
#[derive(Debug, Clone)]
pub(crate) struct KeyRules {
    /// The rules reversed, searched anchored at the end of the reversed
    /// key: the longest rule the key ends with, in one short walk.
    automaton: Option<AhoCorasick>,
    /// Per pattern: its tag (a kind's index or a custom detector's).
    tags: Vec<usize>,
    /// The last two characters of every rule, one bit per pair of ASCII
    /// letters and digits: a key that ends otherwise matches no rule, and
    /// most keys (`type`, `id`, `text`) are dismissed without normalizing.
    /// `None` when a rule is a single character.
    endings: Option<Box<[u64; 256]>>,
    /// The `address` kind's tag, while it has rules (for [`Self::container_tag`]).
    address: Option<usize>,
}

/// The bit of a lower-case pair in [`KeyRules::endings`].
fn pair_bit(a: u8, b: u8) -> (usize, u64) {
    let k = (usize::from(a & 0x7f) << 7) | usize::from(b & 0x7f);
    (k / 64, 1 << (k % 64))
}

impl KeyRules {
    /// Compiles `rules` (keys in any case or separator style) into one automaton.
    pub(crate) fn new(rules: &[(String, usize)]) -> Result<Self, String> {
        let mut patterns = Vec::with_capacity(rules.len());
        let mut tags = Vec::with_capacity(rules.len());
        let mut endings = Some(Box::new([0u64; 256]));
        for (key, tag) in rules {
            let mut buf = [0; MAX_KEY];
            let (len, _) = normalize(key.as_bytes(), &mut buf).ok_or_else(|| format!("key `{key}` is too long"))?;
            if len == 0 {
                return Err(format!("key `{key}` has no letters or digits"));
            }
            tags.push(*tag);
            patterns.push(buf[..len].iter().rev().copied().collect::<Vec<u8>>());
            match (&mut endings, len) {
                (Some(bits), 2..) => {
                    let (word, bit) = pair_bit(buf[len - 2], buf[len - 1]);
                    bits[word] |= bit;
                }
                _ => endings = None,
            }
        }
        let address = Some(Kind::Address.index()).filter(|a| tags.contains(a));
        if patterns.is_empty() {
            return Ok(Self { automaton: None, tags, endings, address });
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Anchored)
            .build(&patterns)
            .map_err(|e| e.to_string())?;
        Ok(Self { automaton: Some(automaton), tags, endings, address })
    }

    /// The tag a container (an object or array value) takes under `key`
    /// when no rule matches it: a key ending in `address` or `addresses`
    /// (`address`, `default_address`, `addresses`) holding an object or a
    /// list is a postal address (Stripe's `address.line1`, Google's
    /// `addresses[].city`), while a string under it may be an e-mail, IP or
    /// wallet address and is left to the detectors (which also keep their
    /// kinds inside a container). Only while the `address` kind has rules.
    pub(crate) fn container_tag(&self, key: &[u8]) -> Option<usize> {
        // Most keys end otherwise (`-ss`, `-es`): dismissed before
        // normalizing.
        let address = self.address?;
        match key {
            [.., b'e' | b'E' | b's' | b'S', b's' | b'S'] if key.len() >= 7 => {}
            _ => return None,
        }
        let mut buf = [0; MAX_KEY];
        let (len, _) = normalize(key, &mut buf)?;
        let key = &buf[..len];
        (key.ends_with(b"address") || key.ends_with(b"addresses")).then_some(address)
    }

    /// The tag of the longest rule that `key` ends with, if that rule
    /// starts at a word boundary of the key.
    pub(crate) fn lookup(&self, key: &[u8]) -> Option<usize> {
        let automaton = self.automaton.as_ref()?;
        if let Some(bits) = &self.endings {
            let mut last = key.iter().rev().filter(|c| c.is_ascii_alphanumeric());
            let (b, a) = (last.next()?, last.next()?);
            let (word, bit) = pair_bit(a.to_ascii_lowercase(), b.to_ascii_lowercase());
            if bits[word] & bit == 0 {
                return None;
            }
        }
        let mut buf = [0; MAX_KEY];
        let (n, starts) = normalize(key, &mut buf)?;
        buf[..n].reverse();
        let found = automaton.find(Input::new(&buf[..n]).anchored(Anchored::Yes))?;
        let start = n - found.end();
        (starts & (1 << start) != 0).then(|| self.tags[found.pattern().as_usize()])
    }
}

/// Lower-cases `key` into `out`, drops separators, and marks where words
/// start (a bit per byte of the result): after a separator, at an
/// upper-case letter that follows a lower-case one, and where letters and
/// digits meet. Returns the length and the marks; `None` for keys longer
/// than [`MAX_KEY`].
fn normalize(key: &[u8], out: &mut [u8; MAX_KEY]) -> Option<(usize, u64)> {
    if key.len() > MAX_KEY {
        return None;
    }
    let mut len = 0;
    let mut starts = 0u64;
    let mut prev: Option<u8> = None;
    for &c in key {
        if !c.is_ascii_alphanumeric() {
            prev = None;
            continue;
        }
        let boundary = match prev {
            None => true,
            Some(p) => (p.is_ascii_lowercase() && c.is_ascii_uppercase()) || (p.is_ascii_digit() != c.is_ascii_digit()),
        };
        if boundary {
            starts |= 1 << len;
        }
        out[len] = c.to_ascii_lowercase();
        len += 1;
        prev = Some(c);
    }
    Some((len, starts))
}

/// Kinds that have a detector of their own: after their key in text, the
/// value must be what that detector finds (`phone: 415 555 0132`, a
/// grouped IBAN), so the key adds nothing and decides nothing.
const DETECTED: [Kind; 5] = [Kind::Email, Kind::Phone, Kind::CreditCard, Kind::UsSsn, Kind::Iban];

/// Type names: `password: String!` in GraphQL, `token: str` in Python,
/// `secret: &str` in Rust, `apiKey: string;` in TypeScript are code.
const TYPE_NAMES: &[&[u8]] = &[
    b"String",
    b"string",
    b"str",
    b"Int",
    b"int",
    b"Float",
    b"float",
    b"Boolean",
    b"boolean",
    b"bool",
    b"ID",
    b"number",
    b"Number",
    b"any",
    b"unknown",
    b"object",
    b"Object",
    b"bytes",
    b"Bytes",
    b"null",
    b"undefined",
    b"None",
    b"true",
    b"false",
    b"char",
    b"text",
    b"varchar",
    b"i32",
    b"i64",
    b"u32",
    b"u64",
    b"usize",
    b"Option",
    b"Vec",
    b"Secret",
    b"SecretString",
    b"Password",
    b"Token",
    b"required",
    b"optional",
    b"str,",
    b"type",
];

/// HTTP authentication schemes: the credential is the word after them.
const SCHEMES: &[&[u8]] = &[b"bearer", b"basic", b"token", b"digest", b"negotiate", b"apikey"];

/// An HTTP authentication scheme word (`Bearer`), in any case.
pub(crate) fn is_scheme(word: &[u8]) -> bool {
    SCHEMES.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// `key=value` or `key: value` in text, with the `=` or `:` at `i`: the
/// value's range if the key is sensitive and the value is data.
///
/// Not data: a key that is a variable or template (`$email:`, `${phone}`,
/// `{{email}}`), a value that is a type or code (`String!`, `[String]`,
/// `getToken()`), a template, or this scrubber's own output. After an
/// unquoted key of a kind with its own detector, that detector decides.
/// `Authorization: Bearer abc`: the credential is `abc`, and a token that a
/// detector knows (a JWT) keeps its own kind.
pub(crate) fn key_value(s: &[u8], i: usize, rules: &KeyRules) -> Option<(usize, std::ops::Range<usize>)> {
    let mut key_end = i;
    let quoted = key_end > 0 && s[key_end - 1] == b'"';
    if quoted {
        key_end -= 1;
    }
    let mut key_start = key_end;
    while key_start > 0 && (s[key_start - 1].is_ascii_alphanumeric() || matches!(s[key_start - 1], b'_' | b'-')) {
        key_start -= 1;
    }
    super::work::add(key_end - key_start);
    if key_start == key_end || (quoted && (key_start == 0 || s[key_start - 1] != b'"')) {
        return None;
    }
    // `[EMAIL:5d41402abc4b]` is the scrubber's own hash or token output;
    // `$email:` a GraphQL variable; `${phone}` and `{{email}}` templates.
    if !quoted && key_start > 0 && matches!(s[key_start - 1], b'[' | b'$' | b'{' | b'.') {
        return None;
    }
    let tag = rules.lookup(&s[key_start..key_end])?;
    let detected = DETECTED.iter().any(|k| k.index() == tag);
    let mut start = i + 1;
    if s[i] == b':' && s.get(start) == Some(&b' ') {
        start += 1;
    }
    let value_quoted = s.get(start) == Some(&b'"');
    if value_quoted {
        start += 1;
    }
    // An object, a list, or this scrubber's own `[EMAIL]` / `[EMAIL:5d41402abc4b]`.
    if (!quoted && detected) || matches!(s.get(start), Some(b'[' | b'{')) {
        return None;
    }
    // A number after a phone, SSN, card or national-id key is left to the
    // number detectors, which see the key as context and the whole grouped
    // number.
    let numeric = s.get(start).is_some_and(|c| c.is_ascii_digit() || matches!(c, b'+' | b'('));
    let number_kinds = [
        Kind::Phone,
        Kind::UsSsn,
        Kind::CreditCard,
        Kind::UsItin,
        Kind::BrCpf,
        Kind::InAadhaar,
        Kind::PlPesel,
        Kind::UkNhs,
        Kind::AuTfn,
        Kind::AuAbn,
        Kind::AuMedicare,
        Kind::KrRrn,
        Kind::BrCnpj,
        Kind::UsPassport,
        Kind::UsBankNumber,
    ];
    if numeric && number_kinds.iter().any(|k| k.index() == tag) {
        return None;
    }
    let value_end = |from: usize| {
        let end = from
            + s[from..]
                .iter()
                .position(|&c| {
                    c.is_ascii_whitespace()
                        || matches!(c, b'&' | b',' | b';' | b'"' | b'\'' | b'}' | b']' | b'<' | b'>' | b')')
                })
                .unwrap_or(s.len() - from);
        super::work::add(end - from);
        end
    };
    let mut end = value_end(start);
    if end == start {
        return None;
    }
    if !quoted && !value_quoted && is_code(&s[start..end], s.get(end).copied()) {
        return None;
    }
    if is_scheme(&s[start..end]) {
        // `Bearer` alone is not a secret: the credential follows it.
        if s.get(end) != Some(&b' ') {
            return None;
        }
        start = end + 1;
        if super::tokens::prefixed(s, start).is_ok() {
            return None;
        }
        end = value_end(start);
        if end == start || is_code(&s[start..end], s.get(end).copied()) {
            return None;
        }
    }
    (end > start).then_some((tag, start..end))
}

/// A value that is code, a type, a template or a placeholder, not data.
fn is_code(value: &[u8], after: Option<u8>) -> bool {
    let bare = value.strip_suffix(b"!").or_else(|| value.strip_suffix(b"?")).unwrap_or(value);
    matches!(value[0], b'[' | b'{' | b'$' | b'<' | b'&' | b'(' | b'%' | b'*' | b'#')
        || TYPE_NAMES.contains(&bare)
        // A generic type: `Optional[str]`, `Vec<String>`, `List[int]`.
        || (value[0].is_ascii_uppercase() && value.iter().any(|&c| c == b'[' || c == b'<'))
        || value.contains(&b'(')
        || after == Some(b'(')
        || after == Some(b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> KeyRules {
        let rules: Vec<(String, usize)> = DEFAULT_KEYS.iter().map(|(k, kind)| (k.to_string(), kind.index())).collect();
        KeyRules::new(&rules).unwrap()
    }

    #[test]
    fn keys_match_across_case_and_separator_styles_at_word_boundaries() {
        let rules = defaults();
        let kind = |k: &str| rules.lookup(k.as_bytes()).map(|t| Kind::ALL[t]);
        for key in ["password", "Password", "user_password", "userPassword", "USER-PASSWORD", "newPassword"] {
            assert_eq!(kind(key), Some(Kind::Password), "{key}");
        }
        for key in ["api_key", "apiKey", "API-KEY", "x-api-key", "access_token", "idToken", "Authorization"] {
            assert_eq!(kind(key), Some(Kind::Password), "{key}");
        }
        assert_eq!(kind("card_number"), Some(Kind::CreditCard));
        assert_eq!(kind("contactPhone"), Some(Kind::Phone));
        assert_eq!(kind("phone_number"), Some(Kind::Phone));
        assert_eq!(kind("user_email"), Some(Kind::Email));
        assert_eq!(kind("date_of_birth"), Some(Kind::DateOfBirth));
        assert_eq!(kind("ssn"), Some(Kind::UsSsn));
        for key in [
            "email_verified",
            "hotel",
            "tokenCount",
            "pinned",
            "spin",
            "typing",
            "passwordless_enabled",
            "room",
            "text",
            "",
        ] {
            assert_eq!(kind(key), None, "{key}");
        }
        assert_eq!(kind(&"a".repeat(100)), None);
    }

    #[test]
    fn key_value_pairs_in_text_give_the_value() {
        let rules = defaults();
        let find = |t: &'static str| {
            let i = t.find(['=', ':']).unwrap();
            key_value(t.as_bytes(), i, &rules).map(|(tag, r)| (Kind::ALL[tag], &t[r]))
        };
        assert_eq!(find("password=hunter2 user=bob"), Some((Kind::Password, "hunter2")));
        assert_eq!(find("token: abc.def"), Some((Kind::Password, "abc.def")));
        assert_eq!(find(r#"{"apiKey":"k-123"}"#), Some((Kind::Password, "k-123")));
        assert_eq!(find("pin=1234"), Some((Kind::Password, "1234")));
        assert_eq!(find("dob=1990-01-31"), Some((Kind::DateOfBirth, "1990-01-31")));
        // Numbers after other keys are left to the number detectors.
        assert_eq!(find("phone=4155550132&x=1"), None);
        assert_eq!(find("note: the password is long"), None);
        assert_eq!(find("[PASSWORD:5d41402abc4b]"), None, "the scrubber's own output");
        assert_eq!(find("password="), None);
    }
}
