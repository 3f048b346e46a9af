//! Cryptocurrency addresses: Bitcoin's base58check (`1...`, `3...`) and
//! bech32/bech32m (`bc1...`) addresses, and Ethereum's `0x` addresses.
//!
//! Each is a whole word validated by its checksum: base58check's double
//! SHA-256, bech32's BCH code (BIP 173, BIP 350), and for a mixed-case
//! Ethereum address its EIP-55 capitalisation (Keccak-256). An all-lower
//! or all-upper Ethereum address has no checksum; its `0x` and forty hex
//! digits are the test.

use std::ops::Range;

use sha2::{Digest, Sha256};
use sha3::Keccak256;

use super::tokens::{ends_word, is_alnum, run};

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A P2PKH (`1...`) or P2SH (`3...`) address at `i`: 26-35 base58
/// characters that decode to a version byte, 20 bytes of hash and a
/// 4-byte checksum.
pub(crate) fn base58(s: &[u8], i: usize) -> Option<Range<usize>> {
    let end = run(s, i, is_alnum);
    let w = &s[i..end];
    if !(26..=35).contains(&w.len()) {
        return None;
    }
    let mut bytes = [0u8; 25];
    for &c in w {
        let mut carry = BASE58.iter().position(|&b| b == c)? as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return None;
        }
    }
    let ones = w.iter().take_while(|&&c| c == b'1').count();
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Each leading `1` stands for one leading zero byte; the version is
    // 0 (P2PKH) or 5 (P2SH).
    let version = ones == zeros && matches!(bytes[0], 0x00 | 0x05);
    let digest = Sha256::digest(Sha256::digest(&bytes[..21]));
    (version && digest[..4] == bytes[21..]).then_some(i..end)
}

/// A segwit address at `i`: `bc1`, a witness version, a program and the
/// six-character checksum, all in one case; bech32 for version 0, bech32m
/// for later versions.
pub(crate) fn bech32(s: &[u8], i: usize) -> Option<Range<usize>> {
    let end = run(s, i, is_alnum);
    let w = &s[i..end];
    // `bc1` and a version, a program of 2-40 bytes, the checksum.
    if !(14..=74).contains(&w.len()) || !w[..3].eq_ignore_ascii_case(b"bc1") {
        return None;
    }
    let lower = w.iter().all(|c| !c.is_ascii_uppercase());
    let upper = w.iter().all(|c| !c.is_ascii_lowercase());
    if !lower && !upper {
        return None;
    }
    let mut values = [0u8; 71];
    let data = &mut values[..w.len() - 3];
    for (v, &c) in data.iter_mut().zip(&w[3..]) {
        *v = BECH32.iter().position(|&b| b == c.to_ascii_lowercase())? as u8;
    }
    let version = data[0];
    let program_bits = (data.len() - 7) * 5;
    let program = program_bits / 8;
    let constant = match version {
        0 if program == 20 || program == 32 => 1,
        1..=16 if (2..=40).contains(&program) => 0x2bc8_30a3,
        _ => return None,
    };
    // The human-readable part `bc`, expanded, then the data.
    let hrp = [b'b' >> 5, b'c' >> 5, 0, b'b' & 31, b'c' & 31];
    let residue = hrp.iter().chain(data.iter()).fold(1u32, |chk, &v| polymod_step(chk, v));
    (residue == constant && program_bits % 8 < 5).then_some(i..end)
}

fn polymod_step(chk: u32, value: u8) -> u32 {
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    let top = chk >> 25;
    let mut chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(value);
    for (k, g) in GEN.iter().enumerate() {
        if (top >> k) & 1 == 1 {
            chk ^= g;
        }
    }
    chk
}

/// An Ethereum address at `i`: `0x` and forty hex digits, the whole word;
/// in mixed case, only with a valid EIP-55 checksum.
pub(crate) fn ethereum(s: &[u8], i: usize) -> Option<Range<usize>> {
    let w = s.get(i..i + 42)?;
    if !w.starts_with(b"0x") || !w[2..].iter().all(u8::is_ascii_hexdigit) || !ends_word(s, i + 42) {
        return None;
    }
    let hex = &w[2..];
    let mixed = hex.iter().any(u8::is_ascii_lowercase) && hex.iter().any(u8::is_ascii_uppercase);
    if mixed {
        let mut lower = [0u8; 40];
        for (l, &c) in lower.iter_mut().zip(hex) {
            *l = c.to_ascii_lowercase();
        }
        let hash = Keccak256::digest(lower);
        let checked = hex.iter().enumerate().all(|(k, &c)| {
            let nibble = (hash[k / 2] >> if k % 2 == 0 { 4 } else { 0 }) & 0xf;
            !c.is_ascii_alphabetic() || c.is_ascii_uppercase() == (nibble >= 8)
        });
        if !checked {
            return None;
        }
    }
    Some(i..i + 42)
}
