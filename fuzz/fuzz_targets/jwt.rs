//! JWT parsing and claim checks: any token string, and correctly signed
//! tokens carrying any claims, through the verifier and the guard's
//! handshake (`Authorization: Bearer`). No claim value may panic (a review
//! found `exp` of 1e19 doing so); a verified token names its `sub`.
//!
//! `cargo +nightly fuzz run jwt -- -timeout=2 -max_len=4096`
//!
//! Input: the first byte picks raw (the rest is the token) or signed (the
//! rest is the claims JSON, signed with the verifier's key).

#![no_main]

use std::sync::OnceLock;

use jsonwebtoken::{EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use wsguard::auth::{Authenticator, JwtAlgorithm, JwtVerifier, Verifier};
use wsguard::{Guard, Principal};

const SECRET: &[u8] = b"a fuzzing secret of at least 32 bytes";

fn verifier() -> &'static JwtVerifier {
    static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        JwtVerifier::builder()
            .algorithms([JwtAlgorithm::HS256])
            .hmac_secret(None, SECRET)
            .roles_claim("/realm/roles")
            .build()
            .unwrap()
    })
}

fn guard() -> &'static Guard {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let auth = Authenticator::builder().bearer_header().build(verifier().clone()).unwrap();
        Guard::builder().with_authenticator(auth).connection_caps(wsguard::ConnectionCaps::unlimited()).build().unwrap()
    })
}

fn check(token: &str, claims: Option<&Map<String, Value>>) {
    let verified: Result<Principal, _> = verifier().verify(token);
    if let (Ok(principal), Some(claims)) = (&verified, claims) {
        assert_eq!(Some(principal.id.as_str()), claims.get("sub").and_then(Value::as_str));
    }
    let Ok(header) = http::HeaderValue::from_str(&format!("Bearer {token}")) else { return };
    let request = http::Request::get("/ws").header("authorization", header).body(()).unwrap();
    let mut session = guard().new_session(None);
    match guard().check_handshake(&request, &mut session) {
        Ok(()) => {
            let principal = session.principal().expect("an admitted session has a principal");
            assert_eq!(Ok(principal.id.as_str()), verified.as_ref().map(|p| p.id.as_str()));
        }
        Err(rejection) => assert!(matches!(rejection.http_status().as_u16(), 401 | 403 | 503), "{rejection}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick & 1 == 0 {
        check(&String::from_utf8_lossy(rest), None);
        return;
    }
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(rest) else { return };
    let Ok(token) = jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET)) else {
        return;
    };
    check(&token, Some(&claims));
});
