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
/// `none`: an unsigned token can never verify. In configuration, written
/// as here (`"RS256"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
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
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
}

/// The key for a token's header: of the algorithm's family, under the
/// header's `kid` (or the first of the family without one).
fn find_key<'k>(keys: &'k [Key], header: &jsonwebtoken::Header) -> Option<&'k DecodingKey> {
    let family = family(header.alg);
    let mut candidates = keys.iter().filter(|k| k.key.family() == family);
    let key = match &header.kid {
        Some(kid) => candidates.find(|k| k.kid.as_deref() == Some(kid.as_str())),
        None => candidates.next(),
    };
    key.map(|k| &k.key)
}

/// The usable keys of a JWK set (JSON text), and a description of each
/// unusable one; `Err` when the text is not a JWK set.
pub(crate) fn parse_jwk_set(json: &str) -> Result<(Vec<Key>, Vec<String>), String> {
    let set: JwkSet = serde_json::from_str(json).map_err(|e| format!("jwk set is not valid json: {e}"))?;
    let mut keys = Vec::new();
    let mut unusable = Vec::new();
    for jwk in &set.keys {
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => keys.push(Key { kid: jwk.common.key_id.clone(), key }),
            Err(_) => unusable.push(format!("unusable jwk {}", jwk.common.key_id.as_deref().unwrap_or("-"))),
        }
    }
    Ok((keys, unusable))
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
    /// One validation per allowed algorithm: `jsonwebtoken` wants every
    /// algorithm of a validation to match the key's family.
    validations: Vec<(Algorithm, Validation)>,
    roles_claim: String,
    leeway: Duration,
    #[cfg(feature = "jwks")]
    remote: Option<super::Jwks>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref().unwrap_or("-")).collect();
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validations.iter().map(|(a, _)| a).collect::<Vec<_>>())
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
    /// The first HMAC secret shorter than [`MIN_HMAC_SECRET`], described.
    short_secret: Option<String>,
    allow_short_secrets: bool,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    roles_claim: String,
    #[cfg(feature = "jwks")]
    remote: Option<super::Jwks>,
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
            short_secret: None,
            allow_short_secrets: false,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            roles_claim: "roles".into(),
            #[cfg(feature = "jwks")]
            remote: None,
        }
    }

    /// Runs `verify` with the token's key: from the keys given, else from
    /// the [`Jwks`](super::Jwks), whose refetch an unknown `kid` requests.
    fn with_key<R>(
        &self,
        header: &jsonwebtoken::Header,
        verify: impl FnOnce(&DecodingKey) -> R,
    ) -> Result<R, AuthError> {
        if let Some(key) = find_key(&self.keys, header) {
            return Ok(verify(key));
        }
        #[cfg(feature = "jwks")]
        if let Some(remote) = &self.remote {
            let keys = remote.keys();
            if let Some(key) = find_key(&keys, header) {
                return Ok(verify(key));
            }
            remote.unknown_kid();
        }
        Err(AuthError::UnknownKey)
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
        // `exp` is required and validated, so it is a number here; any
        // number, however large, gives an expiry without overflow.
        let exp = claims.get("exp").and_then(Value::as_f64).ok_or(AuthError::Claim("exp"))?;
        let expires_at = expiry(exp, self.leeway);
        let mut principal = Principal::new(id).with_roles(roles).with_expiry(expires_at);
        principal.claims = claims;
        Ok(principal)
    }
}

/// The latest expiry a token can carry: 9999-12-31T23:59:59Z. Later `exp`
/// values (up to `u64::MAX` and beyond, as floats) are read as this one.
const LATEST_EXP: f64 = 253_402_300_799.0;

/// `exp` plus the leeway as a time, saturating at [`LATEST_EXP`] (leeway
/// included): no claim
/// value may panic (`Duration::from_secs_f64(1e19)` would).
fn expiry(exp: f64, leeway: Duration) -> SystemTime {
    let exp = if exp.is_nan() { 0.0 } else { exp.clamp(0.0, LATEST_EXP) };
    let latest = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(LATEST_EXP);
    (SystemTime::UNIX_EPOCH + Duration::from_secs_f64(exp)).checked_add(leeway).map_or(latest, |t| t.min(latest))
}

