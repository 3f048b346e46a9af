//! A labelled corpus of WebSocket traffic for the PII scrubber: chat
//! lines with and without context words, nested JSON events, Socket.IO
//! frames, log lines, non-ASCII text and escaped JSON, with every planted
//! value's kind and byte range recorded, plus hard negatives (timestamps,
//! UUIDs, hashes, order ids, prices, versions, invalid SSNs, Luhn-failing
//! numbers, user agents, "password" in prose) whose ranges must stay clean.
//!
//! Deterministic (a fixed-seed generator), so quality numbers and benches
//! are reproducible. Shared by `tests/pii.rs`, `benches/pii.rs` and
//! `examples/pii_corpus.rs`.

#![allow(dead_code)]

use std::ops::Range;

/// One frame and what it holds.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub text: String,
    /// Planted personal data: kind name and byte range.
    pub labels: Vec<(&'static str, Range<usize>)>,
    /// Planted look-alikes that must not be found.
    pub negatives: Vec<Range<usize>>,
}

/// SplitMix64: small, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b"0123456789abcdef"[self.below(16)])).collect()
    }

    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n).map(|_| char::from(A[self.below(A.len())])).collect()
    }
}

const FIRST: &[&str] =
    &["jane", "john", "maria", "li", "ahmed", "sofia", "noah", "emma", "lucas", "olivia", "kenji", "priya"];
const LAST: &[&str] =
    &["doe", "smith", "garcia", "wei", "khan", "rossi", "brown", "muller", "silva", "tanaka", "patel", "o.neil"];
const DOMAINS: &[&str] =
    &["example.com", "mail.example.org", "example.co.uk", "corp.example.io", "example.de", "uni.example.edu"];
const WORDS: &[&str] = &[
    "hey",
    "team",
    "the",
    "meeting",
    "moved",
    "to",
    "tomorrow",
    "please",
    "check",
    "dashboard",
    "ship",
    "it",
    "looks",
    "good",
    "thanks",
    "lunch",
    "deploy",
    "finished",
    "room",
    "ticket",
    "update",
    "today",
    "later",
    "great",
    "news",
    "sure",
];

/// A valid value of `kind` as it would be written in text.
pub fn value(rng: &mut Rng, kind: &str) -> String {
    match kind {
        "email" => {
            let sep = rng.pick(&[".", "_", "", "+ws."]);
            format!("{}{sep}{}@{}", rng.pick(FIRST), rng.pick(LAST).replace('.', ""), rng.pick(DOMAINS))
        }
        "phone" => phone(rng),
        "credit_card" => card(rng),
        "us_ssn" => loop {
            let (a, g, s) = (100 + rng.below(800), 1 + rng.below(99), 1 + rng.below(9999));
            if a != 666 {
                break format!("{a:03}-{g:02}-{s:04}");
            }
        },
        "iban" => iban(rng),
        "ipv4" => format!("{}.{}.{}.{}", 1 + rng.below(223), rng.below(256), rng.below(256), 1 + rng.below(254)),
        "ipv6" => match rng.below(2) {
            0 => format!("2001:db8:{}:{}::{}", rng.hex(4), rng.hex(3), rng.hex(2)),
            _ => format!("fe80::{}:{}:{}:{}", rng.hex(4), rng.hex(4), rng.hex(4), rng.hex(4)),
        },
        "mac" => {
            let sep = rng.pick(&[":", "-"]);
            (0..6).map(|_| rng.hex(2).to_uppercase()).collect::<Vec<_>>().join(sep)
        }
        "jwt" => format!(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI{}In0.{}",
            rng.alnum(8),
            rng.alnum(43).replace(['A', 'B'], "_")
        ),
        "aws_access_key" => format!("{}{}", rng.pick(&["AKIA", "ASIA"]), rng.alnum(16).to_uppercase()),
        "github_token" => format!("{}{}", rng.pick(&["ghp_", "gho_", "ghs_"]), rng.alnum(36)),
        "slack_token" => format!("xoxb-{}-{}-{}", rng.digits(12), rng.digits(12), rng.alnum(24)),
        "stripe_key" => format!("{}{}", rng.pick(&["sk_live_", "sk_test_", "rk_live_"]), rng.alnum(24)),
        "url_credentials" => format!("{}:{}", rng.pick(FIRST), rng.alnum(10)),
        "private_key" => format!(
            "-----BEGIN RSA PRIVATE KEY-----\\nMIIE{}\\n{}\\n-----END RSA PRIVATE KEY-----",
            rng.alnum(60),
            rng.alnum(60)
        ),
        _ => unreachable!("no generator for {kind}"),
    }
}

