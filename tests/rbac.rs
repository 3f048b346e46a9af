//! RBAC over real sockets, with principals from the authenticator, against
//! both adapters.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::Message as WsMessage;
use wsguard::auth::{Authenticator, StaticTokens};
use wsguard::layer::Strikes;
use wsguard::rbac::{FieldRule, Policy};
use wsguard::{Guard, Principal};

use crate::support::{Adapter, Client, expect_close, expect_closed, login, spawn_echo};

/// The classic policy, plus: `email` only for admins, `get` echoes carry it.
fn server(adapter: Adapter, strikes: Option<Strikes>) -> std::net::SocketAddr {
    let tokens = StaticTokens::new()
        .token("alice-token", Principal::new("alice").with_roles(["user"]))
        .token("admin-token", Principal::new("admin").with_roles(["admin"]));
    let policy = Policy::new()
        .role("admin", ["read", "write", "pii:read"])
        .role("user", ["read"])
        .inbound("get", "read")
        .inbound("post", "write")
        .field(FieldRule::new("/email", "pii:read"))
        .strikes(strikes);
    let guard = Guard::builder()
        .with_authenticator(Authenticator::builder().bearer_header().build(tokens).unwrap())
        .rbac(policy.build().unwrap())
        .build()
        .unwrap();
    spawn_echo(adapter, guard)
}

fn exchange(client: &mut Client, message: Value) -> Value {
    client.send(WsMessage::text(message.to_string())).unwrap();
    serde_json::from_str(client.read().unwrap().to_text().unwrap()).unwrap()
}

fn admin_may_write_and_user_may_only_read(adapter: Adapter) {
    let addr = server(adapter, None);
    let mut alice = login(addr, "alice-token");
    let mut admin = login(addr, "admin-token");
    assert_eq!(exchange(&mut alice, json!({"type": "get"})), json!({"type": "get"}));
    let reply = exchange(&mut alice, json!({"type": "post", "text": "hello"}));
    assert_eq!((reply["type"].as_str(), reply["code"].as_str()), (Some("error"), Some("forbidden")));
    assert!(!reply.to_string().contains("hello"));
    assert_eq!(exchange(&mut admin, json!({"type": "post"})), json!({"type": "post"}));
    assert_eq!(exchange(&mut alice, json!({"type": "delete"}))["code"], "forbidden", "unmapped types are denied");
}

fn each_client_sees_the_fields_its_role_allows(adapter: Adapter) {
    let addr = server(adapter, None);
    let message = json!({"type": "get", "name": "Jane", "email": "jane@example.com"});
    let mut alice = login(addr, "alice-token");
    let mut admin = login(addr, "admin-token");
    assert_eq!(exchange(&mut alice, message.clone()), json!({"type": "get", "name": "Jane"}));
    assert_eq!(exchange(&mut admin, message.clone()), message);
}

fn repeated_denials_close_with_4403(adapter: Adapter) {
    let addr = server(adapter, Some(Strikes::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60))));
    let mut alice = login(addr, "alice-token");
    assert_eq!(exchange(&mut alice, json!({"type": "post"}))["code"], "forbidden");
    alice.send(WsMessage::text(r#"{"type":"post"}"#)).unwrap();
    assert_eq!(expect_close(&mut alice), (4403, "too many forbidden messages".into()));
    expect_closed(&mut alice);
}

for_each_adapter!(
    admin_may_write_and_user_may_only_read,
    each_client_sees_the_fields_its_role_allows,
    repeated_denials_close_with_4403,
);
