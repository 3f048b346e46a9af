//! In-memory tests of the schema layer, through a real `Guard`.

use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::error::ConfigError;
use crate::guard::{Guard, Verdict};
use crate::layer::Limits;
use crate::message::{Message, counters};
use crate::time::ManualClock;

fn chat_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": {"const": "chat"},
            "room": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
            "text": {"type": "string", "minLength": 1, "maxLength": 2000},
            "mood": {"enum": ["happy", "sad"]},
            "count": {"type": "integer", "minimum": 0, "maximum": 10},
            "sent_at": {"type": "string", "format": "date-time"}
        },
        "required": ["type", "room", "text"],
        "additionalProperties": false
    })
}

fn chat_builder() -> SchemaBuilder {
    SchemaValidation::builder().schema("chat", chat_schema())
}

fn guard_with(builder: SchemaBuilder) -> Guard {
    Guard::builder().without_auth().json_schema(builder.build().unwrap()).build().unwrap()
}

/// The verdict on one inbound text message, on a fresh session.
fn inbound(guard: &Guard, text: &str) -> Verdict {
    guard.inbound(Message::text(text), &mut guard.new_session(None))
}

/// The reply of a dropped message, parsed.
fn reply(verdict: Verdict) -> Value {
    match verdict {
        Verdict::Drop { reply: Some(Message::Text(text)) } => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a drop with a reply, got {other:?}"),
    }
}

