//! Authentication, origin and transport policies, expiry, revocation and
//! caps, through real sockets against both adapters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tungstenite::Message as WsMessage;
use tungstenite::handshake::client::Request;
use wsguard::auth::{AsyncVerifier, AuthBuilder, AuthError, Authenticator, FirstMessage, StaticTokens, VerifyFuture};
use wsguard::layer::{OriginPolicy, TransportPolicy};
use wsguard::time::ManualClock;
use wsguard::{ConnectionCaps, Guard, GuardBuilder, HandshakeRejection, Principal, WantsAuth};

use crate::support::{Adapter, Client, TestLayer, expect_close, expect_closed, handshake, spawn_echo};

const ORIGIN: &str = "http://app.test:8080";

fn tokens() -> StaticTokens {
    StaticTokens::new()
        .token("alice-token", Principal::new("alice").with_roles(["user"]))
        .token("bob-token", Principal::new("bob").with_roles(["user"]))
        .token("admin-token", Principal::new("admin").with_roles(["admin"]))
        .token("stale-token", Principal::new("stale").with_expiry(SystemTime::now() - Duration::from_secs(1)))
}

fn base() -> GuardBuilder<WantsAuth> {
    Guard::builder().origin(OriginPolicy::new([ORIGIN]).unwrap())
}

fn serve(
    adapter: Adapter,
    auth: AuthBuilder,
    tweak: impl FnOnce(GuardBuilder<WantsAuth>) -> GuardBuilder<WantsAuth>,
) -> (std::net::SocketAddr, Guard) {
    let authenticator = auth.build(tokens()).unwrap();
    let guard = tweak(base()).with_authenticator(authenticator).layer(TestLayer::default()).build().unwrap();
    (spawn_echo(adapter, guard.clone()), guard)
}

fn header(request: &mut Request, name: &'static str, value: &str) {
    request.headers_mut().insert(name, value.parse().unwrap());
}

fn bearer(token: &str) -> impl FnOnce(&mut Request) + '_ {
    move |r| header(r, "authorization", &format!("Bearer {token}"))
}

/// The principal id the server sees, via the test layer's `whoami`.
/// Pings are skipped: on a manual clock, the heartbeat comes due when the
/// test advances it.
fn whoami(client: &mut Client) -> String {
    client.send(WsMessage::text("whoami")).unwrap();
    loop {
        match client.read().unwrap() {
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            answer => return serde_json::from_str(answer.to_text().unwrap()).unwrap(),
        }
    }
}

/// The HTTP refusal of a handshake: status, headers and body.
fn refused(
    result: Result<(Client, tungstenite::handshake::client::Response), tungstenite::Error>,
) -> (u16, http::HeaderMap, String) {
    match result {
        Err(tungstenite::Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
            (response.status().as_u16(), response.headers().clone(), body)
        }
        Ok(_) => panic!("handshake unexpectedly accepted"),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
    }
}

fn bearer_header_token_is_accepted(adapter: Adapter) {
    let (addr, _) = serve(adapter, Authenticator::builder(), |b| b);
    let (mut client, _) = handshake(addr, "/ws", bearer("alice-token")).unwrap();
    assert_eq!(whoami(&mut client), "alice");
}

fn missing_wrong_and_expired_tokens_get_the_same_401(adapter: Adapter) {
    let (addr, _) = serve(adapter, Authenticator::builder(), |b| b);
    type Edit = Box<dyn FnOnce(&mut Request)>;
    let attempts: [Edit; 4] = [
        Box::new(|_| {}),
        Box::new(bearer("wrong-token")),
        Box::new(bearer("stale-token")),
        Box::new(|r| header(r, "authorization", "Basic YWxpY2U6cHc=")),
    ];
    for edit in attempts {
        let (status, headers, body) = refused(handshake(addr, "/ws", edit));
        assert_eq!(status, 401);
        assert_eq!(headers["www-authenticate"], "Bearer");
        // The body does not say which check failed.
        assert_eq!(body, "authentication failed\n");
    }
}

