//! Detector tables (positives and hard negatives), JSON handling, actions
//! and the layer's answers, all through a real `Scrubber`.

use super::*;
use crate::message::Direction;

fn scrubber() -> Scrubber {
    Scrubber::builder().build().unwrap()
}

/// The findings in `text` as `(kind, matched text)`.
fn found(s: &Scrubber, text: &str) -> Vec<(&'static str, String)> {
    s.find(text).into_iter().map(|f| (f.kind(), text[f.range()].to_owned())).collect()
}

/// Each case: the text and what must be found in it, exactly.
macro_rules! cases {
    ($($text:expr => [$(($kind:expr, $value:expr)),* $(,)?]),* $(,)?) => {{
        let s = scrubber();
        $(
            let want: Vec<(&str, String)> = vec![$(($kind, $value.to_string())),*];
            assert_eq!(found(&s, $text), want, "in {:?}", $text);
        )*
    }};
}

#[test]
fn email() {
    cases! {
        "write to jane.doe+ws@mail.example.co.uk today" => [("email", "jane.doe+ws@mail.example.co.uk")],
        "(bob_smith@example.org)." => [("email", "bob_smith@example.org")],
        "J.O'Neil <jon@exa-mple.io>" => [("email", "jon@exa-mple.io")],
        "über: 名前 li.wei@example.cn ok" => [("email", "li.wei@example.cn")],
        "@alice said hi" => [],
        "user@localhost" => [],
        "npm i left-pad@1.3.0" => [],
        "an @ sign and a.b@c" => [],
        "email me later" => [],
    }
}

#[test]
fn phone() {
    cases! {
        "call (415) 555-0132 now" => [("phone", "(415) 555-0132")],
        "415-555-0132" => [("phone", "415-555-0132")],
        "415.555.0132" => [("phone", "415.555.0132")],
        "1-415-555-0132" => [("phone", "1-415-555-0132")],
        "+1 415 555 0132" => [("phone", "+1 415 555 0132")],
        "uk +44 20 7946 0958" => [("phone", "+44 20 7946 0958")],
        "uk +44 (0)20 7946 0958" => [("phone", "+44 (0)20 7946 0958")],
        "uk 020 7946 0958 or 07700 900123" => [("phone", "020 7946 0958"), ("phone", "07700 900123")],
        "de +49 30 12345678, 030 12345678" => [("phone", "+49 30 12345678"), ("phone", "030 12345678")],
        "fr +33 1 23 45 67 89 / 01 23 45 67 89" => [("phone", "+33 1 23 45 67 89"), ("phone", "01 23 45 67 89")],
        "es +34 612 34 56 78, 912 345 678" => [("phone", "+34 612 34 56 78"), ("phone", "912 345 678")],
        "nl 06 12345678" => [("phone", "06 12345678")],
        "ie 087 123 4567" => [("phone", "087 123 4567")],
        "in +91 98765 43210 / 98765 43210" => [("phone", "+91 98765 43210"), ("phone", "98765 43210")],
        "jp 03-1234-5678 090-1234-5678" => [("phone", "03-1234-5678"), ("phone", "090-1234-5678")],
        "au 0412 345 678" => [("phone", "0412 345 678")],
        "br (11) 91234-5678" => [("phone", "(11) 91234-5678")],
        "E.164 +14155550132" => [("phone", "+14155550132")],
        "call me on 4155550132" => [("phone", "4155550132")],
        "room 12 415-555-0132" => [("phone", "415-555-0132")],
        // Bare runs without context, invalid NANP, wrong lengths.
        "id 4155550132" => [],
        "(123) 456-7890" => [],
        "+1 123 555 0132" => [],
        "+33 1 23 45" => [],
        "0 1 2 3 4 5 6 7 8 9" => [],
    }
}

#[test]
fn credit_card() {
    cases! {
        "card 4111 1111 1111 1111 exp" => [("credit_card", "4111 1111 1111 1111")],
        "4111-1111-1111-1111" => [("credit_card", "4111-1111-1111-1111")],
        "mc 5555555555554444" => [("credit_card", "5555555555554444")],
        "mc2 2223003122003222" => [("credit_card", "2223003122003222")],
        "amex 3782 822463 10005" => [("credit_card", "3782 822463 10005")],
        "disc 6011111111111117" => [("credit_card", "6011111111111117")],
        "jcb 3530111333300000" => [("credit_card", "3530111333300000")],
        "diners 3056 9309 0259 04" => [("credit_card", "3056 9309 0259 04")],
        // Luhn failures, no brand, mixed separators, inside identifiers.
        "4111 1111 1111 1112" => [],
        "1234567812345678" => [],
        "9111111111111111" => [],
        "4111 1111-1111 1111" => [],
        "order ORD-4111111111111111" => [],
        "ts 1700000000000" => [],
    }
}

