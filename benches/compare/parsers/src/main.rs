//! Which parser builds the fastest `serde_json::Value` for jsonschema: the
//! median of 15 timings of parse-then-validate, per message, and the ratio
//! of each candidate to serde_json in the same run.
use std::hint::black_box;
use std::time::Instant;

fn chat(len: usize) -> String {
    const PROSE: &str = "Are we still meeting tomorrow? If anything changes, I will post it here and bring the slides. The demo went well, thanks to everyone who stayed late on Friday. ";
    let head = r#"{"type":"chat","room":"lobby","text":""#;
    let tail = r#""}"#;
    let room = len - head.len() - tail.len();
    let text: String = PROSE.chars().cycle().take(room).collect();
    format!("{head}{text}{tail}")
}

fn structured() -> String {
    let items: Vec<String> =
        (0..12).map(|i| format!(r#"{{"id":{i},"name":"item {i}","price":{}.5,"tags":["a","b"]}}"#, i * 3)).collect();
    format!(
        r#"{{"type":"order","id":"5f0c1e2a-8b7d","customer":{{"name":"Alice","tier":"gold"}},"items":[{}]}}"#,
        items.join(",")
    )
}

fn median<F: FnMut()>(mut f: F, iters: usize) -> f64 {
    let mut v = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        v.push(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let schema = serde_json::json!({"type":"object","required":["type"]});
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (name, text) in [
        ("chat 300 B", chat(300)),
        ("chat 1 KiB", chat(1024)),
        ("chat 16 KiB", chat(16384)),
        ("order 749 B", structured()),
    ] {
        let iters = if text.len() > 4000 { 20_000 } else { 100_000 };
        let a = median(
            || {
                let v: serde_json::Value = serde_json::from_str(black_box(&text)).unwrap();
                black_box(validator.is_valid(&v));
            },
            iters,
        );
        let b = median(
            || {
                let mut bytes = black_box(&text).as_bytes().to_vec();
                let v: serde_json::Value = simd_json::serde::from_slice(&mut bytes).unwrap();
                black_box(validator.is_valid(&v));
            },
            iters,
        );
        let c = median(
            || {
                let v: serde_json::Value = sonic_rs::from_str(black_box(&text)).unwrap();
                black_box(validator.is_valid(&v));
            },
            iters,
        );
        println!(
            "{name:<14} ({} B): serde_json {a:.0} ns, simd-json {b:.0} ns ({:.2}x), sonic-rs {c:.0} ns ({:.2}x)",
            text.len(),
            b / a,
            c / a
        );
    }
}
