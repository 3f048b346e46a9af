//! The PII scrubber on any bytes: an answer without panic, findings on
//! character boundaries, valid JSON stays valid JSON under every rewriting
//! action, and scrubbing twice changes nothing. Run with libFuzzer's
//! `-timeout` to catch slow inputs:
//!
//! `cargo +nightly fuzz run scrub -- -timeout=2 -max_len=65536`

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wsguard::Direction;
use wsguard::pii::{Action, Scrubber};

fn scrubbers() -> &'static [Scrubber] {
    static SCRUBBERS: OnceLock<Vec<Scrubber>> = OnceLock::new();
    SCRUBBERS.get_or_init(|| {
        [Action::Redact, Action::Mask, Action::Hash, Action::Remove, Action::Report]
            .into_iter()
            .map(|action| Scrubber::builder().default_action(action).hmac_key(*b"fuzz").build().unwrap())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let scrubber = &scrubbers()[usize::from(pick) % scrubbers().len()];
    let once = scrubber.scrub(&text, Direction::Outbound);
    for finding in once.findings() {
        let range = finding.range();
        assert!(range.start < range.end && range.end <= text.len(), "{range:?}");
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end), "{range:?}");
    }
    if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
        assert!(serde_json::from_str::<serde_json::Value>(once.text()).is_ok(), "JSON broken: {:?}", once.text());
    }
    let twice = scrubber.scrub(once.text(), Direction::Outbound);
    assert_eq!(twice.text(), once.text(), "not idempotent");
});
