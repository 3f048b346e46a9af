//! Authentication costs: verifying a token at the handshake, and the
//! per-message expiry and revocation check, each against a baseline in the
//! same run.
//!
//! `cargo bench --features jwt --bench auth`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use wsguard::auth::{Authenticator, JwtAlgorithm, JwtVerifier, StaticTokens, Verifier};
use wsguard::{Guard, Message, Principal};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn jwt(alg: Algorithm, key: &EncodingKey) -> String {
    let claims = serde_json::json!({
        "sub": "alice", "roles": ["user"], "exp": jsonwebtoken::get_current_timestamp() + 3600,
    });
    encode(&Header::new(alg), &claims, key).unwrap()
}

fn verification(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    // 100 keys: the constant-time scan compares against every one.
    let tokens =
        (0..100).fold(StaticTokens::new(), |t, i| t.token(format!("token-{i:03}"), Principal::new(format!("u{i}"))));
    group.bench_function("static_token_100_keys", |b| {
        b.iter(|| black_box(tokens.verify(black_box("token-042")).unwrap()))
    });

    let secret = b"a benchmark secret of 32 bytes!!";
    let cases = [
        ("jwt_hs256", JwtAlgorithm::HS256, Algorithm::HS256, EncodingKey::from_secret(secret)),
        (
            "jwt_rs256",
            JwtAlgorithm::RS256,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap(),
        ),
        (
            "jwt_es256",
            JwtAlgorithm::ES256,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap(),
        ),
        (
            "jwt_eddsa",
            JwtAlgorithm::EdDSA,
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&fixture("ed_private.pem")).unwrap(),
        ),
    ];
    for (name, allowed, alg, key) in cases {
        let builder = JwtVerifier::builder().algorithms([allowed]);
        let verifier = match allowed {
            JwtAlgorithm::HS256 => builder.hmac_secret(None, secret),
            JwtAlgorithm::RS256 => builder.rsa_pem(None, &fixture("rsa_public.pem")),
            JwtAlgorithm::ES256 => builder.ec_pem(None, &fixture("ec_public.pem")),
            _ => builder.ed_pem(None, &fixture("ed_public.pem")),
        }
        .build()
        .unwrap();
        let token = jwt(alg, &key);
        group.bench_function(name, |b| b.iter(|| black_box(verifier.verify(black_box(&token)).unwrap())));
    }
    group.finish();

    // The whole handshake check (registration, sources, verification,
    // principal), against the same guard without authentication.
    let mut group = c.benchmark_group("check_handshake");
    let request = http::Request::get("/ws").header("authorization", "Bearer token-042").body(()).unwrap();
    let open = Guard::builder().without_auth().build().unwrap();
    group.bench_function("baseline_without_auth", |b| {
        b.iter(|| {
            let mut session = open.new_session(None);
            open.check_handshake(black_box(&request), &mut session).unwrap();
            black_box(session)
        })
    });
    let guarded = Guard::builder().with_authenticator(Authenticator::builder().build(tokens).unwrap()).build().unwrap();
    group.bench_function("static_token", |b| {
        b.iter(|| {
            let mut session = guarded.new_session(None);
            guarded.check_handshake(black_box(&request), &mut session).unwrap();
            black_box(session)
        })
    });
    group.finish();
}

fn per_message(c: &mut Criterion) {
    let message = Message::text(format!(r#"{{"type":"chat","room":"lobby","text":"{}"}}"#, "x".repeat(260)));
    let mut group = c.benchmark_group("inbound_300B");
    let request = http::Request::get("/ws").header("authorization", "Bearer t").body(()).unwrap();

    // Baseline: an unregistered session with no expiry; nothing to check.
    let open = Guard::builder().without_auth().build().unwrap();
    let mut session = open.new_session(None);
    group.bench_function("baseline_no_session_checks", |b| {
        b.iter(|| black_box(open.inbound(black_box(&message).clone(), &mut session)))
    });

    // A registered, authenticated session with an expiry: the guard checks
    // the deadline and the revocation flag before the layers.
    let expiring = |_: &str| {
        Ok::<_, wsguard::auth::AuthError>(
            Principal::new("a").with_expiry(SystemTime::now() + Duration::from_secs(3600)),
        )
    };
    let authed =
        Guard::builder().with_authenticator(Authenticator::builder().build(expiring).unwrap()).build().unwrap();
    let mut session = authed.new_session(None);
    authed.check_handshake(&request, &mut session).unwrap();
    assert!(session.expires_at().is_some());
    group.bench_function("expiry_and_revocation_checks", |b| {
        b.iter(|| black_box(authed.inbound(black_box(&message).clone(), &mut session)))
    });
    group.finish();
}

criterion_group!(benches, verification, per_message);
criterion_main!(benches);
