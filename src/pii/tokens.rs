//! Detectors that start at a letter or a punctuation trigger: emails,
//! URL credentials, tokens with literal prefixes, JWTs, PEM private keys,
//! IBANs, MAC and IPv6 addresses.
//!
//! Each takes the text and the trigger's index and returns the byte range
//! found, after validating it (checksums, parsing, decoding).

use std::net::Ipv6Addr;
use std::ops::Range;

use super::Kind;
use super::work;

/// ASCII letters and digits: the bytes of a word, for word boundaries.
static ALNUM: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    t
};

/// An ASCII letter or digit (a table lookup, for the scanner's hot loop).
#[inline]
pub(crate) fn is_alnum(c: u8) -> bool {
    ALNUM[c as usize]
}

/// Where reading resumes after a space at `i - 1`: past the lower-case
/// words (ASCII `a`-`z`, separated by spaces and commas) that follow,
/// read eight bytes at a time, at the start of the last word, which may go
/// on into something else (`ghp_...`, `fe80::1`).
///
/// No built-in finding starts at such a word: prefixed tokens need `_`,
/// `-`, a digit or a capital, addresses a `:`, `.` or digit, and everything
/// else a digit, a capital or punctuation other than `,`. Detectors that
/// read backwards (context words, keys) read from where they start.
pub(crate) fn plain(s: &[u8], i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte set where the byte is zero (exact, no carries
    // between bytes, for bytes below 0x80).
    let zero = |t: u64| !(((t & !HI) + !HI) | t) & HI;
    let mut k = i;
    while let Some(chunk) = s.get(k..k + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        if x & HI != 0 {
            break;
        }
        // `a` <= byte <= `z`, for bytes below 0x80: no borrows.
        let lower = ((x | HI) - 0x61 * LO) & ((0xFA * LO) - x) & HI;
        let plain = lower | zero(x ^ (0x20 * LO)) | zero(x ^ (0x2C * LO));
        if plain != HI {
            break;
        }
        k += 8;
    }
    if k == i {
        return i;
    }
    work::add(k - i);
    // The last word may go on past the plain bytes: read it whole.
    memchr::memrchr2(b' ', b',', &s[i..k]).map_or(i, |p| i + p + 1)
}

/// The end of the run of bytes matching `f` from `i`.
#[inline]
pub(crate) fn run(s: &[u8], start: usize, f: impl Fn(u8) -> bool) -> usize {
    let mut i = start;
    while i < s.len() && f(s[i]) {
        i += 1;
    }
    work::add(i.saturating_sub(start));
    i
}

/// Nothing alphanumeric follows: `_` ends a token too, as in Markdown
/// emphasis (`_DE89370400440532013000_`).
pub(crate) fn ends_word(s: &[u8], end: usize) -> bool {
    !s.get(end).is_some_and(u8::is_ascii_alphanumeric)
}

/// The end of a token at word start `i` that holds nothing to find and
/// that the detectors would otherwise read piece by piece: a UUID
/// (`5f0c1e2a-8b7d-4c3e-9a1f-000000000042`) or an ISO 8601 timestamp
/// (`2026-11-22T10:15:00.123Z`, `2026-11-22T10:15:00+01:00`).
pub(crate) fn inert(s: &[u8], i: usize) -> Option<usize> {
    let at = |k: usize| s.get(i + k).copied().unwrap_or(0);
    if at(8) == b'-' {
        let t = s.get(i..i + 36)?;
        let uuid = t
            .iter()
            .enumerate()
            .all(|(k, c)| if matches!(k, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() });
        return (uuid && ends_word(s, i + 36)).then_some(i + 36);
    }
    if at(4) == b'-' && at(10) == b'T' {
        let t = s.get(i..i + 19)?;
        let shape = b"0000-00-00T00:00:00";
        if !t.iter().zip(shape).all(|(&c, &f)| if f == b'0' { c.is_ascii_digit() } else { c == f }) {
            return None;
        }
        // Fractions of a second, then `Z` or an offset.
        let mut end = i + 19;
        if s.get(end) == Some(&b'.') {
            end = run(s, end + 1, |c| c.is_ascii_digit());
        }
        match s.get(end) {
            Some(b'Z') => end += 1,
            Some(b'+' | b'-')
                if s.get(end + 1..end + 6).is_some_and(|o| {
                    o[2] == b':' && o.iter().enumerate().all(|(k, c)| k == 2 || c.is_ascii_digit())
                }) =>
            {
                end += 6
            }
            _ => {}
        }
        return ends_word(s, end).then_some(end);
    }
    None
}

/// An email around the `@` (or URL-encoded `%40`) at `at`; the local part
/// starts at or after `floor`.
pub(crate) fn email(s: &[u8], at: usize, floor: usize) -> Option<Range<usize>> {
    let after = match s[at] {
        b'@' => at + 1,
        _ if s[at..].starts_with(b"%40") => at + 3,
        _ => return None,
    };
    let local = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    let mut start = at;
    while start > floor && local(s[start - 1]) && at - start < 64 {
        start -= 1;
    }
    work::add(at - start);
    // Markdown emphasis and list punctuation are not part of the address.
    while start < at && matches!(s[start], b'.' | b'-' | b'+' | b'_') {
        start += 1;
    }
    if start == at || s[at - 1] == b'.' {
        return None;
    }
    let end = domain(s, after)?;
    // `a@b.com@c.com`: the second `@` makes the first domain a local part.
    (s.get(end) != Some(&b'@')).then_some(start..end)
}

/// The end of a domain name starting at `i`: dot-separated labels, the last
/// one (the TLD) alphabetic and at least two letters long.
fn domain(s: &[u8], i: usize) -> Option<usize> {
    let mut end = run(s, i, |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
    while end > i && matches!(s[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let name = &s[i..end];
    let tld_start = name.iter().rposition(|&c| c == b'.')? + 1;
    // The TLD is alphabetic; `example.com-01` ends at `com`.
    let tld_len = name[tld_start..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let glued = tld_start + tld_len < name.len() && name[tld_start + tld_len] != b'-';
    let labels_ok = name[..tld_start - 1].split(|&c| c == b'.').all(|l| !l.is_empty() && l[0] != b'-');
    (labels_ok && tld_len >= 2 && !glued).then_some(i + tld_start + tld_len)
}

/// `scheme://user:password@host` with the `:` of `://` at `colon`: the
/// credentials; or a Slack webhook URL.
pub(crate) fn url(s: &[u8], colon: usize) -> Option<(Kind, Range<usize>)> {
    if !s[colon..].starts_with(b"://") {
        return None;
    }
    let mut scheme = colon;
    while scheme > 0 && (s[scheme - 1].is_ascii_alphanumeric() || matches!(s[scheme - 1], b'+' | b'.' | b'-')) {
        scheme -= 1;
    }
    if colon - scheme < 2 {
        return None;
    }
    let rest = colon + 3;
    if s[rest..].starts_with(b"hooks.slack.com/services/") {
        let end = run(s, rest, |c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-'));
        return Some((Kind::SlackToken, scheme..end));
    }
    let stop = run(s, rest, |c| !matches!(c, b'@' | b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>') && c > b' ');
    let userinfo = &s[rest..stop];
    let password = userinfo.iter().position(|&c| c == b':')?;
    let host_ok =
        s.get(stop) == Some(&b'@') && s.get(stop + 1).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'[');
    (host_ok && password + 1 < userinfo.len()).then_some((Kind::UrlCredentials, rest..stop))
}

/// What a detector that remembers how far it read returns: the kind and
/// range found, or the index up to which nothing of its kind can start.
pub(crate) type Scanned = Result<(Kind, Range<usize>), usize>;

/// Tokens with a literal prefix, at a word start `i`.
///
/// # Errors
///
/// Nothing found: the index up to which no such token can start (the end
/// of the run read), so the scanner does not read it again.
#[inline]
pub(crate) fn prefixed(s: &[u8], i: usize) -> Scanned {
    // Most words start no prefix: told by their first two bytes, inline.
    // `i` may be the end of the text (a key's value that is not there).
    let Some(&first) = s.get(i) else { return Err(i) };
    let second = s.get(i + 1).copied().unwrap_or(0);
    let may = match first {
        b'A' => matches!(second, b'K' | b'S'),
        b'g' => matches!(second, b'h' | b'i'),
        b'x' => second == b'o',
        b's' | b'r' => second == b'k',
        b'e' => second == b'y',
        b'b' | b'B' => matches!(second, b'c' | b'C'),
        _ => false,
    };
    if may { prefixed_token(s, i) } else { Err(i) }
}

fn prefixed_token(s: &[u8], i: usize) -> Scanned {
    let t = &s[i..];
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let upper_digit = |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let token = |prefix: usize, f: &dyn Fn(u8) -> bool, min: usize, max: usize| {
        let end = run(s, i + prefix, f);
        if end - i - prefix >= min && end - i - prefix <= max && ends_word(s, end) { Ok(i..end) } else { Err(end) }
    };
    let Some(first) = t.first() else { return Err(i) };
    match first {
        b'A' if t.starts_with(b"AKIA") || t.starts_with(b"ASIA") => {
            token(4, &upper_digit, 16, 16).map(|r| (Kind::AwsAccessKey, r))
        }
        b'g' if t.starts_with(b"github_pat_") => {
            token(11, &|c| alnum(c) || c == b'_', 22, 255).map(|r| (Kind::GithubToken, r))
        }
        b'g' if t.len() > 4
            && t.starts_with(b"gh")
            && matches!(t[2], b'p' | b'o' | b'u' | b's' | b'r')
            && t[3] == b'_' =>
        {
            token(4, &alnum, 30, 255).map(|r| (Kind::GithubToken, r))
        }
        b'x' if t.len() > 5
            && t.starts_with(b"xox")
            && matches!(t[3], b'a' | b'b' | b'p' | b'o' | b's' | b'r')
            && t[4] == b'-' =>
        {
            token(5, &|c| alnum(c) || c == b'-', 10, 255).map(|r| (Kind::SlackToken, r))
        }
        b's' | b'r'
            if t.len() > 8 && t[1] == b'k' && (t[2..].starts_with(b"_live_") || t[2..].starts_with(b"_test_")) =>
        {
            token(8, &alnum, 10, 255).map(|r| (Kind::StripeKey, r))
        }
        b'e' if t.starts_with(b"eyJ") => jwt(s, i).map(|r| (Kind::Jwt, r)),
        b'b' | b'B' if t.len() > 14 && t[..3].eq_ignore_ascii_case(b"bc1") => {
            super::wallet::bech32(s, i).map(|r| (Kind::CryptoAddress, r)).ok_or(i + 3)
        }
        _ => Err(i),
    }
}

/// The longest JWT header looked at (base64url characters); real headers
/// are well under 200.
const MAX_JWT_HEADER: usize = 512;

/// Three base64url segments whose first decodes to a JSON object with `alg`.
/// A failure reports the end of what was read, as for [`prefixed`].
fn jwt(s: &[u8], i: usize) -> Result<Range<usize>, usize> {
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let header_end = run(s, i, b64);
    if s.get(header_end) != Some(&b'.') || header_end - i > MAX_JWT_HEADER {
        return Err(header_end);
    }
    let payload_end = run(s, header_end + 1, b64);
    if payload_end == header_end + 1 || s.get(payload_end) != Some(&b'.') {
        return Err(payload_end);
    }
    let end = run(s, payload_end + 1, b64);
    if !ends_word(s, end) {
        return Err(end);
    }
    let alg = base64url(&s[i..header_end])
        .and_then(|header| serde_json::from_slice::<serde_json::Value>(&header).ok())
        .is_some_and(|v| v.get("alg").is_some_and(serde_json::Value::is_string));
    work::add(header_end - i);
    if alg { Ok(i..end) } else { Err(end) }
}

/// Decodes unpadded base64url; `None` on any other byte.
pub(crate) fn base64url(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Encodes unpadded base64url.
#[cfg(feature = "encrypt")]
pub(crate) fn base64url_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |a, (k, &b)| a | (u32::from(b) << (16 - 8 * k)));
        for k in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
        }
    }
    out
}

/// A PEM private key block starting with `-----BEGIN` at `i`: to its end
/// marker or, when truncated, to the end of its base64 body.
pub(crate) fn private_key(s: &[u8], i: usize) -> Option<Range<usize>> {
    let t = &s[i..];
    if !t.starts_with(b"-----BEGIN ") {
        return None;
    }
    let header_end = t.iter().take(64).skip(11).position(|&c| c == b'-')? + 11;
    if !t[..header_end].ends_with(b"PRIVATE KEY") || !t[header_end..].starts_with(b"-----") {
        return None;
    }
    // The body: lines of base64, and header lines (`Proc-Type: 4,ENCRYPTED`).
    let mut pos = i + header_end + 5;
    let mut end = pos;
    loop {
        let line = run(s, pos, |c| matches!(c, b'\n' | b'\r'));
        if s[line..].starts_with(b"-----END ") {
            let close = run(s, line + 9, |c| c.is_ascii_uppercase() || c == b' ');
            end = if s[close..].starts_with(b"-----") { close + 5 } else { close };
            break;
        }
        let mut stop = run(s, line, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
        if stop == line {
            break;
        }
        if s.get(stop) == Some(&b':') {
            stop = run(s, stop, |c| c != b'\n' && c != b'\r');
        }
        // A line that goes on with other text (`thanks, bob`) is prose; a
        // quote may close the string that holds the key.
        let whole_line = matches!(s.get(stop), None | Some(b'\n' | b'\r' | b'"' | b'\'' | b'`'));
        if !whole_line {
            break;
        }
        end = stop;
        pos = stop;
    }
    Some(i..end)
}

/// An IBAN at word start `i` (two letters, two check digits), compact or
/// grouped by four with single spaces.
pub(crate) fn iban(s: &[u8], i: usize) -> Option<Range<usize>> {
    let t = &s[i..];
    if t.len() < 15
        || !t[0].is_ascii_uppercase()
        || !t[1].is_ascii_uppercase()
        || !t[2].is_ascii_digit()
        || !t[3].is_ascii_digit()
    {
        return None;
    }
    let expected = iban_length([t[0], t[1]])?;
    let mut chars = Vec::with_capacity(34);
    let mut pos = i;
    let mut grouped = None;
    while chars.len() < expected && pos < s.len() {
        let c = s[pos];
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            chars.push(c);
            pos += 1;
        } else if c == b' '
            && chars.len() % 4 == 0
            && grouped != Some(false)
            && s.get(pos + 1).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            grouped = Some(true);
            pos += 1;
        } else {
            break;
        }
        if chars.len() == 4 && grouped.is_none() && s.get(pos) != Some(&b' ') {
            grouped = Some(false);
        }
    }
    work::add(pos - i);
    (chars.len() == expected && ends_word(s, pos) && mod97(&chars)).then_some(i..pos)
}

/// ISO 13616 mod-97: the country code and check digits moved to the end,
/// letters as 10-35, the number modulo 97 equals 1.
pub(crate) fn mod97(iban: &[u8]) -> bool {
    let rotated = iban[4..].iter().chain(&iban[..4]);
    let mut rem = 0u32;
    for &c in rotated {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        };
    }
    rem == 1
}

/// The IBAN length of a country (SWIFT registry), for the countries that issue them.
fn iban_length(country: [u8; 2]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NL", 18),
        (b"NO", 15),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"SA", 24),
        (b"SC", 31),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
    ];
    // The table is sorted by country code.
    TABLE.binary_search_by(|(c, _)| c.as_slice().cmp(&country)).ok().map(|k| TABLE[k].1)
}

