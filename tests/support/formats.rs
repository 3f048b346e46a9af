//! Values placed in every context people and systems write them in, for
//! the natural-format tests and the ZAP scan-rule test.
//!
//! Positives come from published sources, not from the detectors: card
//! brands' and payment processors' published test numbers, NANP's
//! fictional 555-01xx range, Ofcom's drama numbers (020 7946 0xxx, 07700
//! 900xxx), the IBAN registry's examples, the SSA's example SSN, RFC 2606
//! domains and RFC 1918 addresses.

#![allow(dead_code)]

/// `(kind, value)`: each must be found, whole, in every context.
pub const POSITIVES: &[(&str, &str)] = &[
    ("credit_card", "4111 1111 1111 1111"),
    ("credit_card", "4111111111111111"),
    ("credit_card", "5555-5555-5555-4444"),
    ("credit_card", "378282246310005"),
    ("credit_card", "3782 822463 10005"),
    ("credit_card", "6011 1111 1111 1117"),
    ("credit_card", "3530111333300000"),
    ("credit_card", "4012888888881881"),
    ("phone", "(415) 555-0132"),
    ("phone", "415-555-0132"),
    ("phone", "+1 415 555 0132"),
    ("phone", "+14155550132"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "020 7946 0958"),
    ("phone", "07700 900123"),
    ("phone", "+49 30 12345678"),
    ("phone", "+33 1 23 45 67 89"),
    ("us_ssn", "078-05-1120"),
    ("us_ssn", "219-09-9999"),
    ("iban", "DE89370400440532013000"),
    ("iban", "GB82 WEST 1234 5698 7654 32"),
    ("email", "jane.doe@example.com"),
    ("email", "li.wei+ws@mail.example.org"),
    ("ipv4", "10.0.0.5"),
    ("ipv4", "192.168.1.20"),
    ("ipv4", "172.16.254.1"),
    // HMRC's prefix rules, the Agenzia delle Entrate's worked example, DVV's
    // example HETU, ICA's check letters, the Income Tax Department's format
    // example, the Receita Federal's example CNPJ, BIP 173 and BIP 350
    // vectors, the genesis block's address and an EIP-55 vector.
    ("uk_nino", "AB 12 34 56 C"),
    ("uk_nino", "AB123456C"),
    ("it_fiscal_code", "RSSMRA85T10A562S"),
    ("fi_hetu", "131052-308T"),
    ("sg_nric", "S1234567D"),
    ("in_pan", "AAAPZ1234C"),
    ("kr_rrn", "900101-1234568"),
    ("br_cnpj", "11.222.333/0001-81"),
    ("crypto_address", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    ("crypto_address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
    ("crypto_address", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
    ("crypto_address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
];

/// Look-alikes that must not be found in the same contexts.
pub const NEGATIVES: &[&str] = &[
    "4111 1111 1111 1112",
    "1234567812345678",
    "ORD-2024-000123",
    "1700000000123",
    "2024-03-05",
    "10:22:01",
    "$1,299.99",
    "2.14.1",
    "000-12-3456",
    "666-12-3456",
    "550e8400-e29b-41d4-a716-446655440000",
    "d41d8cd98f00b204e9800998ecf8427e",
    "DE89370400440532013001",
    "user@localhost",
    "256.1.1.1",
    "QQ123456C",
    "AB123456E",
    "RSSMRA85T10A562T",
    "131052-308U",
    "S1234567A",
    "AAADZ1234C",
    "900101-1234567",
    "11.222.333/0001-82",
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
    "DEUTDEFF500",
    "123456782",
];

/// Contexts as `(name, before, after)`: the value goes between.
pub const CONTEXTS: &[(&str, &str, &str)] = &[
    ("bare", "", ""),
    ("sentence", "here it is: ", ", thanks"),
    ("tel:", "tel:", ""),
    ("phone:", "phone:", " "),
    ("card:", "card:", ""),
    ("cc#", "cc#", ""),
    ("label=", "value=", "&x=1"),
    ("label/", "id/", "/edit"),
    ("label_", "id_", ""),
    ("csv", "a,", ",b"),
    ("expiry", "", "/12/25"),
    ("ref", "ref-", "-01"),
    ("markdown _", "see _", "_ ok"),
    ("markdown *", "see *", "* ok"),
    ("markdown **", "**", "**"),
    ("backticks", "`", "`"),
    ("parentheses", "(", ")"),
    ("quotes", "\"", "\""),
    ("single quotes", "'", "'"),
    ("url path", "http://x.example/", "/path"),
    ("line end", "", "\n"),
    ("tab", "\t", "\t"),
];

/// A way of writing a value: its name and the transform.
pub type Rendering = (&'static str, fn(&str) -> String);

/// Ways of writing a value that render the same.
pub fn renderings() -> Vec<Rendering> {
    vec![
        ("as is", |v| v.to_owned()),
        ("no-break spaces", |v| v.replace(' ', "\u{a0}")),
        ("narrow no-break spaces", |v| v.replace(' ', "\u{202f}")),
        ("thin spaces", |v| v.replace(' ', "\u{2009}")),
        ("zero-width spaces inside", |v| zero_width(v, '\u{200b}')),
        ("soft hyphens inside", |v| zero_width(v, '\u{ad}')),
        ("full-width digits", |v| digits(v, 0xFF10)),
        ("Arabic-Indic digits", |v| digits(v, 0x660)),
        ("Devanagari digits", |v| digits(v, 0x966)),
    ]
}

/// `c` after every fourth character (inside a candidate).
fn zero_width(v: &str, c: char) -> String {
    let mut out = String::new();
    for (k, ch) in v.chars().enumerate() {
        if k > 0 && k % 4 == 0 {
            out.push(c);
        }
        out.push(ch);
    }
    out
}

/// ASCII digits written in the script whose zero is `zero`.
fn digits(v: &str, zero: u32) -> String {
    v.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(zero + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// Whether `(kind, value)` makes sense in the context `name` (a label
/// for another kind would be misleading, not wrong, so all are kept,
/// except where the context changes what the text is).
pub fn applies(kind: &str, value: &str, context: &str) -> bool {
    match context {
        // A URL path segment with dots or `@` is a host or a user.
        "url path" => !matches!(kind, "email"),
        // `a,<email>,b` is fine; digits after a comma in `a,` are not joined.
        // A card's expiry follows a card.
        "expiry" => kind == "credit_card",
        "ref" => !matches!(kind, "email" | "iban") && !value.contains('.'),
        "label_" => kind != "email",
        _ => true,
    }
}
