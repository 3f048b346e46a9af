//! JWT keys from an identity provider's JWK set over HTTPS: a local HTTPS
//! server (certificate made at test time) that rotates its keys, changes
//! its `Cache-Control` and fails on purpose, while clients log in through a
//! guarded server.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wsguard::Guard;
use wsguard::auth::{Authenticator, Jwks, JwtAlgorithm, JwtVerifier};

use crate::support::{Adapter, WATCHDOG, eventually, handshake, spawn_echo, tls};

/// What the identity provider answers: a status (0: drop the connection
/// without answering), a `Cache-Control` value and a body.
type Answer = (u16, &'static str, String);

struct Idp {
    url: String,
    pem: String,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<AtomicUsize>,
}

impl Idp {
    fn answer(&self, status: u16, cache: &'static str, body: String) {
        *self.answer.lock().unwrap() = (status, cache, body);
    }
}

fn idp(first: Answer) -> Idp {
    let (config, _, pem) = tls::server();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let answer = Arc::new(Mutex::new(first));
    let requests = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (answer.clone(), requests.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(stream).await else { continue };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let (status, cache, body) = served.lock().unwrap().clone();
                if status != 0 {
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncache-control: {cache}\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                }
                let _ = tls.shutdown().await;
            }
        });
    });
    Idp { url: format!("https://127.0.0.1:{}/jwks.json", addr.port()), pem, answer, requests }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The fixture set's key `index` alone (0: kid 2026-10, 1: kid 2026-11).
fn set(index: usize) -> String {
    let all: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
    json!({ "keys": [all["keys"][index]] }).to_string()
}

fn token(kid: &str, private: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let key = EncodingKey::from_rsa_pem(&fixture(private)).unwrap();
    encode(&header, &json!({"sub": "alice", "exp": exp}), &key).unwrap()
}

/// Whether a WebSocket login with `token` is accepted.
fn admitted(addr: SocketAddr, token: &str) -> bool {
    let bearer = format!("Bearer {token}");
    handshake(addr, "/ws", |r| {
        r.headers_mut().insert("authorization", bearer.parse().unwrap());
    })
    .is_ok()
}

