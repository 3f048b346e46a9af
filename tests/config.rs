//! A whole guard from one configuration file, over real sockets on every
//! adapter; and a reload through `GuardHandle` while connections live.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tungstenite::Message;
use wsguard::config::GuardConfig;
use wsguard::{Guard, GuardHandle};

use crate::support::{Adapter, Client, echo_messages, eventually, expect_close, handshake, spawn_echo};

fn fixture() -> GuardConfig {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let text = std::fs::read_to_string(dir.join("guard.toml")).unwrap();
    GuardConfig::from_deserializer(toml::Deserializer::parse(&text).unwrap()).unwrap().base_dir(dir)
}

fn login(addr: SocketAddr, token: &str) -> Result<Client, tungstenite::Error> {
    handshake(addr, "/ws", |r| {
        r.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    })
    .map(|(ws, _)| ws)
}

fn exchange(client: &mut Client, text: &str) -> Value {
    client.send(Message::text(text)).unwrap();
    serde_json::from_str(client.read().unwrap().to_text().unwrap()).unwrap()
}

fn every_layer_from_the_file(adapter: Adapter) {
    let addr = spawn_echo(adapter, Guard::from_config(&fixture()).unwrap());
    // auth: no token, or an unknown one, is 401.
    let refused = |r: Result<Client, tungstenite::Error>| match r {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    };
    assert_eq!(refused(login(addr, "mallory-token")), 401);
    // origin: a foreign page is 403.
    let foreign = handshake(addr, "/ws", |r| {
        r.headers_mut().insert("authorization", "Bearer alice-token".parse().unwrap());
        r.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    });
    assert_eq!(refused(foreign.map(|(ws, _)| ws)), 403);

    let mut alice = login(addr, "alice-token").unwrap();
    // pii: masked; schema from its file: refused past maxLength, unknown types refused.
    let masked = exchange(&mut alice, r#"{"type":"chat","text":"mail jane.doe@example.org"}"#);
    assert_eq!(masked["text"], "mail j***@example.org");
    let long = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(201));
    assert_eq!(exchange(&mut alice, &long)["code"], "invalid_message");
    assert_eq!(exchange(&mut alice, r#"{"type":"admin"}"#)["code"], "unknown_type");
    // rbac: a known type alice's role lacks.
    assert_eq!(exchange(&mut alice, r#"{"type":"profile"}"#)["code"], "forbidden");
    // rate limit: burst 6 chat messages (one used above, one refused by
    // the schema after the limit counted it).
    let codes: Vec<Value> =
        (0..6).map(|_| exchange(&mut alice, r#"{"type":"chat","text":"hi"}"#)["code"].clone()).collect();
    assert!(codes[..4].iter().all(Value::is_null), "{codes:?}");
    assert_eq!(codes[4], "rate_limited", "{codes:?}");
    // limits: 4 KiB messages.
    alice.send(Message::text("x".repeat(5000))).unwrap();
    assert_eq!(expect_close(&mut alice).0, 1009);

    // bob's role may not chat.
    let mut bob = login(addr, "bob-token").unwrap();
    assert_eq!(exchange(&mut bob, r#"{"type":"chat","text":"hi"}"#)["code"], "forbidden");
}

for_each_adapter!(every_layer_from_the_file);

/// A tokio server taking each connection's guard from `handle`.
fn serve(handle: Arc<GuardHandle>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = ::tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = ::tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let guard = handle.guard();
                ::tokio::spawn(async move {
                    if let Ok(ws) = wsguard::tokio::accept(stream, &guard).await {
                        echo_messages(ws).await;
                    }
                });
            }
        });
    });
    addr
}

fn with_max_message(config: &GuardConfig, size: usize) -> Guard {
    let mut config = config.clone();
    config.limits.max_message_size = size;
    config.rate_limit = None;
    Guard::from_config(&config).unwrap()
}

#[test]
fn a_reload_reaches_new_connections_and_old_ones_keep_their_guard() {
    let config = fixture();
    let handle = Arc::new(GuardHandle::new(with_max_message(&config, 4096)));
    let addr = serve(handle.clone());
    let chat = format!(r#"{{"type":"chat","text":"{}"}}"#, "y".repeat(150));

    let mut before = login(addr, "alice-token").unwrap();
    assert!(exchange(&mut before, &chat)["code"].is_null());
    let previous = handle.replace(with_max_message(&config, 100));
    assert_eq!(previous.limits().max_message_size, 4096);

    // New connections get the new limit; the old one keeps its guard.
    let mut after = login(addr, "alice-token").unwrap();
    after.send(Message::text(chat.as_str())).unwrap();
    assert_eq!(expect_close(&mut after).0, 1009);
    assert!(exchange(&mut before, &chat)["code"].is_null(), "the live connection kept 4 KiB");

    // Revocation through the handle reaches the replaced guard's sessions.
    let mut newer = login(addr, "alice-token").unwrap();
    eventually("both guards hold alice's sessions", || handle.guard().sessions().len() == 1);
    assert_eq!(handle.revoke_principal("alice"), 2);
    assert_eq!(expect_close(&mut before).0, 4403);
    assert_eq!(expect_close(&mut newer).0, 4403);
}
