//! Digit runs: phone numbers, payment cards, US SSNs and ITINs, Brazilian
//! CPFs, Aadhaar numbers and IPv4 addresses.
//!
//! A run is digit groups joined by single separators (space, `-`, `.`),
//! optionally led by `+` and with groups in parentheses, as people write
//! numbers. The run is split into groups once; then every sub-run between
//! spaces (longest first) is offered to the validators, so that
//! `"room 12 415-555-0132"` still finds the phone number.

use super::Kind;
use super::phone::{self, Check, Regions};
use super::{national, wallet, work};

/// The most digits a run may hold: longer runs are identifiers or data.
const MAX_DIGITS: usize = 24;
/// The most groups a run may hold.
const MAX_GROUPS: usize = 8;

#[derive(Clone, Copy, Default)]
struct Group {
    /// Byte range of the digits.
    start: usize,
    end: usize,
    /// Byte range including a `(` before and `)` after.
    outer_start: usize,
    outer_end: usize,
    paren: bool,
    /// The separator before this group (`0` for the first, `)` after a
    /// parenthesised group followed directly by digits).
    sep: u8,
}

/// What a digit run held, where, and how far the scanner may skip.
pub(crate) struct Detected {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Context that makes a bare digit run count.
#[derive(Clone, Copy, Default)]
pub(crate) struct Context {
    pub(crate) phone: bool,
    pub(crate) ssn: bool,
    /// `cpf` before it: eleven bare digits may be a CPF.
    pub(crate) cpf: bool,
    /// `aadhaar` or `uid` before it: twelve bare digits may be an Aadhaar.
    pub(crate) aadhaar: bool,
    /// `pesel` before it: eleven bare digits may be a PESEL.
    pub(crate) pesel: bool,
    /// `nhs` before it: ten digits may be an NHS number.
    pub(crate) nhs: bool,
    /// `tfn`, `tax file number`.
    pub(crate) tfn: bool,
    /// `abn`.
    pub(crate) abn: bool,
    /// `medicare`.
    pub(crate) medicare: bool,
    /// `rrn`, `resident registration`, `주민등록번호`.
    pub(crate) rrn: bool,
    /// `cnpj`.
    pub(crate) cnpj: bool,
    /// `passport`.
    pub(crate) passport: bool,
    /// `account number`, `acct`, `bank account`, `checking`, `savings`.
    pub(crate) bank: bool,
    /// `routing`, `aba`.
    pub(crate) routing: bool,
    /// `swift`, `bic`.
    pub(crate) swift: bool,
}

/// Scans the run starting at `i` (a digit, `+` or `(` after a byte that
/// is not a letter or digit).
///
/// Every sub-run that starts and ends at a space or `-` between groups is
/// offered to the validators, longest first, so `"room 12 415-555-0132"`
/// and `ref-4111111111111111-01` still give the number. Returns the
/// detection, if any, and the index where scanning resumes: after the
/// finding, or after every group looked at, so no group is read twice.
pub(crate) fn at(
    s: &[u8],
    i: usize,
    regions: &Regions,
    context: impl Fn(usize) -> Context,
) -> (Option<Detected>, usize) {
    // `+` or `(` not followed by a digit (or `(` and a digit) starts nothing.
    if !s[i].is_ascii_digit() {
        let digit_at = |k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
        if !(digit_at(i + 1) || (s.get(i + 1) == Some(&b'(') && digit_at(i + 2))) {
            return (None, i + 1);
        }
    }
    // Fast path: a lone group of fewer than seven digits (`1:`, `12,`,
    // `2024`) holds nothing, whatever follows it.
    if s[i].is_ascii_digit() {
        let end = i + s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        // Identifiers with letters or their own punctuation, told apart by
        // the first digit group's length and the byte after it.
        let next = s.get(end).copied().unwrap_or(0);
        let found = match end - i {
            // Eight digits and a letter: a Spanish DNI/NIF, or an identifier.
            8 if next.is_ascii_alphabetic() || next == b'-' => national::spanish_id(s, i).map(|r| (Kind::EsNif, r)),
            // `131052-308T`, `010594Y9032`.
            6 if matches!(next, b'+' | b'-' | b'A'..=b'F' | b'U'..=b'Y') => {
                national::hetu(s, i).map(|r| (Kind::FiHetu, r))
            }
            // `11.222.333/0001-81`.
            2 if next == b'.' => national::cnpj_written(s, i).map(|r| (Kind::BrCnpj, r)),
            // `0x52908400098527886E0F7030069857D2E4169EE7`.
            1 if s[i] == b'0' && next == b'x' => wallet::ethereum(s, i).map(|r| (Kind::CryptoAddress, r)),
            // `1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2`, `3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy`.
            _ if matches!(s[i], b'1' | b'3') && next.is_ascii_alphabetic() => {
                wallet::base58(s, i).map(|r| (Kind::CryptoAddress, r))
            }
            _ => None,
        };
        if let Some((kind, r)) = found {
            return (Some(Detected { kind, start: r.start, end: r.end }), r.end);
        }
        let joins = matches!(s.get(end), Some(b' ' | b'-' | b'.' | b'('))
            && s.get(end + 1).is_some_and(|&c| c.is_ascii_digit() || c == b'(');
        if !joins && end - i < 7 {
            work::add(end - i);
            return (None, end);
        }
    }
    let mut groups = [Group::default(); MAX_GROUPS];
    let Some((plus, n, cut)) = split(s, i, &mut groups) else { return (None, i + 1) };
    // The digits a mask kept (`**** **** **** 1111`, `***-**-6789`) are
    // not a number: the run starts after them, as it did before masking.
    if n > 1 && is_mask_tail(s, i) {
        return (None, groups[1].outer_start);
    }
    let groups = &groups[..n];
    let end = groups[n - 1].outer_end;
    work::add(end - i);
    // Where scanning resumes when nothing is found. Every sub-run was
    // tried, but a cut run goes on past its last group, and the last group
    // may begin another token (`94:C2:69:FF:A1:CD`): resume at a group
    // after a space, from the middle on when cut, so each group is read at
    // most about twice.
    let from = if cut { (n / 2).max(1) } else { n - 1 };
    let resume_group = (from..n)
        .find(|&k| k > 0 && groups[k].sep == b' ')
        .or_else(|| cut.then(|| (from..n).find(|&k| groups[k].sep == b'-')).flatten());
    let resume = resume_group.map_or(end, |k| groups[k].outer_start);
    // Sub-runs that start where a cut run resumes are tried from there,
    // with the groups after the cut.
    let first_end = if cut { resume_group.unwrap_or(n) } else { n };
    // Too few digits for anything (an IPv4 address has four): done.
    let digits: usize = groups.iter().map(|g| g.end - g.start).sum();
    if digits < 4 || (digits < 7 && n != 4) {
        return (None, resume);
    }
    // A date at the start (`2024-03-05 415-555-0132`) is no part of a number.
    let first_allowed = if n >= 3 && date_at_start(s, groups) { 3 } else { 0 };
    // `10:22`, `12/25`, `3,5`: the last group continues as a time, a date
    // or a decimal (but `192.168.1.20:443` is an address and a port).
    let quad = n == 4 && groups[1..].iter().all(|g| g.sep == b'.');
    let continues = matches!(s.get(end), Some(b':' | b'/' | b',')) && s.get(end + 1).is_some_and(u8::is_ascii_digit);
    let last_allowed = if continues && !quad && groups[n - 1].end - groups[n - 1].start <= 2 { n - 1 } else { n };
    // `2024-0001-ab`: a sub-run ending at the run's end would join a longer token.
    let tail_joined = s.get(end) == Some(&b'-') && s.get(end + 1).is_some_and(u8::is_ascii_alphabetic);
    // Looking for context words costs a search: do it only when a
    // validator asks (bare runs).
    let cached = std::cell::OnceCell::new();
    let context = || *cached.get_or_init(|| context(i));
    // A run that starts as a CPF is written (`000.000.000-00`, then the
    // end or a space) holds it as one number: a CPF or nothing, never a
    // phone number in its first nine digits.
    let cpf_shaped = n >= 4
        && groups[..4].iter().map(|g| g.end - g.start).eq([3, 3, 3, 2])
        && groups[1].sep == b'.'
        && groups[2].sep == b'.'
        && groups[3].sep == b'-'
        && (n == 4 || groups[4].sep == b' ');
    // Sub-runs split only at spaces and dashes: `1.2.3.4` is one token.
    let splits_at = |k: usize| k == 0 || k == n || (!(cpf_shaped && k < 4) && matches!(groups[k].sep, b' ' | b'-'));
    for first in (first_allowed..last_allowed.min(first_end)).filter(|&k| splits_at(k)) {
        if first == 0 && is_price(s, i) {
            continue;
        }
        // A short group after a dash at the end is a suffix
        // (`078-05-1120-01`): try the number without it first.
        let len = |g: &Group| g.end - g.start;
        let suffix = last_allowed == n
            && n > 1
            && !(cpf_shaped && n == 4)
            && groups[n - 1].sep == b'-'
            && len(&groups[n - 1]) <= 2
            && len(&groups[n - 2]) >= 3;
        let count = last_allowed - first;
        let lasts = (0..count).map(|k| match suffix {
            true if k + 1 < count => last_allowed - 2 - k,
            true => last_allowed - 1,
            false => last_allowed - 1 - k,
        });
        for last in lasts.filter(|&k| splits_at(k + 1) && !(k == n - 1 && tail_joined)) {
            let sub = &groups[first..=last];
            // Too few digits for any number here, or too many.
            let digits = sub.iter().map(|g| g.end - g.start).sum::<usize>();
            if !((7..=19).contains(&digits) || sub.len() == 4 && (4..=12).contains(&digits)) {
                continue;
            }
            let plus = plus && first == 0;
            if !plausible(s, plus, sub) {
                continue;
            }
            work::add(sub[sub.len() - 1].end - sub[0].start);
            // A national id's grouping is the whole run: `5506 7583 5801 2012`
            // is one number, not an Aadhaar and a year.
            let whole = (first == 0 && last == n - 1 && !cut) || (cpf_shaped && first == 0 && last == 3);
            if let Some(kind) = classify(s, plus, sub, whole, regions, &context) {
                // `(4111111111111111)`: a lone bracketed group is the number without its brackets.
                let lone = sub.len() == 1 && !plus;
                let start = if plus {
                    i
                } else if lone {
                    sub[0].start
                } else {
                    sub[0].outer_start
                };
                let end = if lone { sub[0].end } else { sub[sub.len() - 1].outer_end };
                return (Some(Detected { kind, start, end }), end);
            }
        }
    }
    (None, resume)
}

/// Splits the run at `i` into groups; `None` when it is not a number-like run.
///
/// Also says whether the run was cut at [`MAX_DIGITS`] or [`MAX_GROUPS`].
fn split(s: &[u8], i: usize, groups: &mut [Group; MAX_GROUPS]) -> Option<(bool, usize, bool)> {
    let mut n = 0;
    let mut digits = 0;
    let mut pos = i;
    let plus = s[pos] == b'+';
    if plus {
        pos += 1;
        // `+ 44` is not a number; `+(44)` is rare enough to ignore.
        if !s.get(pos).is_some_and(u8::is_ascii_digit) {
            return None;
        }
    }
    let mut sep = 0u8;
    let mut cut = false;
    loop {
        let outer_start = pos;
        let paren = s.get(pos) == Some(&b'(');
        if paren {
            pos += 1;
        }
        let start = pos;
        while pos < s.len() && s[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start || (paren && s.get(pos) != Some(&b')')) {
            // Not a group: the run ended at the previous separator.
            if n == 0 {
                return None;
            }
            break;
        }
        let end = pos;
        if paren {
            pos += 1;
        }
        digits += end - start;
        // No number has two single digits in a row (`1 2`, `1-2`): they
        // are a list or an enumeration.
        let lone_pair = n > 0 && end - start == 1 && groups[n - 1].end - groups[n - 1].start == 1 && sep != b'.';
        if lone_pair {
            break;
        }
        if digits > MAX_DIGITS || n == MAX_GROUPS {
            // Too long for one number: end the run before this group.
            if n == 0 {
                return None;
            }
            cut = true;
            break;
        }
        groups[n] = Group { start, end, outer_start, outer_end: pos, paren, sep };
        n += 1;
        // The separator to the next group, if there is a next group.
        match s.get(pos) {
            Some(&c @ (b' ' | b'-' | b'.')) if s.get(pos + 1).is_some_and(|&d| d.is_ascii_digit() || d == b'(') => {
                sep = c;
                pos += 1;
            }
            Some(&d) if paren && d.is_ascii_digit() => sep = b')',
            Some(b'(') if n > 0 => sep = b'(',
            _ => break,
        }
    }
    // A letter or digit right after means an identifier such as `123abc`:
    // the last group is not part of the number.
    if s.get(groups[n - 1].outer_end).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'@') {
        if n == 1 {
            return None;
        }
        n -= 1;
        cut = true;
    }
    Some((plus, n, cut))
}

/// Whether the digits at `i` end a mask: three or more `*` before them,
/// across the separators a mask keeps (Markdown's `*` and `**` are fewer).
fn is_mask_tail(s: &[u8], i: usize) -> bool {
    let mut stars = 0;
    for &c in s[..i].iter().rev().take(32) {
        match c {
            b'*' => stars += 1,
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => break,
        }
        if stars >= 3 {
            return true;
        }
    }
    false
}

/// A run that starts with a date, `2024-03-05` or `05.03.2024`.
fn date_at_start(s: &[u8], groups: &[Group]) -> bool {
    let len = |g: &Group| g.end - g.start;
    let num = |g: &Group| s[g.start..g.end].iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
    let year = |g: &Group| len(g) == 4 && (1900..=2099).contains(&num(g));
    let month_day = |a: &Group, b: &Group| len(a) == 2 && len(b) == 2 && num(a) <= 31 && num(b) <= 31;
    match groups {
        [y, m, d, ..] if m.sep == d.sep && m.sep != b' ' => year(y) && month_day(m, d),
        [d, m, y, ..] if m.sep == y.sep && m.sep != b' ' => year(y) && month_day(d, m),
        _ => false,
    }
}

/// A price: `$1299`, `£129`, `€1299` (the last UTF-8 bytes of `£` and `€`),
/// or the digits after a decimal point, `3.14159`.
fn is_price(s: &[u8], start: usize) -> bool {
    let before = start.checked_sub(1).map(|p| s[p]);
    let decimal = before == Some(b'.') && start.checked_sub(2).is_some_and(|p| s[p].is_ascii_digit());
    matches!(before, Some(b'$' | b'\xa3' | b'\xac')) || decimal
}

/// Whether a sub-run's shape fits a format [`classify`] accepts, judged by
/// its group lengths and first digit alone (a superset of what it
/// accepts): the sub-runs of a long list of small numbers are dismissed
/// without copying their digits.
fn plausible(s: &[u8], plus: bool, sub: &[Group]) -> bool {
    // E.164, one group, and national numbers with a trunk `0` or `00`.
    if plus || sub.len() == 1 || s[sub[0].start] == b'0' {
        return true;
    }
    let mut buf = [0u8; MAX_GROUPS];
    for (k, g) in sub.iter().enumerate() {
        buf[k] = (g.end - g.start) as u8;
    }
    let lens = &buf[..sub.len()];
    // IPv4, and the EC2 `ip-10-0-56-78`.
    let quad = sub.len() == 4 && (sub[1..].iter().all(|g| g.sep == b'.') || sub[1..].iter().all(|g| g.sep == b'-'));
    let cards =
        lens.len() >= 3 && lens[..lens.len() - 1].iter().all(|&l| l == 4) && (1..=4).contains(&lens[lens.len() - 1]);
    quad || cards
        || matches!(
            lens,
            [3, 2, 4]
                | [3, 3, 4]
                | [1, 3, 3, 4]
                | [2, 4 | 5, 4]
                | [3, 3, 3]
                | [3, 2, 2, 2]
                | [5, 5]
                | [3, 4]
                | [4, 6, 4 | 5]
                | [3, 3, 3, 2]
                | [4, 4, 4]
                | [6, 7]
                | [2, 3, 3, 3]
                | [4, 5, 1]
        )
}

fn classify(
    s: &[u8],
    plus: bool,
    groups: &[Group],
    whole: bool,
    regions: &Regions,
    context: &dyn Fn() -> Context,
) -> Option<Kind> {
    let mut digits = [0u8; MAX_DIGITS];
    let mut lens = [0u8; MAX_GROUPS];
    let mut n = 0;
    for (k, g) in groups.iter().enumerate() {
        digits[n..n + g.end - g.start].copy_from_slice(&s[g.start..g.end]);
        n += g.end - g.start;
        lens[k] = (g.end - g.start) as u8;
    }
    let d = &digits[..n];
    let lens = &lens[..groups.len()];
    let mut sep_buf = [0u8; MAX_GROUPS];
    for (k, g) in groups[1..].iter().enumerate() {
        sep_buf[k] = g.sep;
    }
    let seps = &sep_buf[..groups.len() - 1];
    let same_sep = seps.windows(2).all(|w| w[0] == w[1]);
    // `(4111111111111111)`: one group in parentheses is a bracketed number.
    let any_paren = groups.len() > 1 && groups.iter().any(|g| g.paren);

    if !plus && !any_paren && lens.len() == 4 && same_sep && seps[0] == b'.' {
        return is_ipv4(s, groups).then_some(Kind::Ipv4);
    }
    // An EC2 private host name, `ip-10-0-56-78`.
    if !plus && lens.len() == 4 && same_sep && seps[0] == b'-' && s[..groups[0].start].ends_with(b"ip-") {
        return is_ipv4(s, groups).then_some(Kind::Ipv4);
    }
    if !plus && !any_paren && lens == [3, 2, 4] && same_sep && matches!(seps[0], b'-' | b' ') {
        return taxpayer_id(d);
    }
    if whole && !plus && !any_paren && lens == [3, 3, 3, 2] && seps == b"..-" {
        return is_cpf(d).then_some(Kind::BrCpf);
    }
    let aadhaar = whole && !plus && !any_paren && lens == [4, 4, 4] && same_sep && matches!(seps[0], b'-' | b' ');
    if aadhaar && is_aadhaar(d) {
        return Some(Kind::InAadhaar);
    }
    // National ids written bare, after their name, before cards (a bare
    // Aadhaar or CNPJ may pass Luhn too). The checks first: the
    // context is a search, and most runs fail a check.
    if lens == [11] && !plus {
        if is_cpf(d) && context().cpf {
            return Some(Kind::BrCpf);
        }
        if is_pesel(d) && context().pesel {
            return Some(Kind::PlPesel);
        }
    }
    if lens == [12] && !plus && is_aadhaar(d) && context().aadhaar {
        return Some(Kind::InAadhaar);
    }
    if lens == [14] && !plus && national::is_cnpj(d) && context().cnpj {
        return Some(Kind::BrCnpj);
    }
    if !plus && !any_paren && is_card_shape(lens, seps, same_sep) && is_card(d) {
        return Some(Kind::CreditCard);
    }
    if lens == [9] && !plus && context().ssn {
        return taxpayer_id(d);
    }
    // A named number follows its label and a space or `:`, `#`, `=`, `.`
    // (`acct 1234...`, `TFN: ...`, `no. ...`); a run after `-`, `/` or a
    // letter (`ref-000000000042`, a UUID's last group) is part of another
    // token, and is not worth the context search.
    let labelled =
        groups[0].outer_start > 0 && matches!(s[groups[0].outer_start - 1], b' ' | b':' | b'#' | b'=' | b'.');
    if !plus
        && !any_paren
        && let Some(kind) = named_number(d, lens, seps, same_sep, labelled, context)
    {
        return Some(kind);
    }
    // `943 476 5919` is also how a UK or US phone number looks: an NHS
    // number only after `NHS`.
    let nhs_shape = matches!(lens, [10] | [3, 3, 4]) && (lens.len() == 1 || (same_sep && seps[0] != b'.'));
    if nhs_shape && !plus && !any_paren && is_nhs(d) && context().nhs {
        return Some(Kind::UkNhs);
    }
    is_phone(d, lens, groups, plus, regions, context).then_some(Kind::Phone)
}

/// The national and bank numbers that count only after their name (or, for
/// a KR RRN written `YYMMDD-S......` with its check digit, by themselves).
/// The checks first: the context is a search, and most runs fail a check.
fn named_number(
    d: &[u8],
    lens: &[u8],
    seps: &[u8],
    same_sep: bool,
    labelled: bool,
    context: &dyn Fn() -> Context,
) -> Option<Kind> {
    let spaced = lens.len() == 1 || (same_sep && matches!(seps[0], b' ' | b'-'));
    if !spaced {
        return None;
    }
    if lens == [6, 7] && seps == b"-" {
        let (shaped, checked) = national::rrn(d);
        if shaped && (checked || (labelled && context().rrn)) {
            return Some(Kind::KrRrn);
        }
    }
    if !labelled {
        return None;
    }
    let found = match lens {
        [9] | [3, 3, 3] | [8] if national::is_tfn(d) && context().tfn => Kind::AuTfn,
        [11] | [2, 3, 3, 3] if national::is_abn(d) && context().abn => Kind::AuAbn,
        [10] | [11] | [4, 5, 1] if national::is_medicare(d) && context().medicare => Kind::AuMedicare,
        [13] if national::rrn(d).0 && context().rrn => Kind::KrRrn,
        [9] if context().passport => Kind::UsPassport,
        [9] if national::is_aba(d) && context().routing => Kind::UsBankNumber,
        [8..=17] if context().bank => Kind::UsBankNumber,
        _ => return None,
    };
    Some(found)
}

fn is_ipv4(s: &[u8], groups: &[Group]) -> bool {
    groups.iter().all(|g| {
        let part = &s[g.start..g.end];
        part.len() <= 3
            && (part.len() == 1 || part[0] != b'0')
            && part.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')) <= 255
    })
}

/// A US SSN, or else an ITIN.
fn taxpayer_id(d: &[u8]) -> Option<Kind> {
    if is_ssn(d) { Some(Kind::UsSsn) } else { is_itin(d).then_some(Kind::UsItin) }
}

/// `9XX-GG-XXXX` with a group the IRS assigns to ITINs.
pub(crate) fn is_itin(d: &[u8]) -> bool {
    if d.len() != 9 || d[0] != b'9' {
        return false;
    }
    let group = u32::from(d[3] - b'0') * 10 + u32::from(d[4] - b'0');
    matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

/// A CPF's two mod-11 check digits (weights 10..2, then 11..2); eleven
/// equal digits pass the checks but are not issued.
pub(crate) fn is_cpf(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&c| c == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d[..n].iter().enumerate().map(|(k, &c)| u32::from(c - b'0') * (n as u32 + 1 - k as u32)).sum();
        let r = (sum * 10) % 11;
        (if r == 10 { 0 } else { r }) == u32::from(d[n] - b'0')
    };
    check(9) && check(10)
}

/// A PESEL: a date of birth (the month carries the century: +80 for the
/// 1800s, +20 for the 2000s, +40, +60) and the check digit of weights
/// 1-3-7-9.
pub(crate) fn is_pesel(d: &[u8]) -> bool {
    if d.len() != 11 {
        return false;
    }
    let n = |k: usize| u32::from(d[k] - b'0');
    let sum: u32 = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3].iter().enumerate().map(|(k, w)| w * n(k)).sum();
    let month = (n(2) * 10 + n(3)) % 20;
    let day = n(4) * 10 + n(5);
    (10 - sum % 10) % 10 == n(10) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// A UK NHS number: ten digits whose mod-11 check (weights 10..2) is the
/// last digit (a check of 10 is never issued).
pub(crate) fn is_nhs(d: &[u8]) -> bool {
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9].iter().enumerate().map(|(k, &c)| (10 - k as u32) * u32::from(c - b'0')).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == u32::from(d[9] - b'0')
}

