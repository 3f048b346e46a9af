//! A command-line PII scrubber, for evaluation and operations.
//!
//! Reads one frame per line on stdin, each line a JSON string holding the
//! frame's text exactly as sent, and writes one JSON line per frame:
//!
//! ```text
//! {"findings":[{"type":"email","start":12,"end":34}],"scrubbed":"..."}
//! ```
//!
//! Offsets are bytes into the frame; types are the detector names of
//! `wsguard::pii::Kind`. Throughput (MB/s, frames/s, over the scrubbing
//! alone) goes to stderr at the end.
//!
//! ```text
//! cargo run --release --example pii_corpus -- 20000 > corpus.jsonl
//! cargo run --release --example scrub -- --action mask < corpus.jsonl > out.jsonl
//! ```
//!
//! Flags: `--action redact|mask|hash` (default redact; hash uses a key
//! from `WSGUARD_HMAC_KEY`, or a fixed demo key), `--report-only`.

use std::io::{self, BufRead, BufWriter, Write};
use std::time::{Duration, Instant};

/// Frames read, scrubbed and written at a time.
const BATCH: usize = 1024;

use serde_json::json;
use wsguard::Direction;
use wsguard::pii::{Action, Scrubber};

fn main() {
    if let Err(e) = run() {
        eprintln!("scrub: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut action = Action::Redact;
    let mut report_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--action" => {
                action = match args.next().as_deref() {
                    Some("redact") => Action::Redact,
                    Some("mask") => Action::Mask,
                    Some("hash") => Action::Hash,
                    other => return Err(format!("--action takes redact, mask or hash, not {other:?}").into()),
                }
            }
            "--report-only" => report_only = true,
            other => return Err(format!("unknown argument {other:?} (try --action mask, --report-only)").into()),
        }
    }
    let key = std::env::var("WSGUARD_HMAC_KEY").unwrap_or_else(|_| "wsguard-demo-key".to_owned());
    let scrubber = Scrubber::builder().default_action(action).hmac_key(key).report_only(report_only).build()?;

    let mut out = BufWriter::new(io::stdout().lock());
    let (mut frames, mut bytes, mut busy) = (0u64, 0u64, Duration::ZERO);
    // Frames are scrubbed in batches, timed apart from reading and writing,
    // so the throughput is the scrubber's.
    let mut lines = io::stdin().lock().lines().enumerate();
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        for (n, line) in lines.by_ref() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let frame: String =
                serde_json::from_str(&line).map_err(|e| format!("line {}: not a JSON string: {e}", n + 1))?;
            batch.push(frame);
            if batch.len() == BATCH {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        let start = Instant::now();
        let results: Vec<_> = batch.iter().map(|f| scrubber.scrub(f, Direction::Outbound)).collect();
        busy += start.elapsed();
        for (frame, scrubbed) in batch.iter().zip(&results) {
            frames += 1;
            bytes += frame.len() as u64;
            let findings: Vec<_> = scrubbed
                .findings()
                .iter()
                .map(|f| json!({"type": f.kind(), "start": f.range().start, "end": f.range().end}))
                .collect();
            let mut record = json!({"findings": findings, "scrubbed": scrubbed.text()});
            if let Some(blocked) = scrubbed.blocked() {
                record["blocked"] = json!(blocked.as_str());
            }
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    let secs = busy.as_secs_f64().max(1e-9);
    eprintln!(
        "scrub: {frames} frames, {bytes} bytes in {:.1} ms: {:.1} MB/s, {:.0} frames/s",
        secs * 1e3,
        bytes as f64 / secs / 1e6,
        frames as f64 / secs
    );
    Ok(())
}
