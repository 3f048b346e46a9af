use super::*;

fn toml(text: &str) -> Result<GuardConfig, ConfigError> {
    GuardConfig::from_deserializer(toml::Deserializer::parse(text).unwrap())
}

fn json(text: &str) -> Result<GuardConfig, ConfigError> {
    GuardConfig::from_deserializer(&mut serde_json::Deserializer::from_str(text))
}

/// The error's text, whichever stage found it.
fn error(text: &str) -> String {
    match toml(text).and_then(|c| Guard::from_config(&c)) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const NONE: &str = "[auth]\nnone = true\n";

#[test]
fn a_bad_field_is_named_by_its_path() {
    let quotas = r#"[rate_limit]
        quotas = [
            { quota = { per_second = 5 }, unit = "messages", per = "connection" },
            { quota = { per_second = 5 }, unit = "bytes", per = "ip" },
            { quota = { per_second = 5, burst = 0 }, unit = "messages", per = "principal" },
        ]"#;
    let e = error(&format!("{NONE}{quotas}"));
    assert!(e.starts_with("rate_limit.quotas[2].quota.burst: "), "{e}");
    let e = error(&format!("{NONE}[limits]\nmax_mesage_size = 10\n"));
    assert!(e.starts_with("limits.max_mesage_size: ") && e.contains("unknown field"), "{e}");
    let e = error(&format!("{NONE}[rbac.roles.user]\npermissions = 3\n"));
    assert!(e.starts_with("rbac.roles.user"), "{e}");
    let e = error(&format!("{NONE}[pii]\ndefault_action = \"shred\"\n"));
    assert!(e.starts_with("pii.default_action: ") && e.contains("unknown variant `shred`"), "{e}");
    let e = error(&format!("handshake_rejection = \"maybe\"\n{NONE}"));
    assert!(e.starts_with("handshake_rejection: ") && e.contains("unknown variant"), "{e}");
    // The same path from JSON.
    let e = json(r#"{"auth": {"none": true}, "caps": {"per_ip": -1}}"#).unwrap_err().to_string();
    assert!(e.starts_with("caps.per_ip: "), "{e}");
}

#[test]
fn a_section_that_does_not_build_is_named() {
    let e = error(&format!("{NONE}[origin]\nallow = [\"https://ok.example\", \"ftp://x\"]\n"));
    assert!(e.starts_with("origin.allow: invalid origin pattern `ftp://x`"), "{e}");
    let e = error(&format!("{NONE}[trusted_proxies]\nnetworks = [\"10.0.0.0/33\"]\n"));
    assert!(e.starts_with("trusted_proxies.networks: invalid network"), "{e}");
    let e = error(&format!("{NONE}[rbac.roles]\nuser = {{ inherits = [\"ghost\"] }}\n"));
    assert!(e.starts_with("rbac: invalid rbac policy"), "{e}");
    let e = error(&format!("{NONE}[schema.types.chat]\ntype = \"no such type\"\n"));
    assert!(e.starts_with("schema: invalid schema `chat`"), "{e}");
    let e = error(&format!("{NONE}[schema.types]\nchat = {{ file = \"does/not/exist.json\" }}\n"));
    assert!(e.starts_with("schema.types.chat: cannot read does/not/exist.json"), "{e}");
    let e = error(&format!("{NONE}[pii]\nexemptions = {{ email = \"pii:read\" }}\n"));
    assert!(e.starts_with("pii: "), "{e}");
}

#[test]
fn authentication_is_chosen_exactly_once() {
    let e = toml("[limits]\nmax_message_size = 10\n").unwrap_err().to_string();
    assert!(e.contains("missing field `auth`"), "{e}");
    let e = error("[auth]\n");
    assert!(e.starts_with("auth: choose exactly one"), "{e}");
    let both = "[auth]\nnone = true\nstatic_tokens = [{ sha256 = \"00\", id = \"a\" }]\n";
    assert!(error(both).starts_with("auth: choose exactly one"));
    let short = "[auth]\nstatic_tokens = [{ sha256 = \"abc\", id = \"a\" }]\n";
    assert!(error(short).starts_with("auth.static_tokens[0].sha256: "), "{}", error(short));
}

#[test]
fn every_section_reaches_the_guard() {
    let dir = std::env::temp_dir().join(format!("wsguard-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("join.json"), r#"{"type": "object", "required": ["type", "room"]}"#).unwrap();
    let text = r#"
        handshake_rejection = "accept_then_close"
        [auth]
        bearer_header = true
        static_tokens = [{ sha256 = "9c220f200955d76c0a38d308225e0ef10c5f971acaf2f8d1d8f732affa5bd1dc", id = "alice", roles = ["user"] }]
        [limits]
        max_message_size = 1000
        [liveness]
        idle_timeout_ms = 7000
        [caps]
        per_ip = 3
        [origin]
        allow = ["https://chat.example"]
        allow_missing = false
        [transport]
        require_tls = true
        [trusted_proxies]
        networks = ["10.0.0.0/8"]
        [schema.types]
        join = { file = "join.json" }
        chat = { type = "object" }
        [rbac.roles]
        user = ["chat:send"]
        [rbac.inbound]
        chat = "chat:send"
        join = "chat:send"
        [pii]
        default_action = "mask"
        [rate_limit]
        quotas = [{ quota = { per_second = 5, burst = 7 }, unit = "messages", per = "connection" }]
    "#;
    let config = toml(text).unwrap().base_dir(&dir);
    let guard = Guard::from_config(&config).unwrap();
    assert_eq!(guard.limits().max_message_size, 1000);
    assert_eq!(guard.liveness().idle_timeout, Some(std::time::Duration::from_secs(7)));
    assert_eq!(guard.sessions().caps().per_ip, Some(3));
    assert_eq!(guard.handshake_rejection(), HandshakeRejection::AcceptThenClose);
    let names = format!("{guard:?}");
    for layer in ["limits", "transport", "origin", "auth", "rate_limit", "schema", "rbac", "pii"] {
        assert!(names.contains(&format!("\"{layer}\"")), "{layer} missing: {names}");
    }
    // Without base_dir, the relative schema file is not found.
    assert!(Guard::from_config(&toml(text).unwrap()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "jwt")]
#[test]
fn jwt_keys_come_from_files_and_the_environment() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt");
    let jwt = |keys: &str| {
        let text = format!(
            "[auth]\nbearer_header = true\n[auth.jwt]\nalgorithms = [\"ES256\", \"RS256\"]\n\
             issuers = [\"https://idp.example\"]\nleeway_ms = 0\nkeys = [{keys}]\n"
        );
        toml(&text).map(|c| c.base_dir(&dir)).and_then(|c| Guard::from_config(&c))
    };
    let guard = jwt(r#"{ format = "ec_pem", kid = "ec1", file = "ec_public.pem" },
                       { format = "jwk_set", file = "jwks.json" }"#)
    .unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec1".into());
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
    let claims = serde_json::json!({"sub": "alice", "iss": "https://idp.example", "exp": exp, "roles": ["user"]});
    let private = std::fs::read(dir.join("ec_private.pem")).unwrap();
    let token = encode(&header, &claims, &EncodingKey::from_ec_pem(&private).unwrap()).unwrap();
    let request =
        |token: &str| http::Request::get("/ws").header("authorization", format!("Bearer {token}")).body(()).unwrap();
    let mut session = guard.new_session(None);
    guard.check_handshake(&request(&token), &mut session).unwrap();
    assert_eq!(session.principal().unwrap().id, "alice");
    let wrong_issuer = serde_json::json!({"sub": "alice", "iss": "https://other.example", "exp": exp});
    let token = encode(&header, &wrong_issuer, &EncodingKey::from_ec_pem(&private).unwrap()).unwrap();
    assert!(guard.check_handshake(&request(&token), &mut guard.new_session(None)).is_err());

    // Secrets from the environment (cargo sets CARGO_PKG_NAME: 7 bytes, too short).
    let e = jwt(r#"{ format = "hmac_secret", env = "CARGO_PKG_NAME" }"#).unwrap_err().to_string();
    assert!(e.starts_with("auth.jwt: invalid jwt setup: hmac secret"), "{e}");
    let e = jwt(r#"{ format = "hmac_secret", env = "WSGUARD_NO_SUCH_VARIABLE" }"#).unwrap_err().to_string();
    assert!(e.starts_with("auth.jwt.keys[0]: environment variable WSGUARD_NO_SUCH_VARIABLE is not set"), "{e}");
    let e = jwt(r#"{ format = "rsa_pem", file = "rsa_public.pem", env = "X" }"#).unwrap_err().to_string();
    assert!(e.starts_with("auth.jwt.keys[0]: give exactly one of `file` and `env`"), "{e}");
    let e = jwt(r#"{ format = "rsa_pem", file = "missing.pem" }"#).unwrap_err().to_string();
    assert!(e.starts_with("auth.jwt.keys[0]: cannot read missing.pem"), "{e}");
    let e = jwt(r#"{ format = "pgp", file = "x" }"#).unwrap_err().to_string();
    assert!(e.starts_with("auth.jwt.keys[0].format: "), "{e}");
}