/// Twelve digits starting 2-9 with a valid Verhoeff check digit.
pub(crate) fn is_aadhaar(d: &[u8]) -> bool {
    const MUL: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const PERM: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    if d.len() != 12 || d[0] < b'2' {
        return false;
    }
    let check = d
        .iter()
        .rev()
        .enumerate()
        .fold(0u8, |c, (k, &digit)| MUL[usize::from(c)][usize::from(PERM[k % 8][usize::from(digit - b'0')])]);
    check == 0
}

/// Area not 000, 666 or 9xx; group not 00; serial not 0000.
pub(crate) fn is_ssn(d: &[u8]) -> bool {
    d.len() == 9 && &d[..3] != b"000" && &d[..3] != b"666" && d[0] != b'9' && &d[3..5] != b"00" && &d[5..] != b"0000"
}

fn is_card_shape(lens: &[u8], seps: &[u8], same_sep: bool) -> bool {
    let n: usize = lens.iter().map(|&l| usize::from(l)).sum();
    if !(12..=19).contains(&n) || !same_sep || seps.iter().any(|&c| c != b' ' && c != b'-') {
        return false;
    }
    match lens {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [head @ .., last] => head.len() >= 3 && head.iter().all(|&l| l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// A known brand prefix for the length, and a valid Luhn check digit.
pub(crate) fn is_card(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| d[..k].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    let brand = match d[0] {
        b'4' => matches!(n, 13 | 16 | 19), // Visa
        b'5' => match prefix(2) {
            51..=55 => n == 16,                     // Mastercard
            50 | 56..=58 => (12..=19).contains(&n), // Maestro
            _ => false,
        },
        b'2' if prefix(4) == 2131 => n == 15,                  // JCB
        b'2' => (2221..=2720).contains(&prefix(4)) && n == 16, // Mastercard 2-series
        b'3' => match prefix(2) {
            34 | 37 => n == 15,                          // Amex
            35 => n >= 16,                               // JCB (3528-3589, and the 35xx test ranges)
            30 | 36 | 38 | 39 => (14..=19).contains(&n), // Diners
            _ => false,
        },
        // Maestro (6304, 6390, 67xx) from 12 digits; Discover, UnionPay from 16.
        b'6' => n >= 16 || (n >= 12 && (matches!(prefix(4), 6304 | 6390) || prefix(2) == 67)),
        b'1' => n == 15, // UATP (AirPlus), JCB 1800
        _ => false,
    };
    brand && luhn(d)
}

/// The Luhn (mod 10) check over ASCII digits.
pub(crate) fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &c)| {
            let v = u32::from(c - b'0');
            if k % 2 == 1 { if v * 2 > 9 { v * 2 - 9 } else { v * 2 } } else { v }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A phone number, by how it is grouped and by libphonenumber's metadata:
/// E.164 for every region, national formats for `regions`. A writing that
/// says "phone" (`+`, a phone grouping, a context word) needs a possible
/// number; a shape other numbers share (a trunk `0` and groups, `00` and
/// groups) needs a valid one.
fn is_phone(
    d: &[u8],
    lens: &[u8],
    groups: &[Group],
    plus: bool,
    regions: &Regions,
    context: &dyn Fn() -> Context,
) -> bool {
    let n = d.len();
    if plus {
        // `+44 (0)20 ...`: the trunk zero in parentheses is not dialled.
        let trunk = groups.iter().position(|g| g.paren && g.end - g.start == 1);
        let Some(k) = trunk.filter(|&k| k > 0) else { return phone::international(d, Check::Possible) };
        let at: usize = lens[..k].iter().map(|&l| usize::from(l)).sum();
        let mut e164 = [0u8; MAX_DIGITS];
        e164[..at].copy_from_slice(&d[..at]);
        e164[at..n - 1].copy_from_slice(&d[at + 1..]);
        return phone::international(&e164[..n - 1], Check::Possible);
    }
    let nanp = |d: &[u8]| regions.nanp && d.len() == 10 && phone::with_code(1, d, Check::Possible);
    let first_paren = groups.len() > 1 && groups[0].paren;
    let grouped = lens.len() >= 2 && lens.iter().all(|&l| l >= 2) && (2..=6).contains(&lens[0]);
    // The groupings people use where the national number is written
    // without a trunk prefix.
    let matches_format = match lens {
        [3, 3, 4] => nanp(d),
        [1, 3, 3, 4] => d[0] == b'1' && nanp(&d[1..]) && !first_paren,
        // Brazil: (11) 91234-5678, (11) 3123-4567.
        [2, 4 | 5, 4] if first_paren => regions.brazil && phone::with_code(55, d, Check::Possible),
        // Spain: 612 34 56 78, 912 345 678.
        [3, 3, 3] | [3, 2, 2, 2] => regions.spain.is_some_and(|es| phone::national(d, es, Check::Possible)),
        // India: 98765 43210.
        [5, 5] => regions.india.is_some() && phone::with_code(91, d, Check::Possible),
        _ => false,
    };
    if matches_format && !(first_paren && lens.len() > 1 && lens[0] != 3 && lens[0] != 2) {
        return true;
    }
    // Dialled with the international prefix: 0049 30 123456.
    if grouped && d.starts_with(b"00") && lens[0] >= 3 {
        return phone::international(&d[2..], Check::Valid);
    }
    // National numbers as dialled inside a region: a trunk prefix where it
    // has one (UK, DE, FR, NL, IE, JP, AU, ...), the whole number where it
    // has none (IT).
    if d[0] == b'0'
        && d.get(1) != Some(&b'0')
        && (9..=12).contains(&n)
        && (grouped || (lens.len() == 1 && context().phone))
    {
        let check = if grouped { Check::Valid } else { Check::Possible };
        return regions.any_national(d, check);
    }
    if !matches!(lens, [10] | [11] | [3, 4]) || !context().phone {
        return false;
    }
    match lens {
        // A bare run is weak evidence, even after a context word: outside
        // the NANP, a valid number (India's patterns would take a Unix
        // time in seconds as possible).
        [10] => nanp(d) || regions.india.is_some_and(|india| phone::national(d, india, Check::Valid)),
        [11] => d[0] == b'1' && nanp(&d[1..]),
        // A seven-digit local number: no region's metadata can say more
        // without its area code.
        [3, 4] => d[0] >= b'2',
        _ => false,
    }
}
