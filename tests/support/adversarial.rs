//! Periodic adversarial inputs for the PII scanner: every ASCII
//! punctuation character repeated, and short patterns built from what the
//! detectors look for (key separators, `@`, digits with each separator,
//! token prefixes, PEM headers, escapes, base64-like runs, Unicode that is
//! folded). Shared by `tests/pii_linear.rs` and `benches/pii.rs`.

#![allow(dead_code)]

/// The patterns, each repeated to fill a frame.
pub fn patterns() -> Vec<String> {
    let mut out: Vec<String> =
        (b'!'..=b'~').filter(u8::is_ascii_punctuation).map(|c| char::from(c).to_string()).collect();
    let built = [
        "ab:",
        "1:",
        "a:",
        ":a",
        "::1",
        "fe80::",
        "00:1A:",
        "1a-",
        "xoxb-",
        "xoxb-1",
        "ghp_",
        "sk_live_",
        "AKIA",
        "eyJ",
        "eyJ-",
        "eyJ.",
        "eyJa.b.",
        "a@",
        "a.@",
        "@a.",
        "a@b.",
        "%40",
        "a%40",
        "1 ",
        "1-",
        "1.",
        "1,",
        "1/",
        "+1 ",
        "(1)",
        "(1) ",
        "11 ",
        "411 ",
        "1-2 ",
        "12.",
        "ip-10-",
        "DE89 ",
        "GB82",
        "token=",
        "token:",
        "password: ",
        "a=",
        "a://",
        "http://a:b@",
        "-----BEGIN ",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nAB\n",
        "\\u0040",
        "\\u",
        "\\",
        "\\\\u0040",
        "\\ud83d",
        "QUJD+/==",
        "aGVsbG8",
        "PASS ",
        "a1 LOGIN ",
        "\nPASS x",
        "call 4",
        "ssn 1",
        "tel:",
        "cc#4",
        "_1_",
        "*1*",
        "٤",
        "\u{200b}1",
        "1\u{a0}",
        "＠",
        "ä@",
        "Bearer ",
        "$email: ",
        "{{",
        "\"a\":\"",
        "[\"",
        "{\"password\":",
        "42[",
        "97:42[",
        // Identifiers with letters, wallets, and named numbers: each shape
        // starts its detector and fails at its last check.
        "1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLx ",
        "0xaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaA ",
        "bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq ",
        "AB123456",
        "AB 12 34 56 ",
        "ABCPE1234",
        "RSSMRA85T10A562",
        "S1234567",
        "SWIFT ABCDEFGH ",
        "passport X",
        "131052-",
        "11.222.",
        "900101-1",
        "RRN 1",
        "TFN 1",
        "acct 1",
    ];
    out.extend(built.iter().map(|p| (*p).to_owned()));
    out
}

/// `pattern` repeated to `len` bytes (at a character boundary).
pub fn repeat(pattern: &str, len: usize) -> String {
    let mut text = pattern.repeat(len / pattern.len() + 1);
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Ordinary English prose of `len` bytes, the baseline.
pub fn prose(len: usize) -> String {
    repeat(
        "The meeting moved to Thursday, so please check the dashboard before lunch and tell the team \
         whether the deploy finished. Thanks again for the update on the ticket; it looks good to me. ",
        len,
    )
}