fn nanp(rng: &mut Rng) -> (String, String, String) {
    (format!("{}{}", 2 + rng.below(8), rng.digits(2)), format!("{}{}", 2 + rng.below(8), rng.digits(2)), rng.digits(4))
}

fn phone(rng: &mut Rng) -> String {
    let (a, e, n) = nanp(rng);
    match rng.below(14) {
        0 => format!("({a}) {e}-{n}"),
        1 => format!("{a}-{e}-{n}"),
        2 => format!("{a}.{e}.{n}"),
        3 => format!("+1 {a} {e} {n}"),
        4 => format!("+1{a}{e}{n}"),
        5 => format!("+44 20 {} {}", rng.digits(4), rng.digits(4)),
        6 => format!("07{} {}", rng.digits(3), rng.digits(6)),
        7 => format!("+49 30 {}", rng.digits(8)),
        8 => format!("0{} {} {} {} {}", 1 + rng.below(9), rng.digits(2), rng.digits(2), rng.digits(2), rng.digits(2)),
        9 => format!("+34 6{} {} {} {}", rng.digits(2), rng.digits(2), rng.digits(2), rng.digits(2)),
        10 => format!("+91 9{} {}", rng.digits(4), rng.digits(5)),
        11 => format!("03-{}-{}", rng.digits(4), rng.digits(4)),
        12 => format!("04{} {} {}", rng.digits(2), rng.digits(3), rng.digits(3)),
        _ => format!("(11) 9{}-{}", rng.digits(4), rng.digits(4)),
    }
}

fn luhn_complete(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut d: Vec<u8> = prefix.bytes().map(|c| c - b'0').collect();
    while d.len() < len - 1 {
        d.push(rng.below(10) as u8);
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &v)| {
            let v = u32::from(v);
            if k % 2 == 0 { if v * 2 > 9 { v * 2 - 9 } else { v * 2 } } else { v }
        })
        .sum();
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|&v| char::from(b'0' + v)).collect()
}

