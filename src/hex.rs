//! Lower-case hexadecimal, for digests in keys and tokens.

/// The first `digits` hex digits of `bytes`.
pub(crate) fn hex(bytes: &[u8], digits: usize) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 15])
        .take(digits)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_are_lower_case_and_cut() {
        assert_eq!(super::hex(&[0x0a, 0xbc, 0xff], 6), "0abcff");
        assert_eq!(super::hex(&[0x0a, 0xbc, 0xff], 3), "0ab");
    }
}
