//! Static API keys and tokens, compared in constant time.

use std::fmt;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AuthError, Verifier};
use crate::error::ConfigError;
use crate::session::Principal;

/// A fixed set of tokens (API keys), each mapped to a principal.
///
/// Tokens are kept only as SHA-256 digests: give them in plain text with
/// [`token`](Self::token), or as digests with [`token_sha256`](Self::token_sha256)
/// so the plain text never sits in your configuration. A presented token is
/// hashed and compared against every digest with `subtle`'s constant-time
/// equality, without stopping at a match, so the time taken reveals neither
/// which key matched nor how much of it. The cost is one SHA-256 plus a
/// 32-byte comparison per stored key (linear in the number of keys).
///
/// A principal with [`expires_at`](Principal::expires_at) in the past is
/// refused with [`AuthError::Expired`]; once connected, the guard closes the
/// connection at that instant.
///
/// # Examples
///
/// ```
/// use wsguard::Principal;
/// use wsguard::auth::{StaticTokens, Verifier};
///
/// let tokens = StaticTokens::new()
///     .token("alice-token", Principal::new("alice").with_roles(["user"]))
///     .token_sha256(
///         // sha256("admin-token")
///         "10a4c7c9fc5206d6f36dc6944a81bb6f4a3cb0e25014ae3b12e6c3e52712292a",
///         Principal::new("admin").with_roles(["admin"]),
///     )?;
/// assert_eq!(tokens.verify("alice-token")?.id, "alice");
/// assert_eq!(tokens.verify("admin-token")?.id, "admin");
/// assert!(tokens.verify("alice-token ").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct StaticTokens {
    entries: Vec<([u8; 32], Principal)>,
}

impl StaticTokens {
    /// An empty set (every token refused).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token given in plain text (only its digest is kept).
    #[must_use]
    pub fn token(mut self, token: impl AsRef<[u8]>, principal: Principal) -> Self {
        self.entries.push((Sha256::digest(token.as_ref()).into(), principal));
        self
    }

    /// Adds a token given as the hex SHA-256 digest of its plain text.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Auth`] if `digest` is not 64 hex digits.
    pub fn token_sha256(mut self, digest: &str, principal: Principal) -> Result<Self, ConfigError> {
        let invalid = ConfigError::Auth { reason: "a sha-256 digest is 64 hex digits" };
        if digest.len() != 64 || !digest.is_ascii() {
            return Err(invalid);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digest.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid.clone())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid.clone())?;
        }
        self.entries.push((bytes, principal));
        Ok(self)
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Verifier for StaticTokens {
    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (stored, principal) in &self.entries {
            // No early exit: every entry is compared, matching or not.
            if bool::from(stored.ct_eq(&digest)) && found.is_none() {
                found = Some(principal);
            }
        }
        let principal = found.ok_or(AuthError::Invalid)?;
        if principal.expires_at.is_some_and(|at| at <= SystemTime::now()) {
            return Err(AuthError::Expired);
        }
        Ok(principal.clone())
    }
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the digests: they identify the tokens.
        f.debug_struct("StaticTokens").field("len", &self.entries.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn plain_and_digest_tokens_verify_and_others_do_not() {
        let digest = "8e4b2a4b0e9b5de0b87c0f1f7bc16ab9e2b7d6d7fc4fd3db1b3a34a5c3dc8d1e";
        let tokens = StaticTokens::new()
            .token("alice-token", Principal::new("alice"))
            .token_sha256(&format!("{:x}", Sha256::digest(b"bob-token")), Principal::new("bob"))
            .unwrap()
            .token_sha256(digest, Principal::new("nobody-knows"))
            .unwrap();
        assert_eq!(tokens.verify("alice-token").unwrap().id, "alice");
        assert_eq!(tokens.verify("bob-token").unwrap().id, "bob");
        for wrong in ["", "alice", "alice-token\0", "ALICE-TOKEN", "bob-token ", digest] {
            assert_eq!(tokens.verify(wrong), Err(AuthError::Invalid), "{wrong:?}");
        }
        assert!(!format!("{tokens:?}").contains("alice"));
    }

    #[test]
    fn expired_principals_are_refused() {
        let past = SystemTime::now() - Duration::from_secs(1);
        let future = SystemTime::now() + Duration::from_secs(60);
        let tokens = StaticTokens::new()
            .token("old", Principal::new("a").with_expiry(past))
            .token("new", Principal::new("b").with_expiry(future));
        assert_eq!(tokens.verify("old"), Err(AuthError::Expired));
        assert_eq!(tokens.verify("new").unwrap().expires_at, Some(future));
    }

    #[test]
    fn malformed_digests_are_config_errors() {
        for bad in ["", "abc", &"g".repeat(64), &"é".repeat(32)] {
            assert!(StaticTokens::new().token_sha256(bad, Principal::new("x")).is_err(), "{bad:?}");
        }
    }
}