/// The longest text form of an address: an IPv6 address with an embedded
/// IPv4 address, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`.
const MAX_ADDRESS: usize = 45;

/// A MAC or IPv6 address at word start `i` (a hex digit or `:`): the
/// whole run of hex digits, `:`, `.` and `-` from `i`, less trailing
/// punctuation. An address is a whole token; nothing inside a longer run
/// is one.
///
/// # Errors
///
/// Nothing found: the index up to which no address can start.
#[inline]
pub(crate) fn hex_address(s: &[u8], i: usize) -> Scanned {
    // Cheap reject, inline, before reading the token: a MAC has its
    // separator at [2] (or a dot at [4]), an IPv6 address a colon within
    // five bytes.
    let at = |k: usize| s.get(i + k).copied();
    let mac_like = matches!(at(2), Some(b':' | b'-')) || at(4) == Some(b'.');
    if !mac_like && !(0..5).any(|k| at(k) == Some(b':')) {
        return Err(i);
    }
    hex_token(s, i)
}

fn hex_token(s: &[u8], i: usize) -> Scanned {
    let run_end = run(s, i, |c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.' | b'-'));
    let mut token = &s[i..run_end];
    // A sentence may end right after an address.
    while let [rest @ .., b'.' | b'-' | b':'] = token {
        if token.ends_with(b"::") {
            break;
        }
        token = rest;
    }
    let end = i + token.len();
    if token.len() > MAX_ADDRESS || !ends_word(s, end) {
        return Err(run_end);
    }
    if is_mac(token) {
        return Ok((Kind::Mac, i..end));
    }
    let colons = token.iter().filter(|&&c| c == b':').count();
    let groups = token.split(|&c| c == b':').filter(|g| !g.is_empty());
    // `a::b` parses, but in text it is a path; `fe80::1` and `::ffff:1.2.3.4` are addresses.
    let substantial = groups.clone().count() >= 3 || groups.clone().any(|g| g.len() >= 3);
    let parses = || std::str::from_utf8(token).ok().and_then(|t| t.parse::<Ipv6Addr>().ok()).is_some();
    if colons >= 2 && groups.count() >= 2 && substantial && !token.contains(&b'-') && parses() {
        return Ok((Kind::Ipv6, i..end));
    }
    Err(run_end)
}

/// The end of a placeholder at `i` as this scrubber writes them by
/// default: `[EMAIL]`, `[CREDIT_CARD:5d41402abc4b]`, `[EMAIL:enc:...]`.
pub(crate) fn placeholder(s: &[u8], i: usize) -> Option<usize> {
    let name_end = run(s, i + 1, |c| c.is_ascii_uppercase() || c == b'_');
    if name_end == i + 1 {
        return None;
    }
    match s.get(name_end) {
        Some(b']') => Some(name_end + 1),
        Some(b':') => {
            let end = run(s, name_end + 1, |c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':'));
            (s.get(end) == Some(&b']') && end - name_end <= 200).then_some(end + 1)
        }
        _ => None,
    }
}

