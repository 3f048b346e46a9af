//! The PII scrubber on a labelled corpus (precision, recall, hard
//! negatives), its invariants as properties, and its answers over real
//! sockets for both adapters.

use std::collections::BTreeMap;

use proptest::prelude::*;
use wsguard::Direction;
use wsguard::pii::{Action, Scrubber};

use crate::support::corpus::{self, Labelled};

#[derive(Default, Debug)]
struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

/// Scores every detector family on `frames`: a finding counts only with
/// the planted kind and the exact byte range.
fn score(scrubber: &Scrubber, frames: &[Labelled]) -> (BTreeMap<&'static str, Score>, usize, usize) {
    let mut scores: BTreeMap<&'static str, Score> = BTreeMap::new();
    let (mut negatives, mut negatives_hit) = (0, 0);
    for frame in frames {
        let found = scrubber.find(&frame.text);
        for f in &found {
            let planted = frame.labels.iter().any(|(k, r)| *k == f.kind() && *r == f.range());
            let entry = scores.entry(f.kind()).or_default();
            if planted {
                entry.tp += 1;
            } else {
                entry.fp += 1;
                eprintln!("false positive {} {:?} in {}", f.kind(), &frame.text[f.range()], frame.text);
            }
        }
        for (kind, range) in &frame.labels {
            if !found.iter().any(|f| f.kind() == *kind && f.range() == *range) {
                scores.entry(kind).or_default().fn_ += 1;
                eprintln!("missed {kind} {:?} in {}", &frame.text[range.clone()], frame.text);
            }
        }
        for range in &frame.negatives {
            negatives += 1;
            if found.iter().any(|f| f.range().start < range.end && range.start < f.range().end) {
                negatives_hit += 1;
            }
        }
    }
    (scores, negatives, negatives_hit)
}

#[test]
fn precision_and_recall_on_the_labelled_corpus_meet_the_bar() {
    let scrubber = Scrubber::builder().build().unwrap();
    let frames = corpus::corpus(20_000, 7);
    let (scores, negatives, hit) = score(&scrubber, &frames);
    println!("| detector | planted | precision | recall |");
    println!("|---|---:|---:|---:|");
    for (kind, s) in &scores {
        println!("| `{kind}` | {} | {:.4} | {:.4} |", s.tp + s.fn_, s.precision(), s.recall());
    }
    println!("hard negatives: {hit} of {negatives} hit ({:.3}%)", 100.0 * hit as f64 / negatives as f64);
    for (kind, s) in &scores {
        let bar = if matches!(*kind, "credit_card" | "iban") { 0.99 } else { 0.97 };
        assert!(s.precision() >= bar && s.recall() >= bar, "{kind}: {s:?}");
    }
    assert!(scores.len() >= 15, "every family is planted: {:?}", scores.keys());
    assert!((hit as f64) < 0.01 * negatives as f64, "{hit} of {negatives} negatives hit");
}
