//! Shared by the bench binaries that include it with `mod common;`.

use std::hint::black_box;
use std::time::Instant;

use wsguard::{Frame, Layer, Outcome, Session};

/// Reads the parsed JSON and passes, like a validation layer would.
#[derive(Debug)]
pub struct ReadsJson;

impl Layer for ReadsJson {
    fn name(&self) -> &'static str {
        "reads_json"
    }
    fn on_inbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
        black_box(frame.json());
        Outcome::Pass
    }
}
