//! JWT verification with the `jsonwebtoken` crate (feature `jwt`).

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{AuthError, Verifier};
use crate::error::ConfigError;
use crate::session::Principal;

/// The signature algorithms a [`JwtVerifier`] may accept. There is no
/// `none`: an unsigned token can never verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 (shared secret).
    HS256,
    /// HMAC with SHA-384 (shared secret).
    HS384,
    /// HMAC with SHA-512 (shared secret).
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// The key family an algorithm needs (`Algorithm::family` is not public
/// in every `jsonwebtoken` 10.x).
fn family(alg: Algorithm) -> AlgorithmFamily {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => AlgorithmFamily::Hmac,
        Algorithm::ES256 | Algorithm::ES384 => AlgorithmFamily::Ec,
        Algorithm::EdDSA => AlgorithmFamily::Ed,
        _ => AlgorithmFamily::Rsa,
    }
}

/// A verification key and the key id (`kid`) it is published under.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    key: DecodingKey,
}

/// Verifies JSON Web Tokens: signature, algorithm, `exp`, and optionally
/// `nbf`, `iss` and `aud`. Build one with [`JwtVerifier::builder`].
///
/// The principal's id is the `sub` claim (required); its roles come from a
/// configurable claim (default `roles`): an array of strings, or a string
/// of space-separated names (as OAuth's `scope`); a JSON pointer such as
/// `/realm_access/roles` reads a nested claim. All claims are kept in
/// [`Principal::claims`], and the expiry (`exp` plus the leeway) closes the
/// connection when it passes.
///
/// # Key rotation
///
/// Keys carry an optional key id. A token whose header names a `kid` is
/// verified with that key only (an unknown `kid` is refused); a token
/// without `kid` with the first key of the algorithm's family. To rotate,
/// publish the new key beside the old one, switch the issuer, then drop
/// the old key.
///
/// # Performance
///
/// Uses `jsonwebtoken`'s `aws_lc_rs` backend. Measured on the development
/// machine (`cargo bench --features jwt --bench auth`): see the README's
/// performance section.
///
/// # Examples
///
/// ```
/// use wsguard::auth::{JwtAlgorithm, JwtVerifier};
///
/// let verifier = JwtVerifier::builder()
///     .algorithms([JwtAlgorithm::HS256])
///     .issuer("https://auth.example.com")
///     .hmac_secret(Some("2026-11"), b"a long random secret from your vault")
///     .build()?;
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    keys: Vec<Key>,
    validation: Validation,
    roles_claim: String,
    leeway: Duration,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref().unwrap_or("-")).collect();
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .field("kids", &kids)
            .field("roles_claim", &self.roles_claim)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

/// Configures a [`JwtVerifier`].
///
/// | setting | default |
/// |---------|---------|
/// | [`algorithms`](Self::algorithms) | required: none allowed until set |
/// | keys | required: at least one |
/// | [`leeway`](Self::leeway) | 30 s, for `exp` and `nbf` |
/// | `exp` | always required |
/// | [`issuer`](Self::issuer) / [`audience`](Self::audience) | not checked |
/// | `nbf` | checked when present |
/// | [`roles_claim`](Self::roles_claim) | `roles` |
#[must_use]
#[derive(Clone)]
pub struct JwtBuilder {
    algorithms: Vec<JwtAlgorithm>,
    keys: Vec<Key>,
    errors: Vec<String>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    roles_claim: String,
}

impl fmt::Debug for JwtBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBuilder").field("algorithms", &self.algorithms).finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Starts configuring a verifier.
    pub fn builder() -> JwtBuilder {
        JwtBuilder {
            algorithms: Vec::new(),
            keys: Vec::new(),
            errors: Vec::new(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            roles_claim: "roles".into(),
        }
    }

    fn key_for(&self, header: &jsonwebtoken::Header) -> Result<&DecodingKey, AuthError> {
        let family = family(header.alg);
        let mut candidates = self.keys.iter().filter(|k| k.key.family() == family);
        let key = match &header.kid {
            Some(kid) => candidates.find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None => candidates.next(),
        };
        key.map(|k| &k.key).ok_or(AuthError::UnknownKey)
    }

    fn principal(&self, claims: Map<String, Value>) -> Result<Principal, AuthError> {
        let id = claims.get("sub").and_then(Value::as_str).ok_or(AuthError::Claim("sub"))?.to_owned();
        let roles = match self.roles_claim.strip_prefix('/') {
            Some(_) => Value::Object(claims.clone()).pointer(&self.roles_claim).cloned(),
            None => claims.get(&self.roles_claim).cloned(),
        };
        let roles: Vec<String> = match roles {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(names)) => names.split_whitespace().map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        // `exp` is required and validated, so it is a number here.
        let exp = claims.get("exp").and_then(Value::as_f64).ok_or(AuthError::Claim("exp"))?;
        let expires_at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(exp.max(0.0)) + self.leeway;
        let mut principal = Principal::new(id).with_roles(roles).with_expiry(expires_at);
        principal.claims = claims;
        Ok(principal)
    }
}

