//! Schema validation over real sockets, against both adapters.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::Message as WsMessage;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use wsguard::Guard;
use wsguard::layer::Strikes;
use wsguard::schema::{SchemaBuilder, SchemaValidation};

use crate::support::{Adapter, Client, connect, expect_close, expect_closed, spawn_echo};

fn schemas() -> SchemaBuilder {
    SchemaValidation::builder()
        .schema(
            "chat",
            json!({
                "type": "object",
                "properties": {
                    "type": {"const": "chat"},
                    "room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
                    "text": {"type": "string", "maxLength": 2000}
                },
                "required": ["type", "room", "text"],
                "additionalProperties": false
            }),
        )
        .schema("profile", json!({"type": "object"}))
        .outbound_schema(
            "profile",
            json!({
                "type": "object",
                "properties": {"type": {"const": "profile"}, "name": {"type": "string"}},
                "additionalProperties": false
            }),
        )
}

fn server(adapter: Adapter, builder: SchemaBuilder) -> std::net::SocketAddr {
    let guard = Guard::builder().without_auth().json_schema(builder.build().unwrap()).build().unwrap();
    spawn_echo(adapter, guard)
}

fn read_json(client: &mut Client) -> Value {
    serde_json::from_str(client.read().unwrap().to_text().unwrap()).unwrap()
}

fn valid_messages_echo_byte_for_byte(adapter: Adapter) {
    let mut client = connect(server(adapter, schemas()));
    for text in [
        r#"{"type":"chat","room":"lobby","text":"hello"}"#,
        "{\n  \"text\": \"caf\\u00e9 \\\"quoted\\\" 🌍 <b>\",\n  \"room\": \"a-1\",\n  \"type\": \"chat\"\n}",
        r#"{ "name" : "J\u00e1ne", "type":"profile" }"#,
    ] {
        client.send(WsMessage::text(text)).unwrap();
        assert_eq!(client.read().unwrap(), WsMessage::text(text));
    }
}

fn an_invalid_message_gets_its_pointer_and_the_connection_stays_open(adapter: Adapter) {
    let mut client = connect(server(adapter, schemas()));
    client.send(WsMessage::text(r#"{"type":"chat","room":"No Spaces Allowed","text":"hi"}"#)).unwrap();
    let reply = read_json(&mut client);
    assert_eq!(reply["code"], "invalid_message");
    assert_eq!((reply["path"].as_str(), reply["keyword"].as_str()), (Some("/room"), Some("pattern")));
    assert!(!reply.to_string().contains("No Spaces"));
    client.send(WsMessage::text(r#"{"type":"whatever"}"#)).unwrap();
    assert_eq!(read_json(&mut client)["code"], "unknown_type");
    client.send(WsMessage::binary(vec![1, 2])).unwrap();
    assert_eq!(read_json(&mut client)["keyword"], "binary");
    let fine = WsMessage::text(r#"{"type":"chat","room":"lobby","text":"still here"}"#);
    client.send(fine.clone()).unwrap();
    assert_eq!(client.read().unwrap(), fine);
}

fn a_depth_bomb_inside_the_size_limit_gets_max_depth(adapter: Adapter) {
    let mut client = connect(server(adapter, schemas()));
    let bomb = format!("{}{}", "[".repeat(32_700), "]".repeat(32_700));
    assert!(bomb.len() <= 64 * 1024);
    client.send(WsMessage::text(bomb)).unwrap();
    let reply = read_json(&mut client);
    assert_eq!((reply["code"].as_str(), reply["keyword"].as_str()), (Some("invalid_message"), Some("maxDepth")));
}

fn repeated_refusals_close_with_1008(adapter: Adapter) {
    let strikes = Strikes::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(60));
    let mut client = connect(server(adapter, schemas().strikes(Some(strikes))));
    for _ in 0..2 {
        client.send(WsMessage::text("not json")).unwrap();
        assert_eq!(read_json(&mut client)["keyword"], "json");
    }
    client.send(WsMessage::text("not json")).unwrap();
    assert_eq!(expect_close(&mut client), (1008, "too many invalid messages".into()));
    expect_closed(&mut client);
}

fn invalid_utf8_closes_with_1007(adapter: Adapter) {
    let mut client = connect(server(adapter, schemas()));
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    client.write(WsMessage::Frame(frame)).unwrap();
    client.flush().unwrap();
    assert_eq!(expect_close(&mut client), (1007, "invalid utf-8".into()));
}

fn outbound_schema_blocks_a_leaked_field(adapter: Adapter) {
    let mut client = connect(server(adapter, schemas()));
    // The echo server sends back whatever passes inbound; the outbound
    // schema stops the copy that carries an email.
    client.send(WsMessage::text(r#"{"type":"profile","name":"Jane","email":"jane@example.com"}"#)).unwrap();
    let clean = WsMessage::text(r#"{"type":"profile","name":"Jane"}"#);
    client.send(clean.clone()).unwrap();
    assert_eq!(client.read().unwrap(), clean, "the leaking echo never arrives");
}

for_each_adapter!(
    valid_messages_echo_byte_for_byte,
    an_invalid_message_gets_its_pointer_and_the_connection_stays_open,
    a_depth_bomb_inside_the_size_limit_gets_max_depth,
    repeated_refusals_close_with_1008,
    invalid_utf8_closes_with_1007,
    outbound_schema_blocks_a_leaked_field,
);
