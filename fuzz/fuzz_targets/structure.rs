//! The schema layer's structural scan (depth, string, array and object
//! bounds, checked before parsing) against what `serde_json` parses:
//!
//! - whatever the scan lets through and `serde_json` parses is within every
//!   bound (no bomb gets past the scan);
//! - whatever the scan refuses for depth or array length really breaks that
//!   bound (no legitimate message is lost). Strings are bounded as written
//!   and objects before duplicate keys merge, which a parsed value cannot
//!   show, so those refusals are only checked to be well-formed.
//!
//! - the message type read from the text without a tree
//!   (`Frame::message_type`) is the one read from the parsed value, and
//!   there is none where `serde_json` cannot parse the text.
//!
//! `cargo +nightly fuzz run structure -- -timeout=2 -max_len=65536`

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wsguard::Frame;
use wsguard::internal::check_structure;
use wsguard::layer::Discriminator;
use wsguard::schema::StructureLimits;

/// Small bounds, so that the fuzzer reaches them with small inputs.
fn limits(pick: u8) -> StructureLimits {
    let depth = 1 + usize::from(pick % 8);
    StructureLimits::default()
        .max_depth(depth)
        .max_string_bytes(usize::from(pick / 8 % 8) * 4)
        .max_array_len(1 + usize::from(pick / 64))
        .max_object_keys(1 + usize::from(pick / 64))
}

/// Depth, longest array, most keys, longest string (decoded bytes).
fn shape(value: &Value) -> (usize, usize, usize, usize) {
    let merge = |a: (usize, usize, usize, usize), b: (usize, usize, usize, usize)| {
        (a.0.max(b.0), a.1.max(b.1), a.2.max(b.2), a.3.max(b.3))
    };
    match value {
        Value::Array(items) => {
            let inner = items.iter().map(shape).fold((0, 0, 0, 0), merge);
            (inner.0 + 1, inner.1.max(items.len()), inner.2, inner.3)
        }
        Value::Object(map) => {
            let keys = map.keys().map(|k| (0, 0, 0, k.len())).fold((0, 0, 0, 0), merge);
            let inner = map.values().map(shape).fold(keys, merge);
            (inner.0 + 1, inner.1, inner.2.max(map.len()), inner.3)
        }
        Value::String(s) => (0, 0, 0, s.len()),
        _ => (0, 0, 0, 0),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let limits = limits(pick);
    let verdict = check_structure(&limits, text);
    let parsed = serde_json::from_str::<Value>(text);
    // A field, an escaped key, a nested path and array indices.
    let pointer = ["/type", "/a~1b", "/a/b", "/0", "/a/1/b"][usize::from(pick % 5)];
    let discriminator = Discriminator::new(pointer).unwrap();
    let from_tree = parsed.as_ref().ok().and_then(|v| discriminator.message_type(v));
    let mut frame = Frame::from_text(text.to_owned());
    assert_eq!(frame.message_type(&discriminator), from_tree, "{pointer} in {text}");
    // serde_json's own recursion limit is 128; our depths are at most 8.
    let Ok(value) = parsed else { return };
    let (depth, items, keys, string) = shape(&value);
    match verdict {
        Ok(()) => {
            assert!(depth <= limits.max_depth, "depth {depth} passed: {text}");
            assert!(items <= limits.max_array_len, "array of {items} passed: {text}");
            assert!(keys <= limits.max_object_keys, "object of {keys} keys passed: {text}");
            assert!(string <= limits.max_string_bytes, "string of {string} bytes passed: {text}");
        }
        Err(("maxDepth", _)) => assert!(depth > limits.max_depth, "refused at depth {depth}: {text}"),
        Err(("maxItems", _)) => assert!(items > limits.max_array_len, "refused {items} items: {text}"),
        Err((keyword, path)) => {
            assert!(matches!(keyword, "maxLength" | "maxProperties"), "{keyword}");
            assert!(path.is_empty() || path.starts_with('/'), "{path}");
        }
    }
});
