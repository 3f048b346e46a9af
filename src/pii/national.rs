//! National identifiers and bank codes with letters in them, and the
//! checks of the national numbers that are digits only.
//!
//! Words that start with a capital ([`upper`]): ES NIE, UK NINO, IT codice
//! fiscale, SG NRIC/FIN, IN PAN, and, after their names, SWIFT/BIC codes
//! and US passport numbers. Words that start with digits (called from the
//! digit-run detector's fast path): ES DNI/NIF, FI HETU and the written
//! form of a BR CNPJ. Checks for digit runs ([`super::numeric`] decides
//! the grouping and the context): AU TFN, ABN and Medicare, KR RRN, BR CNPJ
//! and US routing numbers.
//!
//! Every check reads at most the word at hand (which the scanner reads
//! anyway) and a bounded number of bytes around it.

use std::ops::Range;

use super::Kind;
use super::numeric::Context;
use super::scan::Kinds;
use super::tokens::{ends_word, iban, is_alnum, run};

/// What a word starting with a capital at `i` may be besides a prefixed
/// token. One call from the scanner's loop for all of them keeps that loop
/// small; each shape is told apart by its first bytes.
pub(crate) fn upper(
    s: &[u8],
    i: usize,
    kinds: Kinds,
    context: impl Fn(usize) -> Context,
) -> Option<(Kind, Range<usize>)> {
    let at = |k: usize| s.get(i + k).copied().unwrap_or(0);
    let on = |kind: Kind, found: Option<Range<usize>>| found.filter(|_| kinds.has(kind)).map(|r| (kind, r));
    if at(1).is_ascii_digit() {
        // A letter and digits: NIE `X1234567L`, NRIC `S1234567D`, passport `A12345678`.
        let word = run(s, i, is_alnum);
        let w = &s[i..word];
        let nie = matches!(s[i], b'X' | b'Y' | b'Z').then(|| spanish_id(s, i)).flatten();
        let nric = (w.len() == 9 && nric(w)).then_some(i..word);
        let passport =
            || (w.len() == 9 && w[1..].iter().all(u8::is_ascii_digit) && context(i).passport).then_some(i..word);
        return on(Kind::EsNif, nie).or_else(|| on(Kind::SgNric, nric)).or_else(|| on(Kind::UsPassport, passport()));
    }
    if !at(1).is_ascii_uppercase() {
        return None;
    }
    if at(2).is_ascii_digit() {
        // Two capitals and digits: NINO `AB123456C`, IBAN `DE89 3704 ...`.
        return on(Kind::UkNino, nino(s, i)).or_else(|| on(Kind::Iban, iban(s, i)));
    }
    if at(2) == b' ' {
        return on(Kind::UkNino, nino(s, i));
    }
    if !(2..5).all(|k| at(k).is_ascii_uppercase()) {
        return None;
    }
    // Five capitals: PAN `ABCPE1234F`, codice fiscale `RSSMRA85T10A562S`,
    // or (after `SWIFT` or `BIC`) a bank code `DEUTDEFF500`.
    let word = run(s, i, is_alnum);
    let w = &s[i..word];
    match w.len() {
        10 if pan(w) => on(Kind::InPan, Some(i..word)),
        16 if codice_fiscale(w) => on(Kind::ItFiscalCode, Some(i..word)),
        8 | 11 if bic(w) && context(i).swift => on(Kind::SwiftBic, Some(i..word)),
        _ => None,
    }
}

