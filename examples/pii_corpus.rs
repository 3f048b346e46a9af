//! Prints the labelled test corpus (`tests/support/corpus.rs`) as input for
//! `examples/scrub`: one JSON string per line, the frame's text.
//!
//! `cargo run --release --example pii_corpus -- [frames] [seed] > corpus.jsonl`
//! (defaults: 20000 frames, seed 7). With `--labels`, each line is instead
//! `{"frame":...,"labels":[{"type":..,"start":..,"end":..}]}`.

#[path = "../tests/support/corpus.rs"]
mod corpus;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let labels = args.iter().any(|a| a == "--labels");
    let mut numbers = args.iter().filter_map(|a| a.parse::<u64>().ok());
    let frames = numbers.next().unwrap_or(20_000) as usize;
    let seed = numbers.next().unwrap_or(7);
    for f in corpus::corpus(frames, seed) {
        let line = if labels {
            let labels: Vec<_> =
                f.labels.iter().map(|(k, r)| serde_json::json!({"type": k, "start": r.start, "end": r.end})).collect();
            serde_json::json!({"frame": f.text, "labels": labels})
        } else {
            serde_json::Value::String(f.text)
        };
        println!("{line}");
    }
}