impl Verifier for JwtVerifier {
    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        let Some((_, validation)) = self.validations.iter().find(|(alg, _)| *alg == header.alg) else {
            return Err(AuthError::Algorithm);
        };
        let decoded =
            self.with_key(&header, |key| jsonwebtoken::decode::<Map<String, Value>>(token, key, validation))?;
        let data = decoded.map_err(|e| match e.kind() {
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
        })?;
        self.principal(data.claims)
    }
}

/// The shortest HMAC secret [`JwtBuilder::build`] accepts: 32 bytes, the
/// output size of SHA-256 (RFC 7518, section 3.2, requires a key at least
/// as long as the hash).
pub const MIN_HMAC_SECRET: usize = 32;

/// JWT options that weaken security, from [`JwtBuilder::dangerous`].
#[must_use]
#[derive(Debug)]
pub struct DangerousJwtOptions(JwtBuilder);

impl DangerousJwtOptions {
    /// Accepts HMAC secrets shorter than [`MIN_HMAC_SECRET`] bytes.
    ///
    /// **Warning:** anyone holding one signed token can try secrets
    /// offline, at billions per second on a GPU; a short or human-chosen
    /// secret falls, and with it every principal the issuer can name. Use
    /// only to accept tokens from an issuer you cannot change yet.
    pub fn allow_short_hmac_secrets(mut self) -> JwtBuilder {
        self.0.allow_short_secrets = true;
        self.0
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
    ///
    /// A secret shorter than [`MIN_HMAC_SECRET`] bytes makes
    /// [`build`](Self::build) fail (short secrets are guessed offline from
    /// any one token), unless allowed with
    /// [`dangerous().allow_short_hmac_secrets()`](DangerousJwtOptions::allow_short_hmac_secrets).
    pub fn hmac_secret(mut self, kid: Option<&str>, secret: &[u8]) -> Self {
        if secret.len() < MIN_HMAC_SECRET && self.short_secret.is_none() {
            self.short_secret = Some(format!(
                "hmac secret {} is {} bytes, at least {MIN_HMAC_SECRET} are required",
                kid.unwrap_or("without kid"),
                secret.len()
            ));
        }
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
        match parse_jwk_set(json) {
            Ok((keys, unusable)) => {
                self.keys.extend(keys);
                self.errors.extend(unusable);
            }
            Err(error) => self.errors.push(error),
        }
        self
    }

    /// Also verifies with the keys of a [`Jwks`](super::Jwks): an
    /// identity provider's set, fetched over HTTPS and refreshed in the
    /// background (feature `jwks`). Keys given directly are tried first.
    #[cfg(feature = "jwks")]
    pub fn jwks(mut self, jwks: super::Jwks) -> Self {
        self.remote = Some(jwks);
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

    /// Options that weaken security; read each one's warning.
    pub fn dangerous(self) -> DangerousJwtOptions {
        DangerousJwtOptions(self)
    }

    /// Builds the verifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Jwt`] when no algorithm or key is given, a key is
    /// unreadable, an HMAC secret is shorter than [`MIN_HMAC_SECRET`]
    /// bytes, or no key fits an allowed algorithm.
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        let fail = |reason: String| Err(ConfigError::Jwt { reason });
        let short = self.short_secret.filter(|_| !self.allow_short_secrets);
        if let Some(error) = self.errors.into_iter().next().or(short) {
            return fail(error);
        }
        let Some(first) = self.algorithms.first() else {
            return fail("no algorithm allowed".into());
        };
        #[cfg(feature = "jwks")]
        let remote_keys = self.remote.as_ref().map(super::Jwks::keys).unwrap_or_default();
        #[cfg(not(feature = "jwks"))]
        let remote_keys: Vec<Key> = Vec::new();
        let all: Vec<&Key> = self.keys.iter().chain(remote_keys.iter()).collect();
        if all.is_empty() {
            return fail("no verification key".into());
        }
        let algorithms: Vec<Algorithm> = self.algorithms.iter().map(|a| a.to_jsonwebtoken()).collect();
        if let Some(alg) = algorithms.iter().find(|a| !all.iter().any(|k| k.key.family() == family(**a))) {
            return fail(format!("no key for allowed algorithm {alg:?}"));
        }
        let mut validation = Validation::new(first.to_jsonwebtoken());
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
        let validations = algorithms
            .into_iter()
            .map(|alg| {
                let mut validation = validation.clone();
                validation.algorithms = vec![alg];
                (alg, validation)
            })
            .collect();
        Ok(JwtVerifier {
            keys: self.keys,
            validations,
            roles_claim: self.roles_claim,
            leeway: self.leeway,
            #[cfg(feature = "jwks")]
            remote: self.remote,
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"test-secret-of-a-reasonable-length";

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims() -> Value {
        json!({"sub": "alice", "roles": ["user", "editor"], "exp": now() + 600, "iss": "https://auth.test", "aud": "wsguard"})
    }

    fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, key).unwrap()
    }

    fn hs256(claims: &Value) -> String {
        sign(Algorithm::HS256, None, &EncodingKey::from_secret(SECRET), claims)
    }

    fn hmac_verifier() -> JwtVerifier {
        JwtVerifier::builder().algorithms([JwtAlgorithm::HS256]).hmac_secret(None, SECRET).build().unwrap()
    }

    #[test]
    fn a_valid_token_gives_its_subject_roles_claims_and_expiry() {
        let claims = claims();
        let principal = hmac_verifier().verify(&hs256(&claims)).unwrap();
        assert_eq!(principal.id, "alice");
        assert_eq!(principal.roles, ["user", "editor"]);
        assert_eq!(principal.claims["iss"], "https://auth.test");
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(claims["exp"].as_u64().unwrap() + 30);
        assert_eq!(principal.expires_at, Some(exp), "exp plus the default leeway");
    }

    #[test]
    fn refusals_name_the_failed_check() {
        let verifier = JwtVerifier::builder()
            .algorithms([JwtAlgorithm::HS256])
            .hmac_secret(None, SECRET)
            .issuer("https://auth.test")
            .audience("wsguard")
            .leeway(Duration::from_secs(5))
            .build()
            .unwrap();
        let with = |patch: Value| {
            let mut c = claims();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            hs256(&c)
        };
        let cases = [
            ("valid", with(json!({})), None),
            ("expired", with(json!({"exp": now() - 60})), Some(AuthError::Expired)),
            ("expired within leeway", with(json!({"exp": now() - 2})), None),
            ("no exp", with(json!({"exp": null})), Some(AuthError::Claim("exp"))),
            ("not yet valid", with(json!({"nbf": now() + 600})), Some(AuthError::NotYetValid)),
            ("nbf passed", with(json!({"nbf": now() - 60})), None),
            ("wrong issuer", with(json!({"iss": "https://evil.test"})), Some(AuthError::Claim("iss"))),
            ("no issuer", with(json!({"iss": null})), Some(AuthError::Claim("iss"))),
            ("wrong audience", with(json!({"aud": "other"})), Some(AuthError::Claim("aud"))),
            ("no subject", with(json!({"sub": null})), Some(AuthError::Claim("sub"))),
            (
                "wrong signature",
                sign(Algorithm::HS256, None, &EncodingKey::from_secret(b"another secret"), &claims()),
                Some(AuthError::Invalid),
            ),
            ("garbage", "not.a.jwt".to_owned(), Some(AuthError::Invalid)),
            ("empty", String::new(), Some(AuthError::Invalid)),
        ];
        for (name, token, expected) in cases {
            assert_eq!(verifier.verify(&token).err(), expected, "{name}");
        }
    }

    #[test]
    fn alg_none_and_algorithms_off_the_list_are_refused() {
        let b64 = base64_url;
        let verifier = hmac_verifier();
        let body = b64(&serde_json::to_vec(&claims()).unwrap());
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#, r#"{"typ":"JWT"}"#] {
            let token = format!("{}.{body}.", b64(header.as_bytes()));
            assert_eq!(verifier.verify(&token), Err(AuthError::Invalid), "{header}");
        }
        let hs512 = sign(Algorithm::HS512, None, &EncodingKey::from_secret(SECRET), &claims());
        assert_eq!(verifier.verify(&hs512), Err(AuthError::Algorithm));
        // Algorithm confusion: an HS256 token "signed" with the RSA public key.
        let rsa = JwtVerifier::builder()
            .algorithms([JwtAlgorithm::RS256])
            .rsa_pem(None, &fixture("rsa_public.pem"))
            .build()
            .unwrap();
        let confused = sign(Algorithm::HS256, None, &EncodingKey::from_secret(&fixture("rsa_public.pem")), &claims());
        assert_eq!(rsa.verify(&confused), Err(AuthError::Algorithm));
    }

    /// base64url without padding, as JWT segments are written.
    fn base64_url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn asymmetric_algorithms_verify_with_their_public_keys() {
        let verifier = JwtVerifier::builder()
            .algorithms([JwtAlgorithm::RS256, JwtAlgorithm::ES256, JwtAlgorithm::EdDSA])
            .rsa_pem(Some("rsa"), &fixture("rsa_public.pem"))
            .ec_pem(Some("ec"), &fixture("ec_public.pem"))
            .ed_pem(Some("ed"), &fixture("ed_public.pem"))
            .build()
            .unwrap();
        let keys = [
            (Algorithm::RS256, "rsa", EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap()),
            (Algorithm::ES256, "ec", EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap()),
            (Algorithm::EdDSA, "ed", EncodingKey::from_ed_pem(&fixture("ed_private.pem")).unwrap()),
        ];
        for (alg, kid, key) in &keys {
            assert_eq!(
                verifier.verify(&sign(*alg, Some(kid), key, &claims())).map(|p| p.id),
                Ok("alice".into()),
                "{alg:?}"
            );
            assert_eq!(verifier.verify(&sign(*alg, Some("nope"), key, &claims())), Err(AuthError::UnknownKey));
        }
        // The right algorithm under another key's kid does not verify.
        let (_, _, rsa_key) = &keys[0];
        let other = EncodingKey::from_rsa_pem(&fixture("rsa2_private.pem")).unwrap();
        assert_eq!(verifier.verify(&sign(Algorithm::RS256, Some("rsa"), &other, &claims())), Err(AuthError::Invalid));
        assert!(verifier.verify(&sign(Algorithm::RS256, None, rsa_key, &claims())).is_ok(), "no kid: first rsa key");
    }

    #[test]
    fn jwk_set_rotation_by_kid() {
        let jwks = std::str::from_utf8(&fixture("jwks.json")).unwrap().to_owned();
        let verifier = JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).jwk_set(&jwks).build().unwrap();
        let old = EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap();
        let new = EncodingKey::from_rsa_pem(&fixture("rsa2_private.pem")).unwrap();
        assert!(verifier.verify(&sign(Algorithm::RS256, Some("2026-10"), &old, &claims())).is_ok());
        assert!(verifier.verify(&sign(Algorithm::RS256, Some("2026-11"), &new, &claims())).is_ok());
        // Signed with the new key but naming the old kid: refused.
        assert_eq!(verifier.verify(&sign(Algorithm::RS256, Some("2026-10"), &new, &claims())), Err(AuthError::Invalid));
        assert_eq!(
            verifier.verify(&sign(Algorithm::RS256, Some("2026-12"), &new, &claims())),
            Err(AuthError::UnknownKey)
        );
        // After rotation the old key is gone from the set.
        let rotated = jwks.replace("2026-10", "retired");
        let from_file = std::env::temp_dir().join(format!("wsguard-jwks-{}.json", std::process::id()));
        std::fs::write(&from_file, rotated).unwrap();
        let verifier =
            JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).jwk_set_file(&from_file).build().unwrap();
        std::fs::remove_file(&from_file).unwrap();
        assert_eq!(
            verifier.verify(&sign(Algorithm::RS256, Some("2026-10"), &old, &claims())),
            Err(AuthError::UnknownKey)
        );
    }

    #[test]
    fn no_expiry_claim_value_panics() {
        let verifier = hmac_verifier();
        let latest = SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        for exp in [json!(u64::MAX), json!(1e19), json!(1.7e308), json!(i64::MAX)] {
            let mut c = claims();
            c["exp"] = exp.clone();
            match verifier.verify(&hs256(&c)) {
                Ok(principal) => assert_eq!(principal.expires_at, Some(latest), "exp {exp} saturates"),
                Err(e) => assert!(matches!(e, AuthError::Invalid | AuthError::Claim("exp")), "exp {exp}: {e:?}"),
            }
        }
        assert_eq!(expiry(f64::NAN, Duration::ZERO), SystemTime::UNIX_EPOCH);
        assert_eq!(expiry(-5.0, Duration::from_secs(30)), SystemTime::UNIX_EPOCH + Duration::from_secs(30));
        assert_eq!(expiry(1e300, Duration::MAX), latest);
    }

    #[test]
    fn short_hmac_secrets_need_the_dangerous_opt_in() {
        let builder = || JwtVerifier::builder().algorithms([JwtAlgorithm::HS256]);
        let short = [7u8; MIN_HMAC_SECRET - 1];
        match builder().hmac_secret(Some("k1"), &short).build() {
            Err(ConfigError::Jwt { reason }) => assert!(reason.contains("31 bytes"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(builder().hmac_secret(None, &[7u8; MIN_HMAC_SECRET]).build().is_ok());
        let allowed = builder().hmac_secret(None, &short).dangerous().allow_short_hmac_secrets().build().unwrap();
        let token = sign(Algorithm::HS256, None, &EncodingKey::from_secret(&short), &claims());
        assert_eq!(allowed.verify(&token).map(|p| p.id), Ok("alice".into()));
        // The opt-in does not excuse other errors.
        let unreadable = builder().rsa_pem(None, b"nope").hmac_secret(None, &short).dangerous();
        assert!(unreadable.allow_short_hmac_secrets().build().is_err());
    }

    #[test]
    fn roles_from_a_configured_claim() {
        let verifier = |claim: &str| {
            JwtVerifier::builder()
                .algorithms([JwtAlgorithm::HS256])
                .hmac_secret(None, SECRET)
                .roles_claim(claim)
                .build()
                .unwrap()
        };
        let mut c = claims();
        c["scope"] = json!("read write");
        c["realm_access"] = json!({"roles": ["admin"]});
        let token = hs256(&c);
        assert_eq!(verifier("scope").verify(&token).unwrap().roles, ["read", "write"]);
        assert_eq!(verifier("/realm_access/roles").verify(&token).unwrap().roles, ["admin"]);
        assert!(verifier("missing").verify(&token).unwrap().roles.is_empty());
    }

    #[test]
    fn unusable_setups_are_config_errors() {
        let err = |b: JwtBuilder| matches!(b.build(), Err(ConfigError::Jwt { .. }));
        assert!(err(JwtVerifier::builder().hmac_secret(None, SECRET)), "no algorithm");
        assert!(err(JwtVerifier::builder().algorithms([JwtAlgorithm::HS256])), "no key");
        assert!(err(JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).hmac_secret(None, SECRET)), "no rsa key");
        assert!(err(JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).rsa_pem(None, b"not a pem")));
        assert!(err(JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).jwk_set("{")));
        assert!(err(JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).jwk_set_file("/nonexistent/jwks.json")));
    }
}