/// A credential in a line protocol, at the start of a line `i`: the
/// password of IRC and POP3 `PASS secret`, of IMAP `tag LOGIN user secret`,
/// or the base64 of `AUTH PLAIN` / `tag AUTHENTICATE PLAIN`.
///
/// This scrubber's own output (`PASS [PASSWORD]`) is found too, and
/// dropped by the scrubber, so a second pass reads the line as the first.
pub(crate) fn line_credential(s: &[u8], i: usize) -> Option<Range<usize>> {
    let t = &s[i..];
    let word = |at: usize| {
        let end = run(s, at, |c| c > b' ' && c != b'\x7f');
        (end > at).then_some(end)
    };
    let space = |at: usize| (s.get(at) == Some(&b' ')).then_some(at + 1);
    let rest_of_line = |at: usize| {
        let end = run(s, at, |c| c != b'\n' && c != b'\r');
        (end > at).then_some(at..end)
    };
    if t.starts_with(b"PASS ") {
        // IRC allows a leading `:` before the last parameter.
        let start = i + 5 + usize::from(t.get(5) == Some(&b':'));
        return rest_of_line(start);
    }
    if t.starts_with(b"AUTH PLAIN ") {
        let start = i + 11;
        return word(start).map(|end| start..end);
    }
    // IMAP: a tag of at most 16 bytes, a space, then the command.
    let tag_end = i + t.iter().take(17).position(|&c| c == b' ').filter(|&k| k > 0)?;
    if !matches!(s.get(tag_end + 1), Some(b'L' | b'A')) || t[..tag_end - i].iter().any(|&c| c <= b' ') {
        return None;
    }
    let command = tag_end + 1;
    if s[command..].starts_with(b"AUTHENTICATE PLAIN ") {
        let start = command + 19;
        return word(start).map(|end| start..end);
    }
    if !s[command..].starts_with(b"LOGIN ") {
        return None;
    }
    let user_end = word(command + 6)?;
    let password = space(user_end)?;
    let end = word(password)?;
    Some(password..end)
}

fn is_mac(t: &[u8]) -> bool {
    let hex = |g: &[u8]| g.iter().all(u8::is_ascii_hexdigit);
    match t.len() {
        17 => {
            let sep = t[2];
            matches!(sep, b':' | b'-') && t.chunks(3).all(|c| hex(&c[..2]) && (c.len() == 2 || c[2] == sep))
        }
        14 => {
            t[4] == b'.'
                && t[9] == b'.'
                && t.split(|&c| c == b'.').all(|g| g.len() == 4 && hex(g))
                && t.iter().any(u8::is_ascii_digit)
        }
        _ => false,
    }
}