impl Verifier for JwtVerifier {
    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let key = self.key_for(&header)?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation).map_err(|e| {
            match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
                ErrorKind::InvalidIssuer => AuthError::Claim("iss"),
                ErrorKind::InvalidAudience => AuthError::Claim("aud"),
                ErrorKind::MissingRequiredClaim(claim) => AuthError::Claim(match claim.as_str() {
                    "exp" => "exp",
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "required claim",
                }),
                _ => AuthError::Invalid,
            }
        })?;
        self.principal(data.claims)
    }
}

impl JwtBuilder {
    /// The allowed algorithms (replacing any set before). A token signed
    /// with another algorithm is refused, whatever key it names.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = JwtAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Adds an HMAC secret (HS256/384/512) under an optional key id.
    pub fn hmac_secret(mut self, kid: Option<&str>, secret: &[u8]) -> Self {
        self.keys.push(Key { kid: kid.map(str::to_owned), key: DecodingKey::from_secret(secret) });
        self
    }

    /// Adds an RSA public key (PEM) for RS256.
    pub fn rsa_pem(self, kid: Option<&str>, pem: &[u8]) -> Self {
        self.pem_key(kid, DecodingKey::from_rsa_pem(pem), "rsa")
    }

    /// Adds an EC public key (PEM) for ES256.
    pub fn ec_pem(self, kid: Option<&str>, pem: &[u8]) -> Self {
        self.pem_key(kid, DecodingKey::from_ec_pem(pem), "ec")
    }

    /// Adds an Ed25519 public key (PEM) for EdDSA.
    pub fn ed_pem(self, kid: Option<&str>, pem: &[u8]) -> Self {
        self.pem_key(kid, DecodingKey::from_ed_pem(pem), "ed25519")
    }

    fn pem_key(mut self, kid: Option<&str>, key: jsonwebtoken::errors::Result<DecodingKey>, what: &str) -> Self {
        match key {
            Ok(key) => self.keys.push(Key { kid: kid.map(str::to_owned), key }),
            Err(_) => self.errors.push(format!("unreadable {what} public key {}", kid.unwrap_or("without kid"))),
        }
        self
    }

    /// Adds every key of a JWK set (JSON text, as served at a
    /// `jwks_uri`), each under its `kid`.
    pub fn jwk_set(mut self, json: &str) -> Self {
        let set: JwkSet = match serde_json::from_str(json) {
            Ok(set) => set,
            Err(e) => {
                self.errors.push(format!("jwk set is not valid json: {e}"));
                return self;
            }
        };
        for jwk in &set.keys {
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => self.keys.push(Key { kid: jwk.common.key_id.clone(), key }),
                Err(_) => self.errors.push(format!("unusable jwk {}", jwk.common.key_id.as_deref().unwrap_or("-"))),
            }
        }
        self
    }

    /// Adds every key of a JWK set read from a file.
    pub fn jwk_set_file(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(json) => self.jwk_set(&json),
            Err(e) => {
                let mut this = self;
                this.errors.push(format!("cannot read jwk set {}: {e}", path.display()));
                this
            }
        }
    }

    /// Requires `iss` to be one of the issuers given (call it once per issuer).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Requires `aud` to contain one of the audiences given.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock skew tolerated for `exp` and `nbf`. Default 30 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The claim holding role names (default `roles`); a JSON pointer
    /// (`/realm_access/roles`) for a nested claim.
    pub fn roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.roles_claim = claim.into();
        self
    }

    /// Builds the verifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Jwt`] when no algorithm or key is given, a key is
    /// unreadable, or no key fits an allowed algorithm.
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        let fail = |reason: String| Err(ConfigError::Jwt { reason });
        if let Some(error) = self.errors.into_iter().next() {
            return fail(error);
        }
        let Some(first) = self.algorithms.first() else {
            return fail("no algorithm allowed".into());
        };
        if self.keys.is_empty() {
            return fail("no verification key".into());
        }
        let algorithms: Vec<Algorithm> = self.algorithms.iter().map(|a| a.to_jsonwebtoken()).collect();
        if let Some(alg) = algorithms.iter().find(|a| !self.keys.iter().any(|k| k.key.family() == family(**a))) {
            return fail(format!("no key for allowed algorithm {alg:?}"));
        }
        let mut validation = Validation::new(first.to_jsonwebtoken());
        validation.algorithms = algorithms;
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if !self.issuers.is_empty() {
            validation.set_issuer(&self.issuers);
            required.push("iss");
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Ok(JwtVerifier { keys: self.keys, validation, roles_claim: self.roles_claim, leeway: self.leeway })
    }
}
