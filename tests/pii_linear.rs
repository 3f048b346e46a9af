//! The PII scanner costs linear time on any input: the bytes it examines
//! per input byte (its work counter, not a clock) stay flat from 16 KiB to
//! 64 KiB on every periodic adversarial input, as plain text and inside a
//! JSON string. Needs the `test-util` feature (the counter).

use wsguard::Direction;
use wsguard::internal::take_scan_work;
use wsguard::pii::Scrubber;

use crate::support::adversarial::{patterns, prose, repeat};

/// Work per input byte for `text`, scrubbing (finding and rewriting).
fn per_byte(scrubber: &Scrubber, text: &str) -> f64 {
    take_scan_work();
    let _ = scrubber.scrub(text, Direction::Outbound);
    take_scan_work() as f64 / text.len() as f64
}

#[test]
fn work_per_byte_is_flat_from_16_to_64_kib_on_adversarial_inputs() {
    let scrubber = Scrubber::builder().build().unwrap();
    let baseline = per_byte(&scrubber, &prose(64 * 1024));
    assert!(baseline > 0.5, "the counter counts: {baseline}");
    let mut worst = (0.0, String::new());
    let mut table = Vec::new();
    for pattern in patterns() {
        for json in [false, true] {
            let frame = |len: usize| {
                let body = repeat(&pattern, len);
                if json { serde_json::json!({ "t": body }).to_string() } else { body }
            };
            let small = per_byte(&scrubber, &frame(16 * 1024));
            let large = per_byte(&scrubber, &frame(64 * 1024));
            // Quadratic work would give four times the work per byte.
            assert!(large <= small * 1.15 + 0.05, "{pattern:?} (json {json}): {small:.2} -> {large:.2} per byte");
            // And a small constant: a few readings of each byte.
            assert!(large <= 24.0, "{pattern:?} (json {json}): {large:.2} per byte");
            table.push(format!("{pattern:?} json={json}: {small:.2} -> {large:.2}"));
            if large > worst.0 {
                worst = (large, format!("{pattern:?} json={json}"));
            }
        }
    }
    if std::env::var_os("WSGUARD_SHOW_WORK").is_some() {
        println!("{}", table.join("\n"));
    }
    println!("prose: {baseline:.2} bytes read per byte; worst adversarial: {:.2} ({})", worst.0, worst.1);
}