#[test]
fn us_ssn() {
    cases! {
        "ssn 123-45-6789" => [("us_ssn", "123-45-6789")],
        "SSN: 078 05 1120" => [("us_ssn", "078 05 1120")],
        "my social security number is 123456789" => [("us_ssn", "123456789")],
        "000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000" => [],
        "123456789" => [],
    }
    // After an SSN key, the number detectors decide.
    cases! {
        "ssn=123-45-6789&x" => [("us_ssn", "123-45-6789")],
        "phone=4155550132" => [("phone", "4155550132")],
        "ssn=000-12-3456" => [],
    }
}

#[test]
fn iban() {
    cases! {
        "pay DE89370400440532013000 now" => [("iban", "DE89370400440532013000")],
        "GB82 WEST 1234 5698 7654 32." => [("iban", "GB82 WEST 1234 5698 7654 32")],
        "NL91ABNA0417164300" => [("iban", "NL91ABNA0417164300")],
        "FR14 2004 1010 0505 0001 3M02 606" => [("iban", "FR14 2004 1010 0505 0001 3M02 606")],
        "DE89370400440532013001" => [],
        "DE8937040044053201300" => [],
        "XX89370400440532013000" => [],
    }
}

#[test]
fn addresses() {
    cases! {
        "from 192.168.1.20:443" => [("ipv4", "192.168.1.20")],
        "peer 8.8.8.8." => [("ipv4", "8.8.8.8")],
        "v6 2001:db8:85a3::8a2e:370:7334 and fe80::1ff:fe23:4567:890a" =>
            [("ipv6", "2001:db8:85a3::8a2e:370:7334"), ("ipv6", "fe80::1ff:fe23:4567:890a")],
        "mapped ::ffff:192.0.2.128" => [("ipv6", "::ffff:192.0.2.128")],
        "mac 00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5e, 001a.2b3c.4d5e" =>
            [("mac", "00:1A:2B:3C:4D:5E"), ("mac", "00-1a-2b-3c-4d-5e"), ("mac", "001a.2b3c.4d5e")],
        "version 1.2.3, 256.1.1.1, 01.2.3.4, v1.2.3.4" => [],
        "at 10:22:01, std::vector, ::1, a::b" => [],
    }
}

#[test]
fn secrets() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    cases! {
        &format!("Bearer {jwt}") => [("jwt", jwt)],
        "key AKIAIOSFODNN7EXAMPLE ok" => [("aws_access_key", "AKIAIOSFODNN7EXAMPLE")],
        "ASIAY34FZKBOKMUTVV7A" => [("aws_access_key", "ASIAY34FZKBOKMUTVV7A")],
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a" => [("github_token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a")],
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz" => [("github_token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz")],
        "xoxb-123456789012-abcdefghijkl" => [("slack_token", "xoxb-123456789012-abcdefghijkl")],
        "hook https://hooks.slack.com/services/T000/B000/XXXXXXXX done" => [("slack_token", "https://hooks.slack.com/services/T000/B000/XXXXXXXX")],
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc" => [("stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")],
        "rk_test_4eC39HqLyjWDarjtT1zdp7dc" => [("stripe_key", "rk_test_4eC39HqLyjWDarjtT1zdp7dc")],
        "db postgres://admin:s3cr3t@db.internal:5432/app" => [("url_credentials", "admin:s3cr3t")],
        // Near misses.
        "AKIA-docs, ghp_short, xoxb-1, sk_live_, pk_live_4eC39HqLyjWDarjtT1zdp7dc" => [],
        "eyJhbGciOiJIUzI1NiJ9 only one segment, eyJub3QiOiJqd3QifQ.eyJ4IjoxfQ.sig" => [],
        "https://example.com/a:b@c and ftp://anonymous@ftp.example.org" => [("email", "anonymous@ftp.example.org")],
    }
}

#[test]
fn private_keys_complete_truncated_and_escaped() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
    cases! {
        &format!("key:\n{pem}\nthanks") => [("private_key", pem)],
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" => [("private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC")],
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----" => [],
    }
    // Inside a JSON string the newlines are escapes; the range covers them.
    let frame = r#"{"k":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----"}"#;
    let f = scrubber().find(frame);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind(), "private_key");
    assert_eq!(&frame[f[0].range()], &frame[6..frame.len() - 2]);
}

#[test]
fn hard_negatives_stay_untouched() {
    let s = scrubber();
    for text in [
        "ts 1700000000 and 1700000000123",
        "at 2024-03-05T10:22:01.123Z and 2024-03-05 10:22:01",
        "on 05/03/2024, 03-05-2024 10:30",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "sha d41d8cd98f00b204e9800998ecf8427e and 5d41402abc4b2a76b9719d911017c592",
        "order ORD-2024-000123, #100234, INV-88231",
        "price $1,299.99 or €1299 or 12.50 EUR",
        "version 2.14.1 and 10.0.19045",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.6099.109",
        "please enter your email and password, then your token",
        "a 16-digit number 1234 5678 9012 3456",
    ] {
        assert_eq!(found(&s, text), vec![], "in {text:?}");
        assert_eq!(s.scrub(text, Direction::Outbound).text(), text);
    }
}
