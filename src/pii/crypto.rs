//! [`Action::Encrypt`](super::Action::Encrypt): reversible tokenisation with
//! AES-256-GCM (feature `encrypt`).
//!
//! The nonce is derived from the value (an HMAC under a key derived from
//! the encryption key), as in SIV constructions: equal values give equal
//! tokens, so they correlate like hashes, and no random source is needed.
//! The kind's name is the associated data, so a token only opens as the
//! kind it was made for.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::Mac;

use super::action::{Keyed, keyed};
use super::tokens::{base64url, base64url_encode};

/// The marker between the placeholder's stem and the token.
const MARK: &str = ":enc:";

#[derive(Clone)]
pub(crate) struct Cipher {
    aead: Aes256Gcm,
    nonces: Keyed,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let mut derive = keyed(key);
        derive.update(b"wsguard pii nonce key");
        let nonce_key = derive.finalize().into_bytes();
        Self { aead: Aes256Gcm::new(key.into()), nonces: keyed(&nonce_key) }
    }

    /// `[EMAIL:enc:<base64url(nonce || ciphertext)>]` for the placeholder `[EMAIL]`.
    pub(crate) fn seal(&self, kind: &str, value: &str, placeholder: &str) -> String {
        let mut mac = self.nonces.clone();
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let nonce = Nonce::from_slice(&digest[..12]);
        // Encrypting into a Vec cannot fail for messages under 64 GiB.
        let sealed =
            self.aead.encrypt(nonce, Payload { msg: value.as_bytes(), aad: kind.as_bytes() }).unwrap_or_default();
        let mut token = digest[..12].to_vec();
        token.extend_from_slice(&sealed);
        let stem = placeholder.strip_suffix(']').unwrap_or(placeholder);
        let close = if stem.len() < placeholder.len() { "]" } else { "" };
        format!("{stem}{MARK}{}{close}", base64url_encode(&token))
    }

    /// The value inside a token made by [`seal`](Self::seal) for `kind`.
    pub(crate) fn open(&self, kind: &str, token: &str) -> Option<String> {
        let (_, rest) = token.split_once(MARK)?;
        let data = base64url(rest.trim_end_matches(']').as_bytes())?;
        if data.len() < 12 {
            return None;
        }
        let (nonce, sealed) = data.split_at(12);
        let plain = self.aead.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: kind.as_bytes() }).ok()?;
        String::from_utf8(plain).ok()
    }
}