#[test]
fn keys_follow_the_provider_through_rotation_and_outages() {
    let idp = idp((200, "max-age=1", set(0)));
    let jwks = Jwks::builder(idp.url.as_str())
        .root_certificate(idp.pem.as_bytes())
        .only_given_roots()
        .min_refresh(Duration::from_millis(200))
        .unknown_kid_interval(Duration::from_millis(700))
        .build()
        .unwrap();
    assert_eq!((jwks.fetches(), jwks.kids()), (1, vec!["2026-10".to_owned()]), "fetched at start");
    let verifier = JwtVerifier::builder().algorithms([JwtAlgorithm::RS256]).jwks(jwks.clone()).build().unwrap();
    let auth = Authenticator::builder().bearer_header().build(verifier).unwrap();
    let addr = spawn_echo(Adapter::Blocking, Guard::builder().with_authenticator(auth).build().unwrap());
    let (old, new) = (token("2026-10", "rsa_private.pem"), token("2026-11", "rsa2_private.pem"));
    assert!(admitted(addr, &old));

    // max-age=1 is honoured: about one fetch a second.
    let start = Instant::now();
    eventually("two refreshes under max-age=1", || jwks.fetches() >= 3);
    assert!(start.elapsed() >= Duration::from_millis(1500), "not before max-age: {:?}", start.elapsed());
    // max-age=3600: after the next fetch, none for a while.
    idp.answer(200, "public, max-age=3600", set(0));
    let seen = jwks.fetches();
    eventually("the long max-age is read", || jwks.fetches() > seen);
    let quiet = jwks.fetches();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(jwks.fetches(), quiet, "no fetch before max-age=3600 runs out");

    // Rotation: the provider now publishes only the new key. The first
    // login with its kid asks for a refetch; logins succeed once it lands.
    idp.answer(200, "max-age=3600", set(1));
    let deadline = Instant::now() + WATCHDOG;
    while !admitted(addr, &new) {
        assert!(Instant::now() < deadline, "the rotated key never arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(jwks.kids(), vec!["2026-11".to_owned()]);
    assert!(!admitted(addr, &old), "the retired key no longer verifies");

    // Forged kids: 30 logins within the interval cost at most one fetch.
    std::thread::sleep(Duration::from_millis(800));
    let before = idp.requests.load(Ordering::SeqCst);
    let forged = token("forged", "rsa_private.pem");
    let started = Instant::now();
    for _ in 0..30 {
        assert!(!admitted(addr, &forged));
    }
    let within = started.elapsed() < Duration::from_millis(700);
    std::thread::sleep(Duration::from_millis(200));
    let spent = idp.requests.load(Ordering::SeqCst) - before;
    assert!(spent <= if within { 1 } else { 2 }, "{spent} fetches for forged kids");

    // Outages: a 500, a body that is not a JWK set, a dropped connection.
    // Each failed refetch keeps the last good set.
    for (status, body) in [(500, "oops".to_owned()), (200, "{\"keys\": 5}".to_owned()), (0, String::new())] {
        idp.answer(status, "max-age=3600", body);
        let failures = jwks.failures();
        std::thread::sleep(Duration::from_millis(750));
        assert!(!admitted(addr, &forged), "asks for a refetch");
        eventually("the refetch fails", || jwks.failures() > failures);
        assert!(admitted(addr, &new), "the last good set stays ({status})");
    }
    // The provider comes back with both keys.
    idp.answer(200, "max-age=3600", String::from_utf8(fixture("jwks.json")).unwrap());
    std::thread::sleep(Duration::from_millis(750));
    assert!(!admitted(addr, &forged));
    eventually("recovered", || jwks.kids().len() == 2);
    assert!(admitted(addr, &old) && admitted(addr, &new));
}

#[test]
fn a_provider_unreachable_at_start_is_a_build_error() {
    let idp = idp((503, "no-store", String::new()));
    let error = Jwks::builder(idp.url.as_str()).root_certificate(idp.pem.as_bytes()).build().unwrap_err();
    assert!(error.to_string().contains("first jwks fetch failed: http status"), "{error}");
    // A server whose certificate is not trusted.
    let error = Jwks::builder(idp.url.as_str()).only_given_roots().build().unwrap_err();
    assert!(error.to_string().contains("no trusted root"), "{error}");
    let other = tls::server().2;
    let error = Jwks::builder(idp.url.as_str()).root_certificate(other.as_bytes()).only_given_roots().build();
    let error = error.unwrap_err().to_string();
    assert!(error.contains("first jwks fetch failed: tls"), "{error}");
}

#[test]
fn a_jwks_url_in_the_configuration() {
    use wsguard::config::GuardConfig;

    let idp = idp((200, "max-age=300", set(1)));
    let dir = std::env::temp_dir().join(format!("wsguard-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("idp-ca.pem"), &idp.pem).unwrap();
    let text = format!(
        "[auth]\nbearer_header = true\n[auth.jwt]\nalgorithms = [\"RS256\"]\n\
         keys = [{{ format = \"jwk_set\", url = \"{}\", ca_file = \"idp-ca.pem\" }}]\n",
        idp.url
    );
    let config = GuardConfig::from_deserializer(toml::Deserializer::parse(&text).unwrap()).unwrap().base_dir(&dir);
    let addr = spawn_echo(Adapter::Tokio, Guard::from_config(&config).unwrap());
    assert!(admitted(addr, &token("2026-11", "rsa2_private.pem")));
    assert!(!admitted(addr, &token("2026-10", "rsa_private.pem")));
    // Without the CA, the provider's certificate is not trusted: the error names the key.
    let untrusted = text.replace(", ca_file = \"idp-ca.pem\"", "");
    let config = GuardConfig::from_deserializer(toml::Deserializer::parse(&untrusted).unwrap()).unwrap();
    let error = Guard::from_config(&config).unwrap_err().to_string();
    assert!(error.starts_with("auth.jwt.keys[0]: invalid jwt setup: first jwks fetch failed: tls"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