fn card(rng: &mut Rng) -> String {
    let (prefix, len) =
        rng.pick(&[("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15), ("6011", 16), ("3530", 16)]);
    let digits = luhn_complete(rng, prefix, len);
    let sep = rng.pick(&["", " ", "-"]);
    if sep.is_empty() {
        return digits;
    }
    let groups: &[usize] = if len == 15 { &[4, 6, 5] } else { &[4, 4, 4, 4] };
    let mut out = Vec::new();
    let mut at = 0;
    for &g in groups {
        out.push(&digits[at..at + g]);
        at += g;
    }
    out.join(sep)
}

/// A 16-digit number with a brand prefix that fails Luhn.
pub fn bad_card(rng: &mut Rng) -> String {
    let good = luhn_complete(rng, "4", 16);
    let last = good.as_bytes()[15] - b'0';
    format!("{}{}", &good[..15], (last + 1 + rng.below(8) as u8) % 10)
}

fn iban(rng: &mut Rng) -> String {
    let (country, bban_len, letters) =
        rng.pick(&[("DE", 18, 0), ("GB", 18, 4), ("FR", 23, 0), ("NL", 14, 4), ("ES", 20, 0)]);
    let bban: String = format!(
        "{}{}",
        rng.alnum(letters).to_uppercase().replace(|c: char| c.is_ascii_digit(), "X"),
        rng.digits(bban_len - letters)
    );
    // Check digits: 98 - (bban + country + "00") mod 97.
    let rearranged = format!("{bban}{country}00");
    let mut rem = 0u32;
    for c in rearranged.bytes() {
        rem = if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else {
            (rem * 100 + u32::from(c - b'A' + 10)) % 97
        };
    }
    let compact = format!("{country}{:02}{bban}", 98 - rem);
    if rng.below(2) == 0 {
        return compact;
    }
    compact.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
}

/// A look-alike that must not be found.
pub fn negative(rng: &mut Rng) -> String {
    match rng.below(13) {
        0 => format!("{}", 1_600_000_000 + rng.below(200_000_000)),
        1 => format!("{}", 1_600_000_000_000u64 + rng.next() % 200_000_000_000),
        2 => format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.digits(3)
        ),
        3 => format!("{}-{}-4{}-a{}-{}", rng.hex(8), rng.hex(4), rng.hex(3), rng.hex(3), rng.hex(12)),
        4 => rng.hex(40),
        5 => format!("ORD-{}-{}", 2020 + rng.below(6), rng.digits(6)),
        6 => format!("${}.{}", 1 + rng.below(5000), rng.digits(2)),
        7 => format!("v{}.{}.{}", rng.below(20), rng.below(40), rng.below(100)),
        // Neither an SSN (area 000, 666, 9xx) nor an ITIN (9xx with an IRS
        // group: 50-65, 70-88, 90-92, 94-99): such groups move below 50.
        8 => {
            let (area, group) = (rng.pick(&["000", "666", "912"]), 1 + rng.below(98));
            let itin = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
            let group = if area == "912" && itin { group % 49 + 1 } else { group };
            format!("{area}-{group:02}-{:04}", 1 + rng.below(9998))
        }
        9 => bad_card(rng),
        10 => "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15"
            .to_owned(),
        11 => rng
            .pick(&["reset your password", "the email is on its way", "your token expired", "enter the code"])
            .to_owned(),
        _ => format!("{}.{}.{}", 1 + rng.below(9), rng.below(30), rng.below(9999)),
    }
}

/// Kinds that appear in free text, with the context words people use.
const TEXT_KINDS: &[(&str, &[&str])] = &[
    ("email", &["mail me at", "my email is", "contact", ""]),
    ("phone", &["call me on", "my number is", "text me at", ""]),
    ("credit_card", &["my card is", "use card", ""]),
    ("us_ssn", &["ssn", "my ssn is", ""]),
    ("iban", &["wire to", "IBAN", ""]),
    ("ipv4", &["from", "connect to", ""]),
    ("ipv6", &["host", ""]),
    ("mac", &["device", ""]),
    ("jwt", &["token", "Bearer", ""]),
    ("aws_access_key", &["aws key", ""]),
    ("github_token", &["gh token", ""]),
    ("slack_token", &["slack", ""]),
    ("stripe_key", &["stripe", ""]),
];

/// Builds one frame while recording where things land.
struct Builder {
    text: String,
    labels: Vec<(&'static str, Range<usize>)>,
    negatives: Vec<Range<usize>>,
}

impl Builder {
    fn raw(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn pii(&mut self, kind: &'static str, v: &str) -> &mut Self {
        let start = self.text.len();
        self.text.push_str(v);
        self.labels.push((kind, start..self.text.len()));
        self
    }

    fn neg(&mut self, v: &str) -> &mut Self {
        let start = self.text.len();
        self.text.push_str(v);
        self.negatives.push(start..self.text.len());
        self
    }

    fn words(&mut self, rng: &mut Rng, n: usize) -> &mut Self {
        for _ in 0..n {
            let w = rng.pick(WORDS);
            self.raw(w).raw(" ");
        }
        self
    }

    /// A sentence with 0-3 findings and maybe a negative; `escaped` writes
    /// `@` as `\u0040` and adds `\n`, as JSON encoders may.
    fn sentence(&mut self, rng: &mut Rng, findings: usize, escaped: bool) -> &mut Self {
        let n = 2 + rng.below(5);
        self.words(rng, n);
        if rng.below(3) == 0 {
            let neg = negative(rng);
            self.neg(&neg).raw(" ");
        }
        for _ in 0..findings {
            let (kind, contexts) = rng.pick(TEXT_KINDS);
            let mut context = rng.pick(contexts);
            let mut v = value(rng, kind);
            if kind == "us_ssn" && context.is_empty() {
                context = "ssn";
            }
            if kind == "phone" && context.is_empty() && rng.below(2) == 0 {
                // Bare national digits need context; keep the formatted ones.
                v = phone(rng);
            }
            self.raw(context).raw(if context.is_empty() { "" } else { " " });
            if escaped && kind == "email" {
                let v = v.replace('@', "\\u0040");
                self.pii(kind, &v);
            } else {
                self.pii(kind, &v);
            }
            self.raw(if escaped { "\\n" } else { " " });
            let n = 1 + rng.below(4);
            self.words(rng, n);
        }
        if rng.below(4) == 0 {
            self.raw("— merci, 谢谢 🙂 ");
        }
        self.text.truncate(self.text.trim_end().len());
        self
    }
}

/// `n` frames: about a quarter clean (with look-alikes), the rest with one
/// to three findings, across the traffic shapes.
pub fn corpus(n: usize, seed: u64) -> Vec<Labelled> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| frame(&mut rng)).collect()
}

fn frame(rng: &mut Rng) -> Labelled {
    let mut b = Builder { text: String::new(), labels: Vec::new(), negatives: Vec::new() };
    let findings = if rng.below(4) == 0 { 0 } else { 1 + rng.below(3) };
    let ts = 1_700_000_000_000u64 + rng.next() % 10_000_000_000;
    match rng.below(7) {
        0 | 1 => {
            b.raw(r#"{"type":"chat","room":"lobby","from":""#).raw(rng.pick(FIRST)).raw(r#"","text":""#);
            b.sentence(rng, findings, false);
            b.raw(&format!(r#"","ts":{ts}}}"#));
        }
        2 => {
            // A nested event with key-rule values (a number under a phone key).
            b.raw(&format!(
                r#"{{"event":"profile.updated","data":{{"user":{{"id":"{}","name":"{}"}}"#,
                rng.hex(24),
                rng.pick(FIRST)
            ));
            for k in 0..findings {
                match (k + rng.below(4)) % 4 {
                    0 => {
                        b.raw(r#","contact":{"email":""#);
                        let v = value(rng, "email");
                        b.pii("email", &v).raw(r#""}"#);
                    }
                    1 => {
                        let digits =
                            format!("{}{}{}", 2 + rng.below(8), rng.digits(2), rng.digits(7).replacen('0', "5", 1));
                        b.raw(r#","phone":"#).pii("phone", &format!("{}{}", &digits[..3], &digits[3..10])).raw("");
                    }
                    2 => {
                        let pw = rng.alnum(12);
                        b.raw(r#","auth":{"password":""#).pii("password", &pw).raw(r#"","remember":true}"#);
                    }
                    _ => {
                        b.raw(r#","note":""#);
                        b.sentence(rng, 1, false);
                        b.raw("\"");
                    }
                }
            }
            b.raw(r#"},"meta":{"ts":""#)
                .neg(&negative(rng))
                .raw(r#"","version":"2.3.1","trace":""#)
                .neg(&rng.hex(32))
                .raw(r#""}}"#);
        }
        3 => {
            b.raw(r#"42["message",{"text":""#);
            b.sentence(rng, findings, false);
            b.raw(r#"","at":"#).raw(&ts.to_string()).raw("}]");
        }
        4 => {
            // A log line (plain text).
            b.raw(&format!("2024-03-05T10:22:{:02}Z INFO req={} ", rng.below(60), rng.hex(16)));
            b.raw("msg=\"");
            b.sentence(rng, findings, false);
            b.raw("\" latency_ms=").raw(&rng.below(900).to_string());
        }
        5 => {
            b.raw(r#"{"type":"notification","body":""#);
            b.sentence(rng, findings, true);
            b.raw(r#""}"#);
        }
        _ => {
            // Plain text chat, sometimes with a URL with credentials.
            b.sentence(rng, findings.saturating_sub(1), false);
            if findings > 0 {
                let v = value(rng, "url_credentials");
                b.raw(" see https://").pii("url_credentials", &v).raw("@db.example.com/app");
            }
        }
    }
    Labelled { text: b.text, labels: b.labels, negatives: b.negatives }
}