fn subprotocol_token_selects_the_app_protocol_and_is_never_echoed(adapter: Adapter) {
    let (addr, _) = serve(adapter, Authenticator::builder().protocol("bearer."), |b| b);
    // The test layer does not know `app.v2`: the authenticator selects it.
    for offer in ["bearer.alice-token, app.v2", "app.v2, bearer.alice-token"] {
        let (mut client, response) = handshake(addr, "/ws", |r| header(r, "sec-websocket-protocol", offer)).unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "app.v2");
        assert_eq!(whoami(&mut client), "alice");
    }
    let (status, _, _) =
        refused(handshake(addr, "/ws", |r| header(r, "sec-websocket-protocol", "app.v2, bearer.nope")));
    assert_eq!(status, 401);
}

fn cookie_token_needs_an_allowed_origin(adapter: Adapter) {
    let (addr, _) = serve(adapter, Authenticator::builder().cookie("session"), |b| b);
    let cookie = |origin: Option<&'static str>| {
        move |r: &mut Request| {
            header(r, "cookie", "theme=dark; session=bob-token");
            if let Some(origin) = origin {
                header(r, "origin", origin);
            }
        }
    };
    let (mut client, _) = handshake(addr, "/ws", cookie(Some(ORIGIN))).unwrap();
    assert_eq!(whoami(&mut client), "bob");
    for origin in [None, Some("http://evil.test:8080"), Some("null")] {
        let (status, _, body) = refused(handshake(addr, "/ws", cookie(origin)));
        assert_eq!((status, body.as_str()), (403, "origin not allowed\n"), "{origin:?}");
    }
}

fn query_token_is_opt_in(adapter: Adapter) {
    let (addr, _) = serve(adapter, Authenticator::builder().dangerous().query_parameter("access_token"), |b| b);
    let (mut client, _) = handshake(addr, "/ws?room=1&access_token=admin-token", |_| {}).unwrap();
    assert_eq!(whoami(&mut client), "admin");
    assert_eq!(refused(handshake(addr, "/ws?access_token=nope", |_| {})).0, 401);
    // Without the opt-in, the query string is not a source.
    let (addr, _) = serve(adapter, Authenticator::builder(), |b| b);
    assert_eq!(refused(handshake(addr, "/ws?access_token=admin-token", |_| {})).0, 401);
}

fn accept_then_close_gives_4401_and_4403(adapter: Adapter) {
    let (addr, _) =
        serve(adapter, Authenticator::builder(), |b| b.handshake_rejection(HandshakeRejection::AcceptThenClose));
    let (mut client, _) = handshake(addr, "/ws", bearer("wrong-token")).unwrap();
    assert_eq!(expect_close(&mut client), (4401, "authentication failed".into()));
    expect_closed(&mut client);
    let (mut client, _) = handshake(addr, "/ws", |r| header(r, "origin", "https://evil.test")).unwrap();
    assert_eq!(expect_close(&mut client), (4403, "origin not allowed".into()));
    // Refused before authentication ran, with subprotocols offered: the 101
    // must still select one (browsers fail it otherwise and show 1006), and
    // never the token, even offered first.
    let (mut client, response) = handshake(addr, "/ws", |r| {
        header(r, "origin", "https://evil.test");
        header(r, "sec-websocket-protocol", "bearer.alice-token, chat.v1");
    })
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
    assert_eq!(expect_close(&mut client), (4403, "origin not allowed".into()));
}