#[test]
fn keyword_families_refuse_with_path_and_keyword_and_never_the_value() {
    let guard = guard_with(chat_builder());
    let cases = [
        (r#"{"type":"chat","room":5,"text":"hi"}"#, "/room", "type"),
        (r#"{"type":"chat","room":"lobby"}"#, "", "required"),
        (r#"{"type":"chat","room":"lobby","text":"hi","mood":"furious"}"#, "/mood", "enum"),
        (r#"{"type":"chat","room":"Lobby-SECRET","text":"hi"}"#, "/room", "pattern"),
        (r#"{"type":"chat","room":"lobby","text":"hi","count":11}"#, "/count", "maximum"),
        (r#"{"type":"chat","room":"lobby","text":"hi","count":-1}"#, "/count", "minimum"),
        (r#"{"type":"chat","room":"lobby","text":""}"#, "/text", "minLength"),
        (r#"{"type":"chat","room":"lobby","text":"hi","email":"jane@example.com"}"#, "", "additionalProperties"),
        (r#"{"type":"chat","room":"lobby","text":"hi","sent_at":"last-tuesday"}"#, "/sent_at", "format"),
    ];
    for (text, path, keyword) in cases {
        let answer = reply(inbound(&guard, text));
        assert_eq!(answer["code"], "invalid_message", "{text}");
        assert_eq!(answer["path"], path, "{text}");
        assert_eq!(answer["keyword"], keyword, "{text}");
        assert_eq!(answer["errors"][0], json!({"path": path, "keyword": keyword}), "{text}");
        let raw = answer.to_string();
        for value in ["SECRET", "furious", "jane@example.com", "last-tuesday"] {
            assert!(!raw.contains(value), "reply echoes {value}: {raw}");
        }
    }
}

#[test]
fn valid_messages_pass_unchanged_including_formats_and_bounds() {
    let guard = guard_with(chat_builder());
    for text in [
        r#"{"type":"chat","room":"lobby","text":"hi"}"#,
        "{ \"text\" : \"<b>é</b> \\\"q\\\" \\u00e9\", \"room\":\"a-1\",\n \"type\":\"chat\", \"count\": 10, \"mood\":\"sad\" }",
        r#"{"type":"chat","room":"lobby","text":"x","count":0,"sent_at":"2026-11-22T10:00:00Z"}"#,
    ] {
        assert_eq!(inbound(&guard, text), Verdict::Deliver(Message::text(text)), "{text}");
    }
}

#[test]
fn at_most_max_errors_are_listed() {
    let guard = guard_with(chat_builder().max_errors(2));
    let answer = reply(inbound(&guard, r#"{"type":"chat","room":1,"text":2,"count":"x","mood":0}"#));
    assert_eq!(answer["errors"].as_array().unwrap().len(), 2);
    let guard = guard_with(chat_builder().max_errors(0));
    let answer = reply(inbound(&guard, r#"{"type":"chat","room":1,"text":2}"#));
    assert_eq!(answer["errors"].as_array().unwrap().len(), 1, "at least one is always listed");
}

#[test]
fn unknown_and_missing_types_are_refused_unless_a_default_schema_or_allowed() {
    let guard = guard_with(chat_builder());
    for text in [r#"{"type":"admin"}"#, r#"{"kind":"chat"}"#, r#"{"type":7}"#, "[1,2]", "42"] {
        assert_eq!(reply(inbound(&guard, text))["code"], "unknown_type", "{text}");
    }
    let guard = guard_with(chat_builder().default_schema(json!({"type": "object", "required": ["type"]})));
    let text = r#"{"type":"ping"}"#;
    assert_eq!(inbound(&guard, text), Verdict::Deliver(Message::text(text)));
    assert_eq!(reply(inbound(&guard, r#"{"kind":"ping"}"#))["keyword"], "required");
    // The type's own schema still wins over the default.
    assert_eq!(reply(inbound(&guard, r#"{"type":"chat"}"#))["code"], "invalid_message");

    let guard = guard_with(chat_builder().allow_unknown_types(true));
    assert!(matches!(inbound(&guard, r#"{"type":"admin"}"#), Verdict::Deliver(_)));
    assert_eq!(reply(inbound(&guard, r#"{"type":"chat"}"#))["code"], "invalid_message");
}

#[test]
fn the_discriminator_can_sit_at_a_nested_pointer() {
    let schema = json!({"type": "object", "required": ["body"]});
    let guard = guard_with(
        SchemaValidation::builder().discriminator(Discriminator::new("/meta/kind").unwrap()).schema("post", schema),
    );
    let text = r#"{"meta":{"kind":"post"},"body":"x"}"#;
    assert_eq!(inbound(&guard, text), Verdict::Deliver(Message::text(text)));
    assert_eq!(reply(inbound(&guard, r#"{"meta":{"kind":"post"}}"#))["keyword"], "required");
    assert_eq!(reply(inbound(&guard, r#"{"type":"post","body":"x"}"#))["code"], "unknown_type");
}

#[test]
fn a_depth_bomb_is_refused_without_being_parsed() {
    // 100,000 nested arrays: 200 KB, so the size limit is raised to let it reach the layer.
    let guard = Guard::builder()
        .without_auth()
        .limits(Limits::default().max_message_size(256 * 1024))
        .json_schema(chat_builder().build().unwrap())
        .build()
        .unwrap();
    let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    counters::reset();
    let answer = reply(inbound(&guard, &bomb));
    assert_eq!(counters::get().0, 0, "the bomb reached the parser");
    assert_eq!(answer["keyword"], "maxDepth");
    assert_eq!(answer["path"], "/0".repeat(32));
    // An object bomb inside the default 64 KiB.
    let objects = format!("{}{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    assert!(objects.len() < 64 * 1024);
    assert_eq!(reply(inbound(&guard, &objects))["path"], "/a".repeat(32));
}

#[test]
fn huge_key_and_element_counts_are_refused_without_being_parsed() {
    let guard = guard_with(chat_builder());
    let keys: Vec<String> = (0..5_000).map(|i| format!(r#""k{i}":0"#)).collect();
    let wide = format!(r#"{{"type":"chat",{}}}"#, keys.join(","));
    assert!(wide.len() < 64 * 1024);
    counters::reset();
    let answer = reply(inbound(&guard, &wide));
    assert_eq!(counters::get().0, 0);
    assert_eq!((answer["keyword"].as_str(), answer["path"].as_str()), (Some("maxProperties"), Some("")));

    let long = format!(r#"{{"type":"chat","room":"lobby","text":[{}]}}"#, vec!["0"; 2_000].join(","));
    let answer = reply(inbound(&guard, &long));
    assert_eq!((answer["keyword"].as_str(), answer["path"].as_str()), (Some("maxItems"), Some("/text")));

    let big = format!(r#"{{"type":"chat","room":"lobby","text":"{}"}}"#, "a".repeat(20_000));
    let answer = reply(inbound(&guard, &big));
    assert_eq!((answer["keyword"].as_str(), answer["path"].as_str()), (Some("maxLength"), Some("/text")));
}

#[test]
fn non_json_text_and_binary_follow_their_policies() {
    let guard = guard_with(chat_builder());
    for text in ["hello", "{not json", "", "  "] {
        let answer = reply(inbound(&guard, text));
        assert_eq!(
            (answer["code"].as_str(), answer["keyword"].as_str()),
            (Some("invalid_message"), Some("json")),
            "{text:?}"
        );
    }
    let binary = guard.inbound(Message::binary(vec![1, 2, 3]), &mut guard.new_session(None));
    assert_eq!(reply(binary)["keyword"], "binary");

    let guard = guard_with(chat_builder().text_not_json(NonJson::Allow).binary(NonJson::Allow));
    assert_eq!(inbound(&guard, "hello"), Verdict::Deliver(Message::text("hello")));
    let binary = guard.inbound(Message::binary(vec![1, 2, 3]), &mut guard.new_session(None));
    assert_eq!(binary, Verdict::Deliver(Message::binary(vec![1, 2, 3])));
    // JSON still goes through the schemas when non-JSON is allowed.
    assert_eq!(reply(inbound(&guard, r#"{"type":"x"}"#))["code"], "unknown_type");

    let handler = NonJson::handler(|frame, _| match frame.text() {
        Some("ping") => Outcome::Pass,
        _ => Outcome::drop_with(ErrorReply::new("raw", "raw refused")),
    });
    let guard = guard_with(chat_builder().text_not_json(handler));
    assert_eq!(inbound(&guard, "ping"), Verdict::Deliver(Message::text("ping")));
    assert_eq!(reply(inbound(&guard, "pong"))["code"], "raw");
}

#[test]
fn outbound_validation_blocks_a_leaked_field_and_passes_the_rest() {
    let out = json!({
        "type": "object",
        "properties": {"type": {"const": "profile"}, "name": {"type": "string"}},
        "additionalProperties": false
    });
    let guard = guard_with(chat_builder().outbound_schema("profile", out));
    let mut session = guard.new_session(None);
    let leak = Message::text(r#"{"type":"profile","name":"Jane","email":"jane@example.com"}"#);
    assert_eq!(guard.outbound(leak, &mut session), Verdict::Drop { reply: None });
    let fine = Message::text(r#"{"type":"profile","name":"Jane"}"#);
    assert_eq!(guard.outbound(fine.clone(), &mut session), Verdict::Deliver(fine));
    // Types without an outbound schema, and non-JSON, pass outbound.
    for other in [Message::text(r#"{"type":"chat","x":1}"#), Message::text("plain"), Message::binary(vec![0])] {
        assert_eq!(guard.outbound(other.clone(), &mut session), Verdict::Deliver(other));
    }
    // Without outbound schemas nothing outbound is checked.
    let guard = guard_with(chat_builder());
    let leak = Message::text(r#"{"type":"profile","email":"jane@example.com"}"#);
    assert_eq!(guard.outbound(leak.clone(), &mut guard.new_session(None)), Verdict::Deliver(leak));
}

#[test]
fn an_outbound_default_schema_of_false_blocks_unlisted_types() {
    let guard = guard_with(
        chat_builder().outbound_schema("chat", json!({"type": "object"})).outbound_default_schema(json!(false)),
    );
    let mut session = guard.new_session(None);
    assert!(matches!(guard.outbound(Message::text(r#"{"type":"chat"}"#), &mut session), Verdict::Deliver(_)));
    assert_eq!(guard.outbound(Message::text(r#"{"type":"debug"}"#), &mut session), Verdict::Drop { reply: None });
}

#[test]
fn strikes_close_with_1008_and_expire_with_their_window() {
    let clock = ManualClock::new();
    let strikes = Strikes::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(60));
    let guard = Guard::builder()
        .without_auth()
        .clock(clock.clone())
        .json_schema(chat_builder().strikes(Some(strikes)).build().unwrap())
        .build()
        .unwrap();
    let mut session = guard.new_session(None);
    let mut send = |text: &str| guard.inbound(Message::text(text), &mut session);
    assert_eq!(reply(send("bad"))["code"], "invalid_message");
    assert_eq!(reply(send(r#"{"type":"nope"}"#))["code"], "unknown_type");
    // Valid messages do not clear strikes.
    assert!(matches!(send(r#"{"type":"chat","room":"a","text":"b"}"#), Verdict::Deliver(_)));
    clock.advance(Duration::from_secs(61));
    // The first two expired: this is strike one again.
    assert_eq!(reply(send("bad"))["code"], "invalid_message");
    assert_eq!(reply(send("bad"))["code"], "invalid_message");
    match send("bad") {
        Verdict::Close { frame, rejection } => {
            assert_eq!(frame.code.get(), 1008);
            assert_eq!(rejection.reason(), "too many invalid messages");
        }
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn without_strikes_the_layer_only_answers() {
    let guard = guard_with(chat_builder().strikes(None));
    let mut session = guard.new_session(None);
    for _ in 0..100 {
        assert!(matches!(guard.inbound(Message::text("bad"), &mut session), Verdict::Drop { reply: Some(_) }));
    }
}

#[test]
fn refs_resolve_only_against_registered_resources() {
    let common = json!({"$defs": {"room": {"type": "string", "maxLength": 5}}});
    let schema = json!({"properties": {"room": {"$ref": "https://schemas.example/common.json#/$defs/room"}}});
    let guard = guard_with(
        SchemaValidation::builder()
            .resource("https://schemas.example/common.json", common)
            .schema("join", schema.clone()),
    );
    assert!(matches!(inbound(&guard, r#"{"type":"join","room":"lobby"}"#), Verdict::Deliver(_)));
    assert_eq!(reply(inbound(&guard, r#"{"type":"join","room":"too-long"}"#))["path"], "/room");

    // Unregistered: refused at build, never fetched.
    let error = SchemaValidation::builder().schema("join", schema).build().unwrap_err();
    assert!(matches!(&error, ConfigError::Schema { name, .. } if name == "join"), "{error}");
}

#[test]
fn invalid_schemas_are_refused_at_build_with_their_name() {
    let cases = [
        (SchemaValidation::builder().schema("a", json!({"type": "strin"})), "a"),
        (SchemaValidation::builder().schema_str("b", "{not json"), "b"),
        (SchemaValidation::builder().schema("c", json!({"pattern": "(?=look)ahead"})), "c"),
        (SchemaValidation::builder().schema("d", json!({"$ref": "http://127.0.0.1:9/x.json"})), "d"),
        (SchemaValidation::builder().outbound_schema("e", json!({"minimum": "zero"})), "outbound:e"),
        (SchemaValidation::builder().schema("f", json!({})).schema("f", json!({})), "f"),
        (SchemaValidation::builder().default_schema(json!({"type": 3})), "default"),
    ];
    for (builder, expected) in cases {
        match builder.build() {
            Err(ConfigError::Schema { name, .. }) => assert_eq!(name, expected),
            other => panic!("{expected}: expected a schema error, got {other:?}"),
        }
    }
    let zero = SchemaValidation::builder().structure(StructureLimits::default().max_depth(0)).build();
    assert!(matches!(zero, Err(ConfigError::InvalidLimit { name: "max_depth", .. })));
    let bad_pointer = SchemaValidation::builder().sanitize("chat", "text", Sanitizer::EscapeHtml).build();
    assert!(matches!(bad_pointer, Err(ConfigError::InvalidPointer { .. })));
}

#[test]
fn the_draft_decides_how_a_schema_reads() {
    // Draft 4's boolean exclusiveMaximum is not a valid 2020-12 schema.
    let draft4 = json!({"properties": {"n": {"maximum": 10, "exclusiveMaximum": true}}});
    assert!(SchemaValidation::builder().schema("m", draft4.clone()).build().is_err());
    let guard = guard_with(SchemaValidation::builder().draft(Draft::Draft4).schema("m", draft4));
    assert!(matches!(inbound(&guard, r#"{"type":"m","n":9}"#), Verdict::Deliver(_)));
    assert_eq!(reply(inbound(&guard, r#"{"type":"m","n":10}"#))["path"], "/n");
}

#[test]
fn schemas_load_from_a_directory_by_file_name() {
    let dir = std::env::temp_dir().join(format!("wsguard-schemas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("chat.json"), chat_schema().to_string()).unwrap();
    std::fs::write(dir.join("join.json"), r#"{"required": ["room"]}"#).unwrap();
    std::fs::write(dir.join("README.md"), "not a schema").unwrap();
    let guard = guard_with(SchemaValidation::builder().schema_dir(&dir));
    assert!(matches!(inbound(&guard, r#"{"type":"join","room":"x"}"#), Verdict::Deliver(_)));
    assert_eq!(reply(inbound(&guard, r#"{"type":"join"}"#))["keyword"], "required");
    assert_eq!(reply(inbound(&guard, r#"{"type":"chat","room":"x"}"#))["keyword"], "required");
    assert_eq!(reply(inbound(&guard, r#"{"type":"README"}"#))["code"], "unknown_type");

    std::fs::write(dir.join("broken.json"), "{").unwrap();
    let error = SchemaValidation::builder().schema_dir(&dir).build().unwrap_err();
    assert!(matches!(&error, ConfigError::Schema { name, .. } if name.ends_with("broken.json")), "{error}");
    let missing = SchemaValidation::builder().schema_dir(dir.join("nope")).build();
    assert!(matches!(missing, Err(ConfigError::Schema { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sanitizing_escapes_chosen_fields_and_leaves_clean_messages_untouched() {
    let guard = guard_with(chat_builder().sanitize("chat", "/text", Sanitizer::EscapeHtml));
    let verdict = inbound(&guard, r#"{"type":"chat","room":"lobby","text":"<script>x</script>"}"#);
    let Verdict::Deliver(Message::Text(out)) = verdict else { panic!("{verdict:?}") };
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["text"], "&lt;script&gt;x&lt;/script&gt;");
    assert_eq!(out["room"], "lobby");

    counters::reset();
    let clean = r#"{"type":"chat", "room":"lobby","text":"no markup"}"#;
    assert_eq!(inbound(&guard, clean), Verdict::Deliver(Message::text(clean)));
    assert_eq!(counters::get(), (1, 0), "a clean message is parsed once and never re-serialized");

    let guard =
        guard_with(SchemaValidation::builder().allow_unknown_types(true).sanitize_all("note", Sanitizer::EscapeHtml));
    let Verdict::Deliver(Message::Text(out)) = inbound(&guard, r#"{"type":"note","a":{"b":["<i>"]}}"#) else {
        panic!()
    };
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["a"]["b"][0], "&lt;i&gt;");
}

/// A valid chat message with the given text, serialized compactly or
/// pretty, with keys in either order.
fn chat_message(room: &str, text: &str, count: Option<u8>, pretty: bool, reversed: bool) -> String {
    let mut fields = vec![("type", json!("chat")), ("room", json!(room)), ("text", json!(text))];
    if let Some(count) = count {
        fields.push(("count", json!(count)));
    }
    if reversed {
        fields.reverse();
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| if pretty { format!("\n  \"{k}\" : {v}") } else { format!("\"{k}\":{v}") })
        .collect();
    format!("{{{}}}", body.join(","))
}

proptest! {
    #[test]
    fn valid_messages_pass_byte_for_byte_unchanged(
        room in "[a-z0-9-]{1,32}",
        text in "\\PC{1,200}",
        count in proptest::option::of(0u8..=10),
        pretty: bool,
        reversed: bool,
    ) {
        let guard = guard_with(chat_builder());
        let message = chat_message(&room, &text, count, pretty, reversed);
        prop_assert_eq!(inbound(&guard, &message), Verdict::Deliver(Message::text(message.clone())));
    }
}