/// A Spanish DNI/NIF (`12345678Z`) or NIE (`X1234567L`, starting X, Y or
/// Z) starting at `i`: the whole word, optionally with a `-` before the
/// letter, whose control letter matches (mod 23).
pub(crate) fn spanish_id(s: &[u8], i: usize) -> Option<Range<usize>> {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    // Seven digits after the first character, before anything else: most
    // words that start with a digit are dismissed here.
    if !s.get(i + 1..i + 8).is_some_and(|t| t.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let end = run(s, i, is_alnum);
    let word = &s[i..end];
    let (number, dash) = match (word.len(), s.get(end), s.get(end + 1)) {
        // `12345678-Z`: the letter after a dash ends the id.
        (8, Some(b'-'), Some(&c)) if c.is_ascii_alphabetic() && !s.get(end + 2).is_some_and(|&c| is_alnum(c)) => {
            (word, true)
        }
        (9, ..) => (&word[..8], false),
        _ => return None,
    };
    let letter = if dash { s[end + 1] } else { word[8] }.to_ascii_uppercase();
    if !letter.is_ascii_alphabetic() {
        return None;
    }
    let value = match number[0] {
        b'X' | b'x' => 0,
        b'Y' | b'y' => 1,
        b'Z' | b'z' => 2,
        c if c.is_ascii_digit() => u32::from(c - b'0'),
        _ => return None,
    };
    if !number[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = number[1..].iter().fold(value, |a, &d| a * 10 + u32::from(d - b'0'));
    (LETTERS[(n % 23) as usize] == letter).then_some(i..if dash { end + 2 } else { end })
}

/// A UK National Insurance number at `i`: two prefix letters HMRC
/// allocates, six digits (`123456`, or in pairs `12 34 56`), and the suffix
/// A-D, with or without spaces between the parts.
fn nino(s: &[u8], i: usize) -> Option<Range<usize>> {
    const NOT_FIRST: &[u8] = b"DFIQUV";
    const NOT_SECOND: &[u8] = b"DFIOQUV";
    const NOT_PREFIX: &[&[u8; 2]] = &[b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"];
    let prefix = [s[i], s[i + 1]];
    if NOT_FIRST.contains(&prefix[0]) || NOT_SECOND.contains(&prefix[1]) || NOT_PREFIX.contains(&&prefix) {
        return None;
    }
    let mut k = i + 2;
    let space = |k: &mut usize| {
        if s.get(*k) == Some(&b' ') {
            *k += 1;
        }
    };
    space(&mut k);
    let mut digits = 0;
    while digits < 6 {
        let pair = s.get(k..k + 2).filter(|p| p.iter().all(u8::is_ascii_digit))?;
        k += pair.len();
        digits += 2;
        // Pairs may be spaced, but not the last from the suffix here.
        if digits < 6 && s.get(k) == Some(&b' ') && s.get(k + 1).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
    }
    space(&mut k);
    (matches!(s.get(k), Some(b'A'..=b'D')) && ends_word(s, k + 1)).then_some(i..k + 1)
}

/// An Italian codice fiscale (16 characters): surname and name letters,
/// year, month letter, day (plus 40 for women), municipality, and the
/// check letter over the first fifteen. Digits may be replaced by the
/// letters `LMNPQRSTUV` (omocodia).
fn codice_fiscale(w: &[u8]) -> bool {
    const ODD: [u8; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    const MONTHS: &[u8] = b"ABCDEHLMPRST";
    const OMOCODIA: &[u8] = b"LMNPQRSTUV";
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        _ => OMOCODIA.iter().position(|&o| o == c).map(|p| p as u8),
    };
    let letters = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    if w.len() != 16 || !letters.iter().all(|&k| w[k].is_ascii_uppercase()) || !MONTHS.contains(&w[8]) {
        return false;
    }
    let mut numbers = [0u8; 7];
    for (n, k) in [6, 7, 9, 10, 12, 13, 14].into_iter().enumerate() {
        match digit(w[k]) {
            Some(d) => numbers[n] = d,
            None => return false,
        }
    }
    let day = numbers[2] * 10 + numbers[3];
    if !matches!(day, 1..=31 | 41..=71) {
        return false;
    }
    let value = |c: u8| if c.is_ascii_digit() { c - b'0' } else { c - b'A' };
    let sum: u32 = w[..15]
        .iter()
        .enumerate()
        .map(|(k, &c)| u32::from(if k % 2 == 0 { ODD[usize::from(value(c))] } else { value(c) }))
        .sum();
    w[15] == b'A' + (sum % 26) as u8
}

/// A Singapore NRIC or FIN: `S`, `T`, `F`, `G` or `M`, seven digits and the
/// check letter (weights 2-7-6-5-4-3-2, an offset by series, mod 11).
fn nric(w: &[u8]) -> bool {
    const WEIGHTS: [u32; 7] = [2, 7, 6, 5, 4, 3, 2];
    if w.len() != 9 || !w[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (offset, table): (u32, &[u8; 11]) = match w[0] {
        b'S' => (0, b"JZIHGFEDCBA"),
        b'T' => (4, b"JZIHGFEDCBA"),
        b'F' => (0, b"XWUTRQPNMLK"),
        b'G' => (4, b"XWUTRQPNMLK"),
        b'M' => (3, b"XWUTRQPNJLK"),
        _ => return false,
    };
    let sum: u32 = offset + w[1..8].iter().zip(WEIGHTS).map(|(&d, k)| k * u32::from(d - b'0')).sum::<u32>();
    table[(sum % 11) as usize] == w[8]
}

/// An Indian PAN: five letters (the fourth says what holds it: person,
/// company, trust, ...), four digits and a letter. There is no check
/// character; the holder letter and the exact shape are the test.
fn pan(w: &[u8]) -> bool {
    w.len() == 10
        && w[..5].iter().all(u8::is_ascii_uppercase)
        && b"ABCFGHJKLPT".contains(&w[3])
        && w[5..9].iter().all(u8::is_ascii_digit)
        && &w[5..9] != b"0000"
        && w[9].is_ascii_uppercase()
}

/// A SWIFT/BIC code's shape: four letters (the bank), two (the country),
/// two letters or digits (the location), optionally three more (the
/// branch). Only after `SWIFT` or `BIC`: many all-capital words fit.
fn bic(w: &[u8]) -> bool {
    matches!(w.len(), 8 | 11)
        && w[..6].iter().all(u8::is_ascii_uppercase)
        && w[6..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Finnish HETU at `i`: `DDMMYY`, the century sign (`+`, `-`, `A`-`F`,
/// `U`-`Y`), a three-digit individual number and the check character of
/// the nine digits mod 31.
pub(crate) fn hetu(s: &[u8], i: usize) -> Option<Range<usize>> {
    const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    let w = s.get(i..i + 11)?;
    let digits = |r: Range<usize>| w[r].iter().all(u8::is_ascii_digit);
    if !digits(0..6)
        || !matches!(w[6], b'+' | b'-' | b'A'..=b'F' | b'U'..=b'Y')
        || !digits(7..10)
        || !ends_word(s, i + 11)
    {
        return None;
    }
    let n = |r: Range<usize>| w[r].iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
    let (day, month) = (n(0..2), n(2..4));
    let valid = (1..=31).contains(&day) && (1..=12).contains(&month) && n(7..10) >= 2;
    let number = n(0..6) * 1000 + n(7..10);
    (valid && CHECK[(number % 31) as usize] == w[10]).then_some(i..i + 11)
}

/// A Brazilian CNPJ written `00.000.000/0000-00` at `i`.
pub(crate) fn cnpj_written(s: &[u8], i: usize) -> Option<Range<usize>> {
    const SHAPE: &[u8; 18] = b"00.000.000/0000-00";
    let w = s.get(i..i + 18)?;
    let shaped = w.iter().zip(SHAPE).all(|(&c, &f)| if f == b'0' { c.is_ascii_digit() } else { c == f });
    if !shaped || !ends_word(s, i + 18) {
        return None;
    }
    let mut d = [0u8; 14];
    for (slot, &c) in d.iter_mut().zip(w.iter().filter(|c| c.is_ascii_digit())) {
        *slot = c;
    }
    is_cnpj(&d).then_some(i..i + 18)
}

/// A CNPJ's two mod-11 check digits; fourteen equal digits are not issued.
pub(crate) fn is_cnpj(d: &[u8]) -> bool {
    const WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    if d.len() != 14 || d.iter().all(|&c| c == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d[..n].iter().zip(&WEIGHTS[13 - n..]).map(|(&c, w)| w * u32::from(c - b'0')).sum();
        let r = sum % 11;
        (if r < 2 { 0 } else { 11 - r }) == u32::from(d[n] - b'0')
    };
    check(12) && check(13)
}

/// An Australian Tax File Number: nine digits (eight for old ones) whose
/// weighted sum is a multiple of 11.
pub(crate) fn is_tfn(d: &[u8]) -> bool {
    let weights: &[u32] = match d.len() {
        9 => &[1, 4, 3, 7, 5, 8, 6, 9, 10],
        8 => &[10, 7, 8, 4, 6, 3, 5, 1],
        _ => return false,
    };
    let sum: u32 = d.iter().zip(weights).map(|(&c, w)| w * u32::from(c - b'0')).sum();
    sum.is_multiple_of(11)
}

/// An Australian Business Number: eleven digits, the first less one, whose
/// weighted sum is a multiple of 89.
pub(crate) fn is_abn(d: &[u8]) -> bool {
    const WEIGHTS: [u32; 11] = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    if d.len() != 11 || d[0] == b'0' {
        return false;
    }
    let sum: u32 =
        d.iter().zip(WEIGHTS).enumerate().map(|(k, (&c, w))| w * (u32::from(c - b'0') - u32::from(k == 0))).sum();
    sum.is_multiple_of(89)
}

/// An Australian Medicare card number: ten digits (eleven with the
/// individual's reference), first 2-6, the ninth the check digit of the
/// first eight (weights 1-3-7-9), the issue number not 0.
pub(crate) fn is_medicare(d: &[u8]) -> bool {
    const WEIGHTS: [u32; 8] = [1, 3, 7, 9, 1, 3, 7, 9];
    if !matches!(d.len(), 10 | 11) || !(b'2'..=b'6').contains(&d[0]) || d[9] == b'0' {
        return false;
    }
    let sum: u32 = d[..8].iter().zip(WEIGHTS).map(|(&c, w)| w * u32::from(c - b'0')).sum();
    sum % 10 == u32::from(d[8] - b'0')
}

/// A Korean resident registration number's date of birth and sex digit
/// (`YYMMDD-S......`): `(shaped, checked)`, where `checked` says the last
/// digit is the old mod-11 check. Numbers issued since October 2020 have
/// no check digit, so a number that fails it still counts after `RRN` or
/// `주민등록번호`.
pub(crate) fn rrn(d: &[u8]) -> (bool, bool) {
    const WEIGHTS: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    if d.len() != 13 {
        return (false, false);
    }
    let n = |k: usize| u32::from(d[k] - b'0');
    let (month, day) = (n(2) * 10 + n(3), n(4) * 10 + n(5));
    let shaped = (1..=12).contains(&month) && (1..=31).contains(&day) && (1..=8).contains(&n(6));
    let sum: u32 = (0..12).map(|k| WEIGHTS[k] * n(k)).sum();
    (shaped, shaped && (11 - sum % 11) % 10 == n(12))
}

/// A US ABA routing number: nine digits, a Federal Reserve prefix, and
/// the 3-7-1 check.
pub(crate) fn is_aba(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let n = |k: usize| u32::from(d[k] - b'0');
    let prefix = n(0) * 10 + n(1);
    let sum = 3 * (n(0) + n(3) + n(6)) + 7 * (n(1) + n(4) + n(7)) + n(2) + n(5) + n(8);
    matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) && sum.is_multiple_of(10)
}