fn first_message_authenticates(adapter: Adapter) {
    let (addr, _) =
        serve(adapter, Authenticator::builder().bearer_header().first_message(FirstMessage::default()), |b| b);
    let (mut client, _) = handshake(addr, "/ws", |_| {}).unwrap();
    client.send(WsMessage::text(r#"{"type":"auth","token":"alice-token"}"#)).unwrap();
    // The auth message is consumed: the next answer is whoami's.
    assert_eq!(whoami(&mut client), "alice");

    let (mut client, _) = handshake(addr, "/ws", |_| {}).unwrap();
    client.send(WsMessage::text("hello before auth")).unwrap();
    assert_eq!(expect_close(&mut client), (4401, "authentication required".into()));

    let (mut client, _) = handshake(addr, "/ws", |_| {}).unwrap();
    client.send(WsMessage::text(r#"{"type":"auth","token":"wrong"}"#)).unwrap();
    assert_eq!(expect_close(&mut client), (4401, "authentication failed".into()));
}

fn first_message_deadline_closes_with_4401(adapter: Adapter) {
    let shape = FirstMessage::default().timeout(Duration::from_millis(300));
    let (addr, _) = serve(adapter, Authenticator::builder().bearer_header().first_message(shape), |b| b);
    let (mut client, _) = handshake(addr, "/ws", |_| {}).unwrap();
    // Silent: every adapter closes it at the deadline, from its timers.
    let started = Instant::now();
    assert_eq!(expect_close(&mut client), (4401, "authentication timed out".into()));
    assert!(started.elapsed() >= Duration::from_millis(290), "closed early: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(3), "closed late: {:?}", started.elapsed());
}

fn token_expiry_mid_connection_closes_with_4401(adapter: Adapter) {
    let clock = ManualClock::new();
    let verifier = |token: &str| match token {
        "short-token" => Ok(Principal::new("carol").with_expiry(SystemTime::now() + Duration::from_secs(60))),
        _ => Err(AuthError::Invalid),
    };
    let guard = base()
        .clock(clock.clone())
        .with_authenticator(Authenticator::builder().build(verifier).unwrap())
        .layer(TestLayer::default())
        .build()
        .unwrap();
    let addr = spawn_echo(adapter, guard);
    let (mut client, _) = handshake(addr, "/ws", bearer("short-token")).unwrap();
    assert_eq!(whoami(&mut client), "carol");
    clock.advance(Duration::from_secs(59));
    assert_eq!(whoami(&mut client), "carol");
    clock.advance(Duration::from_secs(1));
    client.send(WsMessage::text("whoami")).unwrap();
    assert_eq!(expect_close(&mut client), (4401, "token expired".into()));
    expect_closed(&mut client);
}

fn reauth_replaces_the_principal(adapter: Adapter) {
    let (addr, _) = serve(adapter, Authenticator::builder().bearer_header().reauth(true), |b| b);
    let (mut client, _) = handshake(addr, "/ws", bearer("alice-token")).unwrap();
    client.send(WsMessage::text(r#"{"type":"auth","token":"bob-token"}"#)).unwrap();
    assert_eq!(whoami(&mut client), "bob");
    client.send(WsMessage::text(r#"{"type":"auth","token":"wrong"}"#)).unwrap();
    let reply = client.read().unwrap();
    assert!(reply.to_text().unwrap().contains(r#""code":"unauthenticated""#), "{reply}");
    assert_eq!(whoami(&mut client), "bob", "a failed re-auth keeps the principal");
    // A message that merely mentions "auth" is delivered as usual.
    client.send(WsMessage::text(r#"{"type":"chat","text":"auth"}"#)).unwrap();
    assert_eq!(client.read().unwrap().to_text().unwrap(), r#"{"type":"chat","text":"auth"}"#);
}

fn revoking_a_user_closes_all_their_sessions_only(adapter: Adapter) {
    let (addr, guard) = serve(adapter, Authenticator::builder(), |b| b);
    let mut alice: Vec<Client> = (0..2).map(|_| handshake(addr, "/ws", bearer("alice-token")).unwrap().0).collect();
    let (mut bob, _) = handshake(addr, "/ws", bearer("bob-token")).unwrap();
    assert_eq!(whoami(&mut bob), "bob");
    for client in &mut alice {
        assert_eq!(whoami(client), "alice");
    }
    let listed: Vec<_> = guard.sessions().list().into_iter().filter_map(|s| s.principal).collect();
    assert_eq!(listed.iter().filter(|p| *p == "alice").count(), 2);
    assert_eq!(guard.sessions().revoke_principal("alice"), 2);
    // Silent sockets: the tokio adapter is woken at once, the blocking one
    // notices within its one-second revocation poll.
    let bound = match adapter {
        Adapter::Tokio | Adapter::Axum => Duration::from_secs(1),
        Adapter::Blocking => Duration::from_millis(2500),
    };
    for client in &mut alice {
        let started = Instant::now();
        assert_eq!(expect_close(client), (4403, "session revoked".into()));
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        expect_closed(client);
    }
    assert_eq!(whoami(&mut bob), "bob");
    crate::support::eventually("revoked sessions to unregister", || guard.sessions().len() == 1);
}

fn connection_caps_refuse_with_429(adapter: Adapter) {
    let caps = ConnectionCaps::default().per_principal(Some(2)).per_ip(Some(4));
    let (addr, guard) = serve(adapter, Authenticator::builder(), |b| b.connection_caps(caps));
    let mut alice: Vec<Client> = (0..2).map(|_| handshake(addr, "/ws", bearer("alice-token")).unwrap().0).collect();
    let (status, _, body) = refused(handshake(addr, "/ws", bearer("alice-token")));
    assert_eq!((status, body.as_str()), (429, "too many connections for this user\n"));
    let mut bob = handshake(addr, "/ws", bearer("bob-token")).unwrap().0;
    let _admin = handshake(addr, "/ws", bearer("admin-token")).unwrap().0;
    // Four connections from 127.0.0.1: the per-IP cap.
    let (status, _, body) = refused(handshake(addr, "/ws", bearer("bob-token")));
    assert_eq!((status, body.as_str()), (429, "too many connections from this address\n"));
    // A closed connection frees its place.
    alice[0].close(None).unwrap();
    expect_closed(&mut alice[0]);
    crate::support::eventually("the closed session to unregister", || guard.sessions().len() == 3);
    let mut again = handshake(addr, "/ws", bearer("alice-token")).unwrap().0;
    assert_eq!(whoami(&mut again), "alice");
    assert_eq!(whoami(&mut bob), "bob");
}

fn tls_required_refuses_plain_connections(adapter: Adapter) {
    let guard = Guard::builder()
        .transport(TransportPolicy::require_tls())
        .with_authenticator(Authenticator::builder().build(tokens()).unwrap())
        .build()
        .unwrap();
    let addr = spawn_echo(adapter, guard);
    let (status, _, body) = refused(handshake(addr, "/ws", bearer("alice-token")));
    assert_eq!((status, body.as_str()), (403, "tls required\n"));
    // 127.0.0.1 is not a trusted proxy, so its forwarding header is ignored.
    let (status, _, _) = refused(handshake(addr, "/ws", |r| {
        header(r, "x-forwarded-proto", "https");
        header(r, "authorization", "Bearer alice-token");
    }));
    assert_eq!(status, 403);
    let trusting = Guard::builder()
        .transport(TransportPolicy::require_tls().trust_proxies(["127.0.0.1"]).unwrap())
        .with_authenticator(Authenticator::builder().build(tokens()).unwrap())
        .layer(TestLayer::default())
        .build()
        .unwrap();
    let addr = spawn_echo(adapter, trusting);
    let (mut client, _) = handshake(addr, "/ws", |r| {
        header(r, "x-forwarded-proto", "https");
        header(r, "authorization", "Bearer alice-token");
    })
    .unwrap();
    assert_eq!(whoami(&mut client), "alice");
}

#[cfg(feature = "jwt")]
fn jwt_bearer_token_is_verified(adapter: Adapter) {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use wsguard::auth::{JwtAlgorithm, JwtVerifier};
    let secret = b"integration-test-secret-of-32-bytes";
    let verifier = JwtVerifier::builder().algorithms([JwtAlgorithm::HS256]).hmac_secret(None, secret).build().unwrap();
    let guard = base()
        .with_authenticator(Authenticator::builder().build(verifier).unwrap())
        .layer(TestLayer::default())
        .build()
        .unwrap();
    let addr = spawn_echo(adapter, guard);
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    let claims = serde_json::json!({"sub": "dave", "exp": exp, "roles": ["user"]});
    let token = encode(&Header::default(), &claims, &EncodingKey::from_secret(secret)).unwrap();
    let (mut client, _) = handshake(addr, "/ws", bearer(&token)).unwrap();
    assert_eq!(whoami(&mut client), "dave");
    let forged = encode(&Header::default(), &claims, &EncodingKey::from_secret(b"guess")).unwrap();
    assert_eq!(refused(handshake(addr, "/ws", bearer(&forged))).0, 401);
    // A review found `exp` of 1e19 or u64::MAX panicking in the handshake:
    // correctly signed, they are tokens that do not expire.
    for exp in [serde_json::json!(u64::MAX), serde_json::json!(1e19), serde_json::json!(1.7e308)] {
        let claims = serde_json::json!({"sub": "erin", "exp": exp});
        let token = encode(&Header::default(), &claims, &EncodingKey::from_secret(secret)).unwrap();
        match handshake(addr, "/ws", bearer(&token)) {
            Ok((mut client, _)) => assert_eq!(whoami(&mut client), "erin", "exp {exp}"),
            Err(e) => assert_eq!(refused(Err(e)).0, 401, "exp {exp}: refused, not a panic"),
        }
    }
}

for_each_adapter!(
    bearer_header_token_is_accepted,
    missing_wrong_and_expired_tokens_get_the_same_401,
    subprotocol_token_selects_the_app_protocol_and_is_never_echoed,
    cookie_token_needs_an_allowed_origin,
    query_token_is_opt_in,
    accept_then_close_gives_4401_and_4403,
    first_message_authenticates,
    first_message_deadline_closes_with_4401,
    token_expiry_mid_connection_closes_with_4401,
    reauth_replaces_the_principal,
    revoking_a_user_closes_all_their_sessions_only,
    connection_caps_refuse_with_429,
    tls_required_refuses_plain_connections,
    #[cfg(feature = "jwt")]
    jwt_bearer_token_is_verified,
    a_silent_socket_is_closed_when_its_token_expires,
);

fn a_silent_socket_is_closed_when_its_token_expires(adapter: Adapter) {
    let verifier =
        |_: &str| Ok::<_, AuthError>(Principal::new("eve").with_expiry(SystemTime::now() + Duration::from_millis(500)));
    let guard = base().with_authenticator(Authenticator::builder().build(verifier).unwrap()).build().unwrap();
    let addr = spawn_echo(adapter, guard);
    let (mut client, _) = handshake(addr, "/ws", bearer("any")).unwrap();
    let started = Instant::now();
    assert_eq!(expect_close(&mut client), (4401, "token expired".into()));
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

/// How many lookups of `SlowDirectory` were in flight at once, at most.
static MAX_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// An identity-provider lookup: awaits a timer before answering.
struct SlowDirectory;

impl AsyncVerifier for SlowDirectory {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            MAX_IN_FLIGHT.fetch_max(IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            ::tokio::time::sleep(Duration::from_millis(200)).await;
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            match token {
                "directory-token" => Ok(Principal::new("frank")),
                "flaky-token" => Err(AuthError::Unavailable("directory timeout".into())),
                _ => Err(AuthError::Invalid),
            }
        })
    }
}

fn async_guard() -> Guard {
    base()
        .with_authenticator(Authenticator::builder().build_async(SlowDirectory).unwrap())
        .layer(TestLayer::default())
        .build()
        .unwrap()
}

#[test]
fn tokio_awaits_an_async_verifier() {
    let addr = spawn_echo(Adapter::Tokio, async_guard());
    // Five handshakes at once (the per-user cap) on a runtime with two
    // workers: more than two lookups in flight means they await rather
    // than block.
    let clients: Vec<_> =
        (0..5).map(|_| std::thread::spawn(move || handshake(addr, "/ws", bearer("directory-token")))).collect();
    for client in clients {
        let (mut client, _) = client.join().unwrap().unwrap();
        assert_eq!(whoami(&mut client), "frank");
    }
    assert!(MAX_IN_FLIGHT.load(Ordering::SeqCst) >= 3, "lookups did not overlap");
    assert_eq!(refused(handshake(addr, "/ws", bearer("other"))).0, 401);
    let (status, _, body) = refused(handshake(addr, "/ws", bearer("flaky-token")));
    assert_eq!((status, body.as_str()), (503, "authentication unavailable\n"));
}

#[test]
fn blocking_adapter_refuses_an_async_verifier_with_500() {
    let addr = spawn_echo(Adapter::Blocking, async_guard());
    assert_eq!(refused(handshake(addr, "/ws", bearer("directory-token"))).0, 500);
}
