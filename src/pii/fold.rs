//! Text as a person reads it: what the detectors scan.
//!
//! Before matching, a text that is not plain ASCII, or that holds
//! backslash escapes, is folded into a copy:
//!
//! - `\uXXXX` and the other JSON escapes are decoded (also outside JSON:
//!   a frame may carry JSON the walker rejects, or escaped text in a
//!   line protocol);
//! - decimal digits of every script (Arabic-Indic `٤١١١`, Devanagari,
//!   full-width `４`, ...) become ASCII digits;
//! - Unicode space separators (no-break, narrow no-break, thin, figure,
//!   ideographic, ...) become a space;
//! - full-width ASCII forms (`＠`, `．`, `ｊ`) become ASCII, and the
//!   Unicode hyphens and minus signs become `-`;
//! - zero-width characters and soft hyphens are skipped.
//!
//! Every byte of the copy records the range of original bytes it came
//! from, so what is found in the copy is reported, and rewritten, as the
//! original text. Pure ASCII without a backslash is scanned as it is.

use std::ops::Range;

use super::json;
use super::work;

/// A folded copy and, per byte of it, where in the original the character
/// it came from starts.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    pub(crate) text: String,
    /// `u32` halves the map; [`fold`] is only called on texts shorter
    /// than 4 GiB (see [`fits`]).
    starts: Vec<u32>,
    /// The original's length, and whether escapes were decoded: what an
    /// original character's length depends on.
    len: usize,
    escapes: bool,
}

impl Folded {
    /// The original byte range that `range` of the copy came from.
    pub(crate) fn original(&self, original: &str, range: Range<usize>) -> Range<usize> {
        if range.is_empty() {
            let at = self.starts.get(range.start).map_or(self.len, |&a| a as usize);
            return at..at;
        }
        let last = self.starts[range.end - 1] as usize;
        self.starts[range.start] as usize..last + self.char_len(original.as_bytes(), last)
    }

    /// The length of the original character (or escape) at `i`.
    fn char_len(&self, raw: &[u8], i: usize) -> usize {
        match raw[i] {
            b'\\' if self.escapes => json::unescape(raw, i).1,
            b if b < 0x80 => 1,
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            _ => 2,
        }
    }
}

/// Whether `s` (without escapes) must be folded before scanning: it holds
/// a character that reads as another. Text in other scripts needs no copy
/// unless it does: `caf\u{e9}` and `谢谢` are scanned as they are.
pub(crate) fn needed(s: &str) -> bool {
    s.chars().any(|c| !c.is_ascii() && fold_char(c) != Some(c))
}

/// Whether `s` is short enough to fold (its offsets fit in `u32`); a
/// longer text is scanned as it is.
pub(crate) fn fits(s: &str) -> bool {
    u32::try_from(s.len()).is_ok()
}

/// Folds `s`; with `escapes`, backslash escapes are decoded first. `s`
/// must [fit](fits).
pub(crate) fn fold(s: &str, escapes: bool) -> Folded {
    let raw = s.as_bytes();
    work::add(raw.len());
    let mut out = Folded {
        text: String::with_capacity(raw.len()),
        starts: Vec::with_capacity(raw.len()),
        len: raw.len(),
        escapes,
    };
    let mut i = 0;
    while i < raw.len() {
        // Plain ASCII is copied in one go.
        let plain = raw[i..].iter().position(|&b| b >= 0x80 || (escapes && b == b'\\')).map_or(raw.len(), |k| i + k);
        if plain > i {
            out.text.push_str(&s[i..plain]);
            out.starts.extend(i as u32..plain as u32);
            i = plain;
            continue;
        }
        let (c, len) = match raw[i] {
            b'\\' => json::unescape(raw, i),
            // `s` is a `str`, so a non-ASCII byte here starts a whole character.
            _ => {
                let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
                (c, c.len_utf8())
            }
        };
        if let Some(c) = fold_char(c) {
            out.starts.extend(std::iter::repeat_n(i as u32, c.len_utf8()));
            out.text.push(c);
        }
        i += len;
    }
    out
}

/// What a character reads as; `None` for characters that are not seen.
fn fold_char(c: char) -> Option<char> {
    let code = u32::from(c);
    if code < 0x80 {
        return Some(c);
    }
    let ascii = |b: u8| Some(char::from(b));
    match code {
        // Soft hyphen, zero-width space, non-joiner, joiner, word joiner,
        // invisible operators, byte order mark / zero-width no-break space.
        0xAD | 0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x180E => None,
        0xA0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => ascii(b' '),
        0x2010..=0x2013 | 0x2212 | 0xFE63 => ascii(b'-'),
        0xFE6B => ascii(b'@'),
        // Full-width forms of ASCII `!` to `~`.
        0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0),
        _ => Some(digit(code).map_or(c, |d| char::from(b'0' + d))),
    }
}

/// The first code point (value 0) of every run of ten Unicode decimal
/// digits (general category Nd): Unicode 14 from Python's `unicodedata`,
/// plus Kawi and Nag Mundari from Unicode 15. The test checks each block.
const DIGIT_ZEROS: [u32; 67] = [
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0, 0xF20,
    0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0,
    0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0,
    0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60,
    0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950, 0x1FBF0,
];

/// The value of a decimal digit of any script.
fn digit(code: u32) -> Option<u8> {
    let k = DIGIT_ZEROS.partition_point(|&z| z <= code).checked_sub(1)?;
    let offset = code - DIGIT_ZEROS[k];
    (offset < 10).then_some(offset as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digit_table_is_sorted_and_every_block_is_ten_numeric_characters() {
        assert!(DIGIT_ZEROS.windows(2).all(|w| w[0] + 10 <= w[1]));
        for zero in DIGIT_ZEROS {
            for k in 0..10 {
                let c = char::from_u32(zero + k).unwrap();
                assert!(c.is_numeric(), "{c:?}");
                assert_eq!(digit(zero + k), Some(k as u8));
            }
            assert_eq!(digit(zero + 10).filter(|_| !DIGIT_ZEROS.contains(&(zero + 10))), None);
        }
        assert_eq!(digit(0x65F), None);
    }

    #[test]
    fn folding_keeps_a_map_to_the_original_bytes() {
        let text = "card ٤١١١\u{a0}1111\u{200b}\u{ad} ＠x \\u0040";
        let f = fold(text, true);
        assert_eq!(f.text, "card 4111 1111 @x @");
        let at = f.text.find("4111").unwrap();
        assert_eq!(&text[f.original(text, at..at + 9)], "٤١١١\u{a0}1111");
        let escape = f.text.rfind('@').unwrap();
        assert_eq!(&text[f.original(text, escape..escape + 1)], "\\u0040");
        // Without escapes, a backslash is text.
        assert_eq!(fold("a\\u0040b", false).text, "a\\u0040b");
        assert!(!needed("plain ascii"));
        assert!(!needed("caf\u{e9} 谢谢"));
        assert!(needed("caf\u{e9} \u{a0}"));
    }
}
