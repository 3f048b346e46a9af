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
        // Published test numbers, one per brand.
        "4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881" =>
            [("credit_card", "4012888888881881"), ("credit_card", "4012-8888-8888-1881"), ("credit_card", "4012 8888 8888 1881")],
        "uatp 122000000000003" => [("credit_card", "122000000000003")],
        "amex 371449635398431, dankort 5019717010103742" => [("credit_card", "371449635398431"), ("credit_card", "5019717010103742")],
        "6011000400000000 3528000700000000 6759649826438453" =>
            [("credit_card", "6011000400000000"), ("credit_card", "3528000700000000"), ("credit_card", "6759649826438453")],
        "4917300800000000 4484070000000000" => [("credit_card", "4917300800000000"), ("credit_card", "4484070000000000")],
        "my credit card number is 4012-8888-8888-1882, diners 36168002586008" => [],
        // Luhn failures, no brand, mixed separators, inside identifiers.
        "4111 1111 1111 1112" => [],
        "1234567812345678" => [],
        "9111111111111111" => [],
        "4111 1111-1111 1111" => [],
        // Glued to a label a card is still a card (`card:`, `cc#`, `ref-`).
        "order ORD-4111111111111111" => [("credit_card", "4111111111111111")],
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

mod json_frames {
    use super::*;

    #[test]
    fn uuids_and_timestamps_are_passed_over_without_hiding_what_follows() {
        cases! {
            r#"{"id":"5f0c1e2a-8b7d-4c3e-9a1f-000000000042","at":"2026-11-22T10:15:00Z"}"# => [],
            "2026-11-22T10:15:00.123+01:00 call 415-555-0132" => [("phone", "415-555-0132")],
            "5F0C1E2A-8B7D-4C3E-9A1F-000000000042 jane@example.com" => [("email", "jane@example.com")],
            // Not a UUID or a timestamp after all: read as usual.
            "2026-11-22T10:15:00Zjane@example.com" => [("email", "00Zjane@example.com")],
            "ip-10-0-56-78" => [("ipv4", "10-0-56-78")],
        }
    }

    #[test]
    fn nesting_deeper_than_the_walks_inline_stack_is_walked_the_same() {
        // The walk keeps 16 levels inline and the rest on the heap: a key's
        // kind is inherited across both, and closing brackets unwind both.
        for depth in [15, 16, 17, 40] {
            let open = r#"{"a":["#.repeat(depth);
            let close = "]}".repeat(depth);
            let frame = format!(r#"{{"password":{open}"hunter22"{close},"text":"mail jane@example.com"}}"#);
            assert_eq!(
                found(&scrubber(), &frame),
                [("password", "hunter22".to_owned()), ("email", "jane@example.com".to_owned())],
                "depth {depth}"
            );
            // One bracket short: malformed, read as text (no key rules).
            let broken = &frame[..frame.len() - 1];
            assert!(found(&scrubber(), broken).iter().all(|(k, _)| *k != "password"), "depth {depth}");
        }
    }

    #[test]
    fn the_shortest_findings_are_still_read_in_json_strings() {
        // Strings shorter than six bytes are not read; these are six.
        cases! {
            r#"{"a":"a@b.co","b":"1:2::3","c":"a@b.c"}"# => [("email", "a@b.co"), ("ipv6", "1:2::3")],
        }
    }

    #[test]
    fn escaped_text_is_decoded_and_ranges_cover_the_escapes() {
        let frame = r#"{"text":"mail jane\u0040example.com\nor call 415-555-0132"}"#;
        let f = scrubber().find(frame);
        let kinds: Vec<(&str, &str)> = f.iter().map(|f| (f.kind(), &frame[f.range()])).collect();
        assert_eq!(kinds, [("email", r"jane\u0040example.com"), ("phone", "415-555-0132")]);
        let out = scrubber().scrub(frame, Direction::Outbound);
        assert_eq!(out.text(), r#"{"text":"mail [EMAIL]\nor call [PHONE]"}"#);
        // A surrogate pair before the finding shifts nothing.
        let frame = r#"{"t":"\ud83d\ude00 jane@example.com"}"#;
        assert_eq!(&frame[scrubber().find(frame)[0].range()], "jane@example.com");
    }

    #[test]
    fn socket_io_frames_are_scanned_after_their_prefix() {
        for frame in [r#"42["chat",{"text":"jane@example.com"}]"#, r#"42/admin,17["chat",{"text":"jane@example.com"}]"#]
        {
            let out = scrubber().scrub(frame, Direction::Outbound);
            assert_eq!(out.text(), frame.replace("jane@example.com", "[EMAIL]"));
        }
    }

    #[test]
    fn values_under_sensitive_keys_are_findings_whatever_their_shape() {
        let frame = r#"{"user":{"phone":4155550132,"password":"hunter2","email":"not-an-address","dob":"1990-01-31","token_count":3,"emailVerified":true},"auth":{"secret":{"a":"x","b":[1,"y"]}}}"#;
        let found: Vec<(&str, &str)> = scrubber().find(frame).iter().map(|f| (f.kind(), &frame[f.range()])).collect();
        assert_eq!(
            found,
            [
                ("phone", "4155550132"),
                ("password", "hunter2"),
                ("email", "not-an-address"),
                ("date_of_birth", "1990-01-31"),
                ("password", "x"),
                ("password", "1"),
                ("password", "y"),
            ]
        );
        // A number becomes a string; the JSON stays valid.
        let out = scrubber().scrub(frame, Direction::Outbound);
        let value: serde_json::Value = serde_json::from_str(out.text()).unwrap();
        assert_eq!(value["user"]["phone"], "[PHONE]");
        assert_eq!(value["user"]["token_count"], 3);
        assert_eq!(value["auth"]["secret"]["b"][0], "[PASSWORD]");
    }

    #[test]
    fn keys_are_scanned_only_when_asked_and_malformed_json_is_scanned_as_text() {
        let frame = r#"{"jane@example.com":"hi"}"#;
        assert!(scrubber().find(frame).is_empty());
        let with_keys = Scrubber::builder().scan_keys(true).build().unwrap();
        assert_eq!(found(&with_keys, frame), [("email", "jane@example.com".to_owned())]);
        let broken = r#"{"text":"jane@example.com""#;
        assert_eq!(found(&scrubber(), broken), [("email", "jane@example.com".to_owned())]);
        let plain = "42 is the answer, jane@example.com";
        assert_eq!(found(&scrubber(), plain), [("email", "jane@example.com".to_owned())]);
    }

    #[test]
    fn untouched_parts_keep_their_formatting() {
        let frame = "{\n  \"b\": 1.50e3,\n  \"a\" : [ \"x\\/y\", \"jane@example.com\" ]\n}";
        let out = scrubber().scrub(frame, Direction::Outbound);
        assert_eq!(out.text(), frame.replace("jane@example.com", "[EMAIL]"));
    }
}

mod actions {
    use super::*;

    fn with(action: Action) -> Scrubber {
        Scrubber::builder().default_action(action).hmac_key(*b"test key").build().unwrap()
    }

    #[test]
    fn mask_keeps_the_documented_parts() {
        let s = with(Action::Mask);
        let cases = [
            ("jane.doe@example.com", "j***@example.com"),
            ("4111 1111 1111 1111", "**** **** **** 1111"),
            ("amex 378282246310005", "amex ***********0005"),
            // A frame that is a bare JSON number stays valid JSON.
            ("378282246310005", "\"***********0005\""),
            ("(415) 555-0132", "(***) ***-**32"),
            ("123-45-6789", "***-**-6789"),
            ("DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00"),
            ("AKIAIOSFODNN7EXAMPLE", "********"),
        ];
        for (value, masked) in cases {
            assert_eq!(s.scrub(value, Direction::Outbound).text(), masked, "{value}");
        }
    }

    #[test]
    fn hash_correlates_equal_values_and_depends_on_the_key() {
        let s = with(Action::Hash);
        let a = s.scrub("jane@example.com", Direction::Outbound).text().to_owned();
        assert!(a.starts_with("[EMAIL:") && a.len() == "[EMAIL:]".len() + 12, "{a}");
        assert_eq!(s.scrub("jane@example.com", Direction::Outbound).text(), a);
        assert_ne!(s.scrub("john@example.com", Direction::Outbound).text(), a);
        let other_key = Scrubber::builder().default_action(Action::Hash).hmac_key(*b"other").build().unwrap();
        assert_ne!(other_key.scrub("jane@example.com", Direction::Outbound).text(), a);
        assert!(matches!(
            Scrubber::builder().action(Kind::Email, Action::Hash).build(),
            Err(crate::ConfigError::Pii { .. })
        ));
    }

    #[test]
    fn remove_takes_the_member_and_one_comma() {
        let s = with(Action::Remove);
        let cases = [
            (r#"{"email":"a@example.com","x":1}"#, r#"{"x":1}"#),
            (r#"{"x":1, "email":"a@example.com"}"#, r#"{"x":1}"#),
            (r#"{"x":1,"email":"a@example.com","y":2}"#, r#"{"x":1,"y":2}"#),
            (r#"{"email":"a@example.com"}"#, r#"{}"#),
            (r#"{"x":0,"a":"a@example.com","b":"b@example.com"}"#, r#"{"x":0}"#),
            (r#"{"a":"a@example.com","b":"b@example.com","c":3}"#, r#"{"c":3}"#),
            (r#"["a@example.com", 1, "b@example.com"]"#, r#"[ 1]"#),
            ("plain a@example.com", "plain [EMAIL]"),
        ];
        for (frame, want) in cases {
            let out = s.scrub(frame, Direction::Outbound);
            assert_eq!(out.text(), want, "{frame}");
            if frame.starts_with(['{', '[']) {
                serde_json::from_str::<serde_json::Value>(out.text()).unwrap();
            }
        }
    }

    #[test]
    fn close_beats_drop_beats_rewriting_and_report_only_changes_nothing() {
        let s = Scrubber::builder()
            .action(Kind::Email, Action::Mask)
            .action(Kind::CreditCard, Action::Drop)
            .action(Kind::AwsAccessKey, Action::Close)
            .build()
            .unwrap();
        let text = "a@example.com 4111111111111111 AKIAIOSFODNN7EXAMPLE";
        assert_eq!(s.scrub(text, Direction::Inbound).blocked(), Some(Action::Close));
        assert_eq!(s.scrub(&text[..30], Direction::Inbound).blocked(), Some(Action::Drop));
        let masked = s.scrub(&text[..13], Direction::Inbound);
        assert_eq!((masked.blocked(), masked.text()), (None, "a***@example.com"));
        let report = Scrubber::builder().default_action(Action::Close).report_only(true).build().unwrap();
        let out = report.scrub(text, Direction::Inbound);
        assert_eq!((out.blocked(), out.text(), out.findings().len()), (None, text, 3));
        assert!(!out.is_rewritten());
    }

    #[test]
    fn directions_have_their_own_actions() {
        let s = Scrubber::builder().inbound_action(Kind::Email, Action::Report).build().unwrap();
        assert_eq!(s.scrub("a@example.com", Direction::Inbound).text(), "a@example.com");
        assert_eq!(s.scrub("a@example.com", Direction::Outbound).text(), "[EMAIL]");
    }

    #[test]
    fn custom_detectors_placeholders_and_disabled_kinds() {
        let s = Scrubber::builder()
            .detector(RegexDetector::new("employee_id", r"\bEMP-\d{6}\b").unwrap())
            .placeholder("employee_id", "<employee>")
            .disable(Kind::Ipv4)
            .sensitive_key("badge", "employee_id")
            .build()
            .unwrap();
        let out = s.scrub(r#"{"t":"EMP-123456 at 10.0.0.1","badge":"B7"}"#, Direction::Outbound);
        assert_eq!(out.text(), r#"{"t":"<employee> at 10.0.0.1","badge":"<employee>"}"#);
        let err = |b: ScrubberBuilder| matches!(b.build(), Err(crate::ConfigError::Pii { .. }));
        assert!(err(Scrubber::builder().action("nope", Action::Mask)));
        assert!(err(Scrubber::builder().exempt(Kind::Email, "pii:email:read")));
        assert!(err(Scrubber::builder().hash_len(4)));
        assert!(err(Scrubber::builder().sensitive_key("--", Kind::Email)));
        assert!(RegexDetector::new("bad", "(").is_err());
    }

    #[test]
    fn the_builder_deserializes_from_config() {
        let b: ScrubberBuilder = serde_json::from_str(
            r#"{"actions":{"email":"mask"},"outbound_actions":{"phone":"drop"},"disabled":["ipv4"],"report_only":false}"#,
        )
        .unwrap();
        let s = b.build().unwrap();
        assert_eq!(s.scrub("a@example.com 10.0.0.1", Direction::Inbound).text(), "a***@example.com 10.0.0.1");
        assert_eq!(s.scrub("call 415-555-0132", Direction::Outbound).blocked(), Some(Action::Drop));
        assert!(serde_json::from_str::<ScrubberBuilder>(r#"{"nope":1}"#).is_err());
    }
}

mod layer {
    use super::*;
    use crate::guard::{Guard, Verdict};
    use crate::message::Message;
    use crate::rbac::Policy;
    use crate::session::{Principal, Session};

    fn guard(scrubber: Scrubber) -> Guard {
        Guard::builder().without_auth().scrub_pii(scrubber).build().unwrap()
    }

    #[test]
    fn inbound_drop_replies_with_the_types_and_outbound_drop_is_silent() {
        let g = guard(Scrubber::builder().default_action(Action::Drop).build().unwrap());
        let mut session = g.new_session(None);
        match g.inbound(Message::text("a@example.com and 415-555-0132 and b@example.com"), &mut session) {
            Verdict::Drop { reply: Some(Message::Text(reply)) } => {
                let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
                assert_eq!(v["code"], "pii_rejected");
                assert_eq!(v["types"], serde_json::json!(["email", "phone"]));
                assert!(!reply.contains("example.com"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(g.outbound(Message::text("a@example.com"), &mut session), Verdict::Drop { reply: None }));
        let counts = session.extensions().get::<Counts>().unwrap();
        assert_eq!((counts.get("email"), counts.get("phone"), counts.total()), (3, 1, 4));
    }

    #[test]
    fn close_is_1008_and_clean_messages_pass_byte_for_byte() {
        let g = guard(Scrubber::builder().default_action(Action::Close).build().unwrap());
        let mut session = g.new_session(None);
        let clean = r#"{"type":"chat", "text":"see you at 10:30"}"#;
        assert_eq!(g.inbound(Message::text(clean), &mut session), Verdict::Deliver(Message::text(clean)));
        match g.inbound(Message::text("4111 1111 1111 1111"), &mut session) {
            Verdict::Close { frame, .. } => {
                assert_eq!(frame.code.get(), 1008);
                assert_eq!(frame.reason.as_str(), "personal data not allowed");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_permission_exempts_a_kind_outbound_only() {
        let rbac = Policy::new().role("admin", ["pii:email:read"]).role("user", ["chat"]).build().unwrap();
        let s = Scrubber::builder()
            .action(Kind::Email, Action::Mask)
            .exempt(Kind::Email, "pii:email:read")
            .rbac(rbac)
            .build()
            .unwrap();
        let g = guard(s);
        let as_role = |role: &str| {
            let mut session: Session = g.new_session(None);
            session.set_principal(Some(Principal::new(role).with_roles([role]))).unwrap();
            session
        };
        let text = r#"{"text":"jane@example.com 415-555-0132"}"#;
        let delivered = |v: Verdict| match v {
            Verdict::Deliver(Message::Text(t)) => t.to_string(),
            other => panic!("{other:?}"),
        };
        let admin = delivered(g.outbound(Message::text(text), &mut as_role("admin")));
        assert_eq!(admin, r#"{"text":"jane@example.com [PHONE]"}"#);
        let user = delivered(g.outbound(Message::text(text), &mut as_role("user")));
        assert_eq!(user, r#"{"text":"j***@example.com [PHONE]"}"#);
        let inbound = delivered(g.inbound(Message::text(text), &mut as_role("admin")));
        assert_eq!(inbound, r#"{"text":"j***@example.com [PHONE]"}"#);
    }

    #[test]
    fn report_only_delivers_unchanged_but_counts() {
        let g = guard(Scrubber::builder().default_action(Action::Close).report_only(true).build().unwrap());
        let mut session = g.new_session(None);
        let text = "card 4111 1111 1111 1111, mail a@example.com";
        assert_eq!(g.inbound(Message::text(text), &mut session), Verdict::Deliver(Message::text(text)));
        assert_eq!(g.outbound(Message::text(text), &mut session), Verdict::Deliver(Message::text(text)));
        let counts = session.extensions().get::<Counts>().unwrap();
        assert_eq!((counts.get("credit_card"), counts.get("email")), (2, 2));
    }

    #[test]
    fn binary_frames_are_skipped_unless_asked() {
        let g = guard(scrubber());
        let mut session = g.new_session(None);
        let data = b"a@example.com".to_vec();
        assert_eq!(
            g.inbound(Message::binary(data.clone()), &mut session),
            Verdict::Deliver(Message::binary(data.clone()))
        );
        let g = guard(Scrubber::builder().scan_binary(true).build().unwrap());
        assert_eq!(
            g.inbound(Message::binary(data), &mut session),
            Verdict::Deliver(Message::binary(b"[EMAIL]".to_vec()))
        );
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn frame() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-z ]{0,12}",
            Just("jane@example.com".to_owned()),
            Just("4111 1111 1111 1111".to_owned()),
            Just("(415) 555-0132".to_owned()),
            Just("123-45-6789".to_owned()),
            Just("DE89370400440532013000".to_owned()),
            Just("10.1.2.3".to_owned()),
            Just("1700000000123".to_owned()),
            Just("ünï €".to_owned()),
        ];
        (proptest::collection::vec(piece, 0..6), 0..3usize).prop_map(|(pieces, shape)| {
            let text = pieces.join(" ");
            match shape {
                0 => text,
                1 => serde_json::json!({"type": "chat", "text": text, "n": 1}).to_string(),
                _ => format!("42[\"m\",{}]", serde_json::json!({"password": text, "t": [text]})),
            }
        })
    }

    /// JSON values whose strings and keys mix text, personal data and keys
    /// the scrubber treats as sensitive.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let text = prop_oneof![
            "[a-z \\u{e9}\\u{1F600}\"\\\\]{0,10}",
            Just("jane@example.com".to_owned()),
            Just("call 415-555-0132".to_owned()),
            Just("4111 1111 1111 1111".to_owned()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        let key =
            prop_oneof![Just("password".to_owned()), Just("phone".to_owned()), Just("email".to_owned()), "[a-z]{1,6}"];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn scrubbing_is_idempotent_and_keeps_json_valid(text in frame(), action in 0..3usize) {
            let action = [Action::Redact, Action::Mask, Action::Hash][action];
            let s = Scrubber::builder().default_action(action).hmac_key(*b"k").build().unwrap();
            let once = s.scrub(&text, Direction::Outbound).text().to_owned();
            let twice = s.scrub(&once, Direction::Outbound);
            prop_assert_eq!(twice.text(), once.as_str());
            if text.starts_with('{') {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&once).is_ok());
            }
        }

        #[test]
        fn any_input_gets_an_answer_without_panicking(
            text in prop_oneof![
                any::<String>(),
                "[ -~\\u{80}-\\u{10ffff}]{0,300}",
                "[\\[\\]{}\":,0-9a-zA-Z@.+()\\\\ -]{0,300}",
            ],
            action in 0..7usize,
        ) {
            let action = [Action::Report, Action::Redact, Action::Mask, Action::Hash, Action::Remove, Action::Drop, Action::Close][action];
            let s = Scrubber::builder().default_action(action).hmac_key(*b"k").scan_keys(true).build().unwrap();
            let out = s.scrub(&text, Direction::Inbound);
            for f in out.findings() {
                prop_assert!(text.get(f.range()).is_some(), "range {:?} is not on char boundaries", f.range());
            }
            if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(out.text()).is_ok(), "{}", out.text());
            }
        }

        #[test]
        fn json_stays_json_under_every_rewriting_action(value in json_value(), pretty in any::<bool>(), action in 0..5usize) {
            // A frame that is a bare number or string is text, not a JSON document.
            let value = if value.is_object() || value.is_array() { value } else { serde_json::json!([value]) };
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
            let action = [Action::Redact, Action::Mask, Action::Hash, Action::Remove, Action::Report][action];
            let s = Scrubber::builder().default_action(action).hmac_key(*b"k").build().unwrap();
            let out = s.scrub(&text, Direction::Outbound);
            prop_assert!(serde_json::from_str::<serde_json::Value>(out.text()).is_ok(), "{}\n=> {}", text, out.text());
        }

        #[test]
        fn frames_without_findings_come_out_byte_for_byte(text in "[a-zA-Z0-9 .,:;!?'()\\-]{0,200}") {
            let s = scrubber();
            let out = s.scrub(&text, Direction::Outbound);
            if out.findings().is_empty() {
                prop_assert!(!out.is_rewritten());
                prop_assert_eq!(out.text(), text.as_str());
            }
            let json = serde_json::json!({"text": text}).to_string();
            let out = s.scrub(&json, Direction::Outbound);
            if out.findings().is_empty() {
                prop_assert_eq!(out.text(), json.as_str());
            }
        }
    }
}

#[cfg(feature = "encrypt")]
#[test]
fn encrypt_gives_equal_tokens_for_equal_values_that_open_only_as_their_kind() {
    let s = Scrubber::builder().default_action(Action::Encrypt).encryption_key([7; 32]).build().unwrap();
    let frame = r#"{"a":"jane@example.com","b":"jane@example.com","c":"415-555-0132"}"#;
    let out = s.scrub(frame, Direction::Outbound).text().to_owned();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let token = v["a"].as_str().unwrap();
    assert!(token.starts_with("[EMAIL:enc:") && token.ends_with(']'), "{token}");
    assert_eq!(v["a"], v["b"]);
    assert_eq!(s.decrypt(Kind::Email, token).as_deref(), Some("jane@example.com"));
    assert_eq!(s.decrypt(Kind::Phone, v["c"].as_str().unwrap()).as_deref(), Some("415-555-0132"));
    assert_eq!(s.decrypt(Kind::Phone, token), None, "a token opens only as its kind");
    let other = Scrubber::builder().default_action(Action::Encrypt).encryption_key([8; 32]).build().unwrap();
    assert_eq!(other.decrypt(Kind::Email, token), None);
    assert_eq!(s.scrub(&out, Direction::Outbound).text(), out, "tokens are not scrubbed again");
    assert!(Scrubber::builder().action(Kind::Email, Action::Encrypt).build().is_err());
}

/// The IBAN registry's example IBANs (one per country), compact and
/// grouped, and each with one character changed, which mod-97 must catch.
#[test]
fn iban_registry_examples() {
    let s = scrubber();
    let examples = [
        "AL47212110090000000235698741",
        "AD1200012030200359100100",
        "AT611904300234573201",
        "AZ21NABZ00000000137010001944",
        "BH67BMAG00001299123456",
        "BY13NBRB3600900000002Z00AB00",
        "BE68539007547034",
        "BA391290079401028494",
        "BR9700360305000010009795493P1",
        "BG80BNBG96611020345678",
        "CR05015202001026284066",
        "HR1210010051863000160",
        "CY17002001280000001200527600",
        "CZ6508000000192000145399",
        "DK5000400440116243",
        "DO28BAGR00000001212453611324",
        "TL380080012345678910157",
        "EE382200221020145685",
        "FO6264600001631634",
        "FI2112345600000785",
        "FR1420041010050500013M02606",
        "GE29NB0000000101904917",
        "DE89370400440532013000",
        "GI75NWBK000000007099453",
        "GR1601101250000000012300695",
        "GL8964710001000206",
        "GT82TRAJ01020000001210029690",
        "HU42117730161111101800000000",
        "IS140159260076545510730339",
        "IE29AIBK93115212345678",
        "IL620108000000099999999",
        "IT60X0542811101000000123456",
        "JO94CBJO0010000000000131000302",
        "KZ86125KZT5004100100",
        "XK051212012345678906",
        "KW81CBKU0000000000001234560101",
        "LV80BANK0000435195001",
        "LB62099900000001001901229114",
        "LI21088100002324013AA",
        "LT121000011101001000",
        "LU280019400644750000",
        "MT84MALT011000012345MTLCAST001S",
        "MR1300020001010000123456753",
        "MU17BOMM0101101030300200000MUR",
        "MD24AG000225100013104168",
        "MC5811222000010123456789030",
        "ME25505000012345678951",
        "NL91ABNA0417164300",
        "MK07250120000058984",
        "NO9386011117947",
        "PK36SCBL0000001123456702",
        "PS92PALS000000000400123456702",
        "PL61109010140000071219812874",
        "PT50000201231234567890154",
        "QA58DOHB00001234567890ABCDEFG",
        "RO49AAAA1B31007593840000",
        "SM86U0322509800000000270100",
        "SA0380000000608010167519",
        "RS35260005601001611379",
        "SK3112000000198742637541",
        "SI56263300012039086",
        "ES9121000418450200051332",
        "SE4550000000058398257466",
        "CH9300762011623852957",
        "TN5910006035183598478831",
        "TR330006100519786457841326",
        "AE070331234567890123456",
        "GB29NWBK60161331926819",
    ];
    for iban in examples {
        let grouped: Vec<&str> = iban.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let grouped = grouped.join(" ");
        for text in [iban.to_owned(), grouped] {
            assert_eq!(found(&s, &format!("pay to {text}.")), [("iban", text.clone())], "{text}");
        }
        // Change the last character: the check digits no longer match.
        let last = iban.as_bytes()[iban.len() - 1];
        let changed = if last == b'0' { '1' } else { '0' };
        let broken = format!("{}{changed}", &iban[..iban.len() - 1]);
        assert_eq!(found(&s, &broken), [], "{broken}");
    }
}

/// Escapes are decoded wherever a frame carries them, JSON or not.
#[test]
fn escapes_are_decoded_in_every_frame_shape() {
    let s = scrubber();
    let cases = [
        r#""mail jane\u0040example.com""#,
        r#"451-["upload",{"_placeholder":true,"num":0},"jane\u0040example.com"]"#,
        r#"97:42["chat",{"text":"jane\u0040example.com"}]"#,
        r#"{"score":NaN,"text":"jane\u0040example.com"}"#,
        r#"{"text":"jane\u0040example.com"} trailing"#,
        r#"12:42["a","b"]9:42["jane\u0040example.com"]"#,
    ];
    for frame in cases {
        let found: Vec<_> = s.find(frame).iter().map(|f| (f.kind(), frame[f.range()].to_owned())).collect();
        assert_eq!(found, [("email", r"jane\u0040example.com".to_owned())], "{frame}");
        let out = s.scrub(frame, Direction::Outbound);
        assert!(out.text().contains("[EMAIL]") && !out.text().contains("example.com"), "{frame}: {}", out.text());
    }
    // A top-level JSON string stays one, with its escapes intact.
    let out = s.scrub(r#""a \"quote\" and jane@example.com""#, Direction::Outbound);
    assert_eq!(out.text(), r#""a \"quote\" and [EMAIL]""#);
}

/// The `key: value` rule in text rewrites data only, and values keep the
/// kind of the detector that recognises them.
#[test]
fn key_value_rewrites_data_only() {
    // GraphQL documents, type annotations, templates, calls: untouched.
    for text in [
        "query ($email: String, $phone: String) { user(email: $email, phone: $phone) { id } }",
        "type User { password: String! token: [String] }",
        "def login(password: str, token: Optional[str]) -> None: ...",
        "let secret: &str = read_secret();",
        "interface Props { apiKey: string; }",
        "Hello {{name}}, your email: {{email}}, phone=${phone}",
        "password: getPassword() and token=%s",
        "note: the password is long",
    ] {
        assert_eq!(found(&scrubber(), text), vec![], "{text}");
    }
    cases! {
        // `Bearer` alone is not a secret; the credential after it is.
        "Authorization: Bearer abc123def456" => [("password", "abc123def456")],
        "Authorization: Bearer" => [],
        // A grouped IBAN after its label is found whole.
        "IBAN: GB82 WEST 1234 5698 7654 32" => [("iban", "GB82 WEST 1234 5698 7654 32")],
        "email: not-an-address" => [],
        "password=hunter2&x=1" => [("password", "hunter2")],
    }
    // A JWT under `access_token` is a `jwt`, so its own action applies.
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let frame = format!(r#"{{"access_token":"{jwt}","refresh_token":"Bearer {jwt}","password":"hunter2"}}"#);
    let kinds: Vec<&str> = scrubber().find(&frame).iter().map(|f| f.kind()).collect();
    assert_eq!(kinds, ["jwt", "jwt", "password"]);
    let s = Scrubber::builder().action(Kind::Jwt, Action::Report).build().unwrap();
    assert_eq!(s.scrub(&frame, Direction::Outbound).text(), frame.replace("hunter2", "[PASSWORD]"));
}

/// Credentials in the line protocols people tunnel over WebSocket.
#[test]
fn line_protocol_credentials() {
    cases! {
        "CONNECT\naccept-version:1.2\nlogin:guest\npasscode:s3cret\n\n\u{0}" => [("password", "s3cret")],
        "NICK bob\r\nPASS hunter2\r\nUSER bob 0 * :Bob" => [("password", "hunter2")],
        "PASS :with spaces\r\n" => [("password", "with spaces")],
        "a001 LOGIN bob hunter2\r\n" => [("password", "hunter2")],
        "AUTH PLAIN AGJvYgBodW50ZXIy\r\n" => [("password", "AGJvYgBodW50ZXIy")],
        "a2 AUTHENTICATE PLAIN AGJvYgBodW50ZXIy" => [("password", "AGJvYgBodW50ZXIy")],
        // Not at a line start, lower case, or another command.
        "say PASS hunter2" => [],
        "pass the salt" => [],
        "a001 SELECT INBOX" => [],
    }
    // In a JSON chat message, "PASS" is prose.
    assert_eq!(found(&scrubber(), r#"{"text":"PASS the salt"}"#), vec![]);
}

/// A truncated PEM block ends where its base64 body ends.
#[test]
fn a_truncated_private_key_ends_with_its_body() {
    let text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\nthanks, bob";
    let found = found(&scrubber(), text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7");
}

/// Inputs the fuzzer (`fuzz/fuzz_targets/scrub.rs`) found, each with its
/// root cause; every one must satisfy the fuzz target's properties.
mod fuzz_regressions {
    use super::*;

    #[test]
    fn a_scheme_at_the_end_of_the_text_has_no_credential() {
        // Found by the `scrub` target: the inline prefix check indexed the
        // byte after `Bearer ` without asking whether there was one.
        for text in ["Authorization: Bearer ", "{\"a\":1}Authorization: Bearer "] {
            assert!(found(&scrubber(), text).is_empty(), "{text}");
        }
    }

    fn holds(text: &str) {
        for action in [Action::Redact, Action::Mask, Action::Hash, Action::Remove] {
            let s = Scrubber::builder().default_action(action).hmac_key(*b"fuzz").build().unwrap();
            let once = s.scrub(text, Direction::Outbound);
            for f in once.findings() {
                assert!(text.is_char_boundary(f.range().start) && text.is_char_boundary(f.range().end));
            }
            if serde_json::from_str::<serde_json::Value>(text).is_ok() {
                assert!(serde_json::from_str::<serde_json::Value>(once.text()).is_ok(), "{action:?}: {}", once.text());
            }
            assert_eq!(s.scrub(once.text(), Direction::Outbound).text(), once.text(), "{action:?} on {text:?}");
        }
    }

    #[test]
    fn the_credential_after_a_scheme_is_checked_like_any_value() {
        // `Bearer [PASSWORD]` was scrubbed again: the word after the scheme
        // skipped the placeholder check.
        holds("4111111111110555\u{1}Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJz");
    }

    #[test]
    fn a_placeholder_under_a_quoted_key_in_text_is_output() {
        // Malformed JSON is scanned as text; the hash under `"email":` was
        // hashed again because only unquoted values were checked for output.
        holds("451-[\"up\u{fffd}\u{fffd}_placeholder\":true,\"num\":0,\"email\":\"a@example.com\"}]");
    }

    #[test]
    fn a_line_protocol_credential_that_is_already_output_is_left() {
        // `AUTH PLAIN [PASSWORD:...]` was hashed again.
        holds("AUTH PLAIN card \u{3}97:42[!\0\0\0=\0\0\0:\"+4>\u{fffd}\u{661}\u{661}$2");
        holds("PASS hunter2\r\n");
    }

    #[test]
    fn a_mask_under_a_quoted_key_in_text_is_output() {
        // Malformed JSON, scanned as text: `"iban":"GB**ܨEST"` (a mask that
        // kept two and four characters) was masked again to `********`.
        holds("42[\"chat\",{IiOiIxMjM2In\u{3}{\"iban\":\"GB82\u{728}EST 1fefe2567:89e2567:890a\"}0.dBj");
    }

    #[test]
    fn the_scrubbers_own_placeholder_is_no_context_word() {
        // `[PHONE]` written by the first pass made `456 5698 7654` (a bare
        // run that needs a context word) a phone number in the second.
        holds(
            "\u{3}\"iban\":\"GB:2B:\u{1d}3C:4D:1E\u{3}97:42[!\u{1}42[\"c\0\0\0\0\0hat\",{\"te\0\0\0:\"+4311 115111 11111ff:fe23\0{\":456 5698 7654 654 37:892\",\"0aip\":\"1\"0\u{18}",
        );
    }

    #[test]
    fn a_line_credential_that_is_output_still_covers_its_line() {
        // The IMAP password was hashed; in the second pass the hash was
        // skipped as output, and the scan then read the user name, which
        // held `"password":"...`, and found a value the first pass jumped over.
        holds(
            "card \u{664}\u{661}\u{fffd}15) 5R55-013\u{fffd}\u{fffd}MMMMM2\r\na1 LOGIN bob2\",\"password\":\"xoxhunterN AGJvYgBv\u{13}\u{fffd}11\u{1}Authorization:\u{fffd}BeyJ",
        );
    }

    #[test]
    fn an_address_glued_to_another_at_sign_is_not_an_email() {
        // `x.t@dl.exaAIN@dl.exaAIN`: the first pass masked the first
        // address, which let the second pass find `dl.exaAIN@dl.exaAIN`.
        holds("Authorization:et\r\nAt\0\0L\u{4}host ip-10-jjjj0-56-78.ec2.t@dl.exaAIN@dl.exaAIN AGJvM0In0.");
        assert_eq!(found(&scrubber(), "a.b@x.com@y.org"), [("email", "x.com@y.org".to_owned())]);
    }

    #[test]
    fn text_is_folded_when_a_finding_covered_its_only_non_ascii_bytes() {
        // The IMAP password word covered every non-ASCII byte, so the scan
        // saw none and the text was not folded; after the rewrite it was.
        holds(
            "cLOGIN b\na1 LOGIN bo*******\u{fffd} 415\u{fffd}\u{fffd}\u{fffd}55\u{a0}0032 4111\u{200b}11+1\u{200b}1111\u{200b}1111",
        );
    }

    #[test]
    fn a_key_without_a_value_is_not_json() {
        // `{"key","v6":"fe80::..."}` was walked as JSON; removing the v6
        // member left `{"key"}`, which the second pass read as text.
        holds(
            "{\"ibanPASS hunter4\r\n\u{fffd}> bob secret\r\nAUTH PLAIN AGJvY,BB05Nya1 LOGIZXQ5:5E\",\"v6\":\"fe80::1ff:fe23:4567:890a\"}",
        );
        let rules = crate::pii::keys::KeyRules::new(&[]).unwrap();
        for bad in [r#"{"a","b":1}"#, r#"{"a" "b"}"#, r#"{"a"::1}"#, r#"{"a":1 2}"#, r#"{"a":1,}"#, r#"{1:2}"#] {
            assert!(crate::pii::json::walk(bad.as_bytes(), 0, &rules, false, |_| {}).is_err(), "{bad}");
        }
        for good in [r#"{"a":{"b":[1,"x",{"c":null}]},"d":"e"}"#, r#"["a",1,[],{}]"#, r#""s""#] {
            assert!(crate::pii::json::walk(good.as_bytes(), 0, &rules, false, |_| {}).is_ok(), "{good}");
        }
    }

    #[test]
    fn context_words_do_not_reach_over_an_earlier_finding() {
        // `call (415) 555-0132 ... 42 555-0132`: once the first number was
        // `[PHONE]`, "call" came within 32 bytes of the second.
        holds(
            "{\"iban\":\"GB84\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}*call (415)B84\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}*call (415) 555-0132\"\u{1}\0\0{sswd\":\"hunt\0F\u{1}42 555-0132\",\"passwd\":\"hunt\0F\u{1}422\"\u{fffd}\u{4}\"}",
        );
        cases! {
            "call 415-555-0132 or 555-0199" => [("phone", "415-555-0132")],
            "call me [at work] 555-0199" => [],
            "call me at 555-0199" => [("phone", "555-0199")],
        }
    }

    #[test]
    fn a_mask_ends_a_context_like_a_finding() {
        // `tel:********32 ... l:4155550132`: the mask is no finding in the
        // second pass, so "tel" reached the second number through it.
        holds("tel:4155550132 cc#41111111l:4155550132 cc#4111111111111111 ssn:123-45-6711111111 ssn:123-45-6789");
    }

    #[test]
    fn a_rewrite_is_scanned_again_until_nothing_more_is_found() {
        // A rewrite changes what surrounds the text it leaves: a context
        // word comes closer, a boundary appears, a run is cut. These inputs
        // (one fuzzing run found 29 of the kind) each changed on a second
        // scrub; a rewritten frame is now rescanned to a fixpoint.
        holds("tel:415\u{fffd}550133 cc41#11111150133 cc\u{fffd}5501\u{fffd}3 cc#4111111150133 11111");
        holds("{\"iban\":\"GB820 W1ff:\u{0}{\"t\"\u{fffd}\u{0}\u{0}-fe22:\u{0}11 09 7946 078::3:8a\"}");
        holds("{\u{0}\u{0}4c\":\"00-10-t@db.FF::A12B:3C:4D:5E\",\"567::[9\u{5}0a\"}");
        holds(
            "\u{2}cJ$\u{a}\u{a}\u{fffd}?\u{fffd}\u{fffd}\u{fffd}st@db.tel:4155550132 cc#41111rd\u{fffd}\u{fffd}1\u{13}1\u{fffd}e\u{fffd}1 55x\\mo\u{3}\u{fffd}\u{0}<\u{fffd}\u{14a}{\u{0}\u{0}fe1",
        );
    }

    #[test]
    fn the_end_of_a_finding_is_a_boundary() {
        // `...51+66666666`: each number became findable only once the one
        // before it was replaced, one per pass, past the pass limit.
        holds(
            "\n\u{1f}\u{1f}\u{1f}-(*fa\u{2}q'\u{0}\u{0}\u{0}\u{1f}ar\u{2}+830\u{a0}005142 1111\u{200b}51+666666661\u{200b}51+666\u{a0}66660051+42 1111\u{200b}51+66666666\u{0}*\"\\PA+66666666\u{fffd}\u{7}\u{fffd}1[\u{fffd}05",
        );
    }

    #[test]
    fn a_rewritten_json_string_is_scanned_again() {
        // Masks keep digits and turn others into `*`: `97:4241...` became
        // `97:****...`, and `0617 5699 97` then read as a phone number.
        holds(
            "{\"!ban\":\"_\u{fffd}\u{0}\u{0}\u{fffd}\u{0}@ixD\u{0}\u{0}\u{fffd}\u{fffd}\u{fffd} 0617 5699 97:4241112500000\u{0}\u{0}\u{10}a\"}",
        );
        holds(
            "{\"iba\u{fffd}\":\"GB82\u{1}:~\u{fffd}\u{fffd}:::z\u{1a}::\u{1}\u{0}\u{0}416)\u{fffd} 110-12-0346-6111111\u{fffd} \u{661}\u{661}:::*un\u{c}\u{c}0a\"}",
        );
        holds(
            "{\"\n\n[33#3N\u{0}\u{0}3333333332k333q33\u{fffd}\u{fffd}+11111110555013text\":\"call (059q\u{0}\u{0}111:5(415 7243::415) /\u{fffd}-79.e90a\"}",
        );
    }

    #[test]
    fn the_digits_a_mask_kept_start_no_number() {
        // `*******05 539151 ...`: the kept `05` joined the next group into
        // a new number, one more on every pass, past the pass limit.
        holds(
            "24\u{2}sb\u{fffd}\u{2}\u{fffd}c]{\"t&b\u{fffd}\u{2}+54\u{a0}0\u{fffd}a\u{fffd}ll @005 539 5530105 539 5530105 539052 10.05 539050105 539151 10..2.30105 5 10..2.30105 539 5590905152 10..2.30105 539 55,\"p",
        );
        // Markdown's `*` and `**` are no mask.
        cases! {
            "**4111 1111 1111 1111**" => [("credit_card", "4111 1111 1111 1111")],
            "*call* 415-555-0132" => [("phone", "415-555-0132")],
        }
    }

    #[test]
    fn nothing_is_found_inside_a_placeholder() {
        // A 12-digit hash that passes Luhn with a Maestro prefix was found
        // as a card inside `[IBAN:...]` when the rewrite was rescanned.
        holds("{\"iban\":\"\u{0}\u{0}{Y\u{cb180}\u{fffd}\u{fffd}\\\u{fffd}\u{fffd}\u{fffd}9a-6\"}");
        cases! {
            "pay [IBAN:676304849943] or [CREDIT_CARD] now" => [],
            "[x] 4111 1111 1111 1111" => [("credit_card", "4111 1111 1111 1111")],
        }
    }
}

mod names_and_addresses {
    use super::*;

    #[test]
    fn values_under_name_and_address_keys_are_found_whole() {
        let frame = r#"{"customer":{"first_name":"Zoë","lastName":"van der Berg","full-name":"Zoë van der Berg","shipping_address":{"street":"12 Rue de la Paix","city":"Paris","postcode":"75002"},"zip":94103},"legal_name":"ACME GmbH"}"#;
        let found: Vec<(&str, &str)> = scrubber().find(frame).iter().map(|f| (f.kind(), &frame[f.range()])).collect();
        assert_eq!(
            found,
            [
                ("person_name", "Zoë"),
                ("person_name", "van der Berg"),
                ("person_name", "Zoë van der Berg"),
                ("address", "12 Rue de la Paix"),
                ("address", "Paris"),
                ("address", "75002"),
                ("address", "94103"),
                ("person_name", "ACME GmbH"),
            ]
        );
        let out = scrubber().scrub(frame, Direction::Outbound);
        let value: serde_json::Value = serde_json::from_str(out.text()).unwrap();
        assert_eq!(value["customer"]["first_name"], "[PERSON_NAME]");
        assert_eq!(value["customer"]["shipping_address"]["street"], "[ADDRESS]");
        assert_eq!(value["customer"]["zip"], "[ADDRESS]");
    }

    #[test]
    fn generic_names_and_other_addresses_are_not_people_or_places() {
        let frame = r#"{"name":"Widget","username":"zoe_92","display_name":"Z","file_name":"a.txt","room_name":"lobby","ip_address":"not an ip","email_address":"zoe@example.com","address":"0x52908400098527886E0F7030069857D2E4169EE7","gzip":true}"#;
        assert_eq!(
            found(&scrubber(), frame),
            [
                ("email", "zoe@example.com".to_owned()),
                ("crypto_address", "0x52908400098527886E0F7030069857D2E4169EE7".to_owned())
            ],
            "an email and a wallet, no names or postal addresses"
        );
        // Where `name` means a person's, say so.
        let people = Scrubber::builder().sensitive_key("name", Kind::PersonName).build().unwrap();
        assert_eq!(found(&people, r#"{"name":"Zoë"}"#), [("person_name", "Zoë".to_owned())]);
    }

    #[test]
    fn an_address_object_is_an_address_and_an_address_string_is_left_to_the_detectors() {
        // Stripe's billing details, Shopify's address lines.
        let frame = r#"{"billing_details":{"address":{"line1":"510 Townsend St","postal_code":"94103","country":"US"},"email":"zoe@example.com"},"addresses":[{"address1":"1 Main St","zip":"K1A 0B1"}],"wallet":{"address":"0x52908400098527886E0F7030069857D2E4169EE7"},"server":{"address":"10.0.0.7"}}"#;
        let kinds: Vec<(&str, String)> = found(&scrubber(), frame);
        assert_eq!(
            kinds,
            [
                ("address", "510 Townsend St".to_owned()),
                ("address", "94103".to_owned()),
                ("address", "US".to_owned()),
                ("email", "zoe@example.com".to_owned()),
                ("address", "1 Main St".to_owned()),
                ("address", "K1A 0B1".to_owned()),
                ("crypto_address", "0x52908400098527886E0F7030069857D2E4169EE7".to_owned()),
                ("ipv4", "10.0.0.7".to_owned()),
            ]
        );
    }

    #[test]
    fn key_value_text_and_query_strings_count_too() {
        let text = "update first_name=Zoë&postcode=75002 ok";
        let kinds: Vec<&str> = scrubber().find(text).iter().map(|f| f.kind()).collect();
        assert_eq!(kinds, ["person_name", "address"], "{text}");
    }
}

mod national_ids {
    use super::*;

    /// The findings in `text`, as (kind, value).
    pub(super) fn kinds(text: &str) -> Vec<(&'static str, String)> {
        found(&scrubber(), text)
    }

    /// `kind` is not among the findings in `text`.
    pub(super) fn absent(kind: &str, text: &str) -> bool {
        kinds(text).iter().all(|(k, _)| *k != kind)
    }

    /// Each of `valid`, written by `written`, is found whole as `kind` and
    /// nothing else; none of `invalid`, written the same way, is `kind`.
    pub(super) fn checked(kind: &str, written: impl Fn(&str) -> String, valid: &[&str], invalid: &[&str]) {
        for id in valid {
            let text = written(id);
            assert_eq!(kinds(&text), [(kind, (*id).to_owned())], "{text}");
        }
        for id in invalid {
            let text = written(id);
            assert!(absent(kind, &text), "{text}");
        }
    }

    #[test]
    fn cpf_in_its_written_form_with_both_check_digits() {
        // The CPF every Brazilian form tutorial uses, and Faker's pt_BR ones.
        for cpf in ["111.444.777-35", "455.561.510-75", "756.457.493-32", "217.034.346-68"] {
            for text in [format!("meu CPF é {cpf}."), format!(r#"{{"doc":"{cpf}"}}"#), format!("cpf:{cpf}")] {
                assert_eq!(kinds(&text), [("br_cpf", cpf.to_owned())], "{text}");
            }
        }
        // A wrong check digit, one digit repeated, or another grouping: not a CPF.
        for not in ["111.444.777-36", "111.444.777-45", "111.111.111-11", "000.000.000-00", "111.444.77-735"] {
            assert!(absent("br_cpf", &format!("ref {not} ok")), "{not}");
        }
        // Bare, only under its key in JSON or after its name.
        assert_eq!(kinds(r#"{"cpf":"11144477735"}"#), [("br_cpf", "11144477735".to_owned())]);
        assert_eq!(kinds("meu CPF: 11144477735"), [("br_cpf", "11144477735".to_owned())]);
        assert!(kinds("pedido 11144477735 enviado").is_empty());
        assert!(kinds("CPF 11144477736").is_empty(), "a wrong check digit after the word");
        assert_eq!(kinds("CPF: 111.444.777-35"), [("br_cpf", "111.444.777-35".to_owned())]);
    }

    #[test]
    fn aadhaar_in_groups_of_four_with_a_verhoeff_check() {
        // UIDAI's sample number and Verhoeff-valid numbers, grouped as
        // printed on the card. (Faker's `aadhaar_id` computes a Luhn digit,
        // not UIDAI's Verhoeff: its numbers are not valid Aadhaar numbers.)
        for bare in ["234123412346", "598259791903", "948337887623", "528601290407"] {
            let grouped = format!("{} {} {}", &bare[..4], &bare[4..8], &bare[8..]);
            assert_eq!(kinds(&format!("Aadhaar: {grouped}")), [("in_aadhaar", grouped.clone())]);
            let dashed = grouped.replace(' ', "-");
            assert_eq!(kinds(&format!(r#"{{"id":"{dashed}"}}"#)), [("in_aadhaar", dashed.clone())]);
            // The last digit changed: the Verhoeff check fails.
            let last = (bare.as_bytes()[11] - b'0' + 1) % 10;
            let wrong = format!("{} {} {}{last}", &bare[..4], &bare[4..8], &bare[8..11]);
            assert!(absent("in_aadhaar", &wrong), "{wrong}");
            assert_eq!(kinds(&format!(r#"{{"aadhaar_number":"{bare}"}}"#)), [("in_aadhaar", bare.to_owned())]);
        }
        // Numbers starting 0 or 1 are not issued.
        assert!(absent("in_aadhaar", "1234 5678 9012"));
        // Bare after its name; not without it.
        assert_eq!(kinds("Aadhaar no. 234123412346"), [("in_aadhaar", "234123412346".to_owned())]);
        assert!(absent("in_aadhaar", "invoice 234123412346"));
    }

    #[test]
    fn itin_is_a_nine_with_an_irs_group() {
        for itin in ["909-86-1934", "953-96-2702", "943-85-2490", "912-70-1234"] {
            assert_eq!(kinds(&format!("ITIN {itin}")), [("us_itin", itin.to_owned())]);
        }
        // Groups outside the IRS ranges, and SSNs, are not ITINs.
        for not in ["912-69-1234", "912-89-1234", "912-93-1234", "900-00-0000"] {
            assert!(absent("us_itin", &format!("id {not}")), "{not}");
        }
        assert_eq!(kinds("SSN 078-05-1120"), [("us_ssn", "078-05-1120".to_owned())]);
        // Bare after a tax-id word.
        assert_eq!(kinds("my TIN is 912701234"), [("us_itin", "912701234".to_owned())]);
    }

    #[test]
    fn pesel_after_its_name_with_a_date_and_a_check_digit() {
        // Faker's pl_PL numbers.
        for pesel in ["62051894184", "03272041494", "98040379675", "51102996962"] {
            for text in [format!("PESEL {pesel}"), format!("nr PESEL: {pesel}"), format!(r#"{{"pesel":"{pesel}"}}"#)] {
                assert_eq!(kinds(&text), [("pl_pesel", pesel.to_owned())], "{text}");
            }
            // Without the word, eleven digits are nothing.
            assert!(kinds(&format!("zamówienie {pesel}")).is_empty());
            let last = (pesel.as_bytes()[10] - b'0' + 1) % 10;
            assert!(kinds(&format!("PESEL {}{last}", &pesel[..10])).is_empty(), "a wrong check digit");
        }
        // A month that no century offset explains (13), with a valid check digit.
        assert!(kinds("PESEL 02132812344").is_empty());
    }

    #[test]
    fn nhs_numbers_only_after_nhs() {
        // NHS Digital's sample number, and others with a valid check.
        for nhs in ["943 476 5919", "9434765919", "401 023 2137", "401-023-2137"] {
            for text in [format!("NHS number {nhs}"), format!("NHS no: {nhs}")] {
                assert_eq!(kinds(&text), [("uk_nhs", nhs.to_owned())], "{text}");
            }
        }
        assert_eq!(kinds(r#"{"nhs_number":"9434765919"}"#), [("uk_nhs", "9434765919".to_owned())]);
        // A wrong check digit after the word is nothing; the same digits
        // without the word are what they look like (a phone number).
        assert!(absent("uk_nhs", "NHS 943 476 5918"));
        assert!(absent("uk_nhs", "call 943 476 5919"));
    }

    #[test]
    fn spanish_nif_and_nie_with_their_control_letter() {
        // Faker's es_ES numbers, and the Ministry's sample 12345678Z.
        for id in ["94739005G", "31533205K", "Z3148515G", "X9885749G", "12345678Z", "12345678-Z"] {
            for text in [format!("DNI {id}"), format!(r#"{{"doc":"{id}"}}"#), format!("({id})")] {
                assert_eq!(kinds(&text), [("es_nif", id.to_owned())], "{text}");
            }
        }
        // A wrong letter, another length, a longer word: not an id.
        for not in ["12345678A", "1234567Z", "123456789Z", "X9885749A", "12345678Z9", "W1234567L"] {
            assert!(absent("es_nif", &format!("ref {not} ok")), "{not}");
        }
    }
}

mod more_identifiers {
    //! The kinds added with the second identifier round: published examples
    //! (and values python-stdnum validates), each with a look-alike that
    //! fails its check, and the named ones without their name.
    use super::national_ids::{absent, checked, kinds};
    use super::*;

    #[test]
    fn uk_nino_with_an_allocated_prefix_and_suffix() {
        for nino in ["AB 12 34 56 C", "AB123456C", "JG 103759 A", "OA 58 29 73 D", "ce101010b".to_uppercase().as_str()]
        {
            for text in [format!("NI number {nino}."), format!(r#"{{"ref":"{nino}"}}"#)] {
                assert_eq!(kinds(&text), [("uk_nino", nino.to_owned())], "{text}");
            }
        }
        // HMRC's example prefix QQ, a D or F first, an O second, the
        // unallocated GB and ZZ (Faker's en_GB `ssn`), a suffix past D.
        for not in
            ["QQ123456C", "DA123456A", "FE123456A", "AO123456A", "GB123456A", "ZZ 46 88 62 T", "AB123456E", "AB12345C"]
        {
            assert!(absent("uk_nino", &format!("ref {not} ok")), "{not}");
        }
        assert_eq!(kinds(r#"{"nino":"anything"}"#), [("uk_nino", "anything".to_owned())]);
    }

    #[test]
    fn italian_fiscal_code_with_its_check_letter() {
        // The Agenzia delle Entrate's worked example, Faker's it_IT codes,
        // and an omocodia (digits replaced by letters).
        // Then a wrong check letter, an impossible month letter (Z), day 35.
        checked(
            "it_fiscal_code",
            |cf| format!("CF {cf}"),
            &["RSSMRA85T10A562S", "QRNMBT37P58G253I", "SFFGLS70C58L490E", "RSSMRA85T10A56NH"],
            &["RSSMRA85T10A562T", "RSSMRA85Z10A562S", "RSSMRA85T35A562S"],
        );
    }

    #[test]
    fn finnish_hetu_with_its_date_and_check_character() {
        // DVV's example, and Faker's fi_FI numbers of three centuries.
        // Then a wrong check character, month 13, the individual number 001.
        checked(
            "fi_hetu",
            |hetu| format!("henkilötunnus {hetu}."),
            &["131052-308T", "100812A516M", "130776-751V", "010594Y9032"],
            &["131052-308U", "131352-308T", "131052-001T"],
        );
    }

    #[test]
    fn singapore_nric_and_fin_by_series() {
        // ICA's check letters for each series; M5012345J is where the M
        // table differs from F and G.
        checked(
            "sg_nric",
            |id| format!("NRIC {id}"),
            &["S1234567D", "T1234567J", "F1234567N", "G1234567X", "M5012345J"],
            &["S1234567A", "M5012345M", "A1234567D", "S123456D"],
        );
    }

    #[test]
    fn indian_pan_with_a_holder_type() {
        // Then no holder type D, four zeros, a digit for the last letter.
        checked(
            "in_pan",
            |pan| format!("PAN: {pan}"),
            &["AAAPZ1234C", "ABCPE1234F", "AABCT3518Q", "BBBKB1234B"],
            &["ABCDE1234F", "AAAPZ0000C", "AAAPZ12345"],
        );
    }

    #[test]
    fn australian_numbers_after_their_names() {
        // The ATO's documented TFN 123 456 782; the ABR's example ABN.
        cases! {
            "TFN 123 456 782" => [("au_tfn", "123 456 782")],
            "my tax file number is 123456782." => [("au_tfn", "123456782")],
            "ABN 51 824 753 556" => [("au_abn", "51 824 753 556")],
            "ABN: 51824753556" => [("au_abn", "51824753556")],
            "Medicare 2123 45670 1" => [("au_medicare", "2123 45670 1")],
            "Medicare card 2123456701" => [("au_medicare", "2123456701")],
            // Without the word, or with a failing check: not these kinds.
            "order 123 456 782" => [],
            "TFN 123 456 783" => [],
            "Medicare 2123 45671 1" => [],
            "Medicare 7123 45670 1" => [],
        }
        // A failing ABN is no ABN (its last nine digits are how a Spanish
        // mobile number is written, and are found as one).
        assert!(absent("au_abn", "ABN 51 824 753 557"));
        assert_eq!(kinds(r#"{"tfn":"123456782"}"#), [("au_tfn", "123456782".to_owned())]);
    }

    #[test]
    fn korean_rrn_by_its_check_digit_or_its_name() {
        cases! {
            "900101-1234568" => [("kr_rrn", "900101-1234568")],
            // Since 2020 there is no check digit: only after the name.
            "900101-1234567" => [],
            "RRN 900101-1234567" => [("kr_rrn", "900101-1234567")],
            "주민등록번호: 900101-1234567" => [("kr_rrn", "900101-1234567")],
            "RRN 9001011234568" => [("kr_rrn", "9001011234568")],
            // Month 13, or a sex digit 0, is no date of birth.
            "RRN 901301-1234567" => [],
            "RRN 900101-0234567" => [],
        }
    }

    #[test]
    fn brazilian_cnpj_written_or_after_its_name() {
        cases! {
            "CNPJ 11.222.333/0001-81 ok" => [("br_cnpj", "11.222.333/0001-81")],
            "empresa 23.674.356/0001-06" => [("br_cnpj", "23.674.356/0001-06")],
            "CNPJ 11222333000181" => [("br_cnpj", "11222333000181")],
            "11.222.333/0001-82" => [],
            "11222333000181" => [],
            "00.000.000/0000-00" => [],
        }
    }

    #[test]
    fn passports_and_bank_numbers_after_their_names() {
        cases! {
            "passport X59658147" => [("us_passport", "X59658147")],
            "Passport No. 123456789" => [("us_passport", "123456789")],
            "routing number 011000015" => [("us_bank_number", "011000015")],
            "ABA 021000021" => [("us_bank_number", "021000021")],
            "account number 000123456789" => [("us_bank_number", "000123456789")],
            "acct 12345678" => [("us_bank_number", "12345678")],
            // Without the word; a routing number failing 3-7-1; too short.
            "ticket X59658147" => [],
            "routing 011000016" => [],
            "acct 1234567" => [],
        }
        assert_eq!(kinds(r#"{"account_number":"12-34"}"#), [("us_bank_number", "12-34".to_owned())]);
    }

    #[test]
    fn swift_codes_after_swift_or_bic() {
        cases! {
            "SWIFT DEUTDEFF500" => [("swift_bic", "DEUTDEFF500")],
            "BIC: NWBKGB2L" => [("swift_bic", "NWBKGB2L")],
            "swift code LZEIGB3X, thanks" => [("swift_bic", "LZEIGB3X")],
            // Capitals without the word are words.
            "DEUTDEFF500 PASSWORD URGENTLY" => [],
            "SWIFT DEUTDE" => [],
        }
    }

    #[test]
    fn wallet_addresses_with_their_checksums() {
        // The genesis address, a P2SH address, BIP 173 and BIP 350 vectors,
        // EIP-55 vectors (mixed case) and an address in one case.
        for address in [
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ] {
            assert_eq!(kinds(&format!("send to {address}.")), [("crypto_address", address.to_owned())], "{address}");
        }
        for not in [
            // One character changed; a bech32 address in mixed case; a
            // bech32m checksum on a version-0 program (BIP 350's invalid
            // vector); an EIP-55 letter with its case flipped; 39 hex digits.
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35A",
            "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d35",
            "1st 3rd 3D",
        ] {
            assert!(absent("crypto_address", not), "{not}");
        }
    }
}

mod phones_by_metadata {
    //! Phone numbers judged by libphonenumber's metadata rather than tables
    //! of our own.
    use super::*;

    #[test]
    fn international_numbers_of_every_region_are_checked_against_its_metadata() {
        // Regions the scrubber has no rule of its own for: libphonenumber's
        // example numbers written internationally.
        for number in [
            "+420 601 123 456",
            "+48 512 345 678",
            "+86 138 0013 8000",
            "+7 912 345 67 89",
            "+380 44 123 4567",
            "+971 50 123 4567",
            "+20 10 1234 5678",
            "+234 803 123 4567",
            "+62 812 3456 7890",
        ] {
            assert_eq!(found(&scrubber(), &format!("reach me: {number}.")), [("phone", number.to_owned())], "{number}");
        }
        // Too short for the UK, no calling code 99, too short for the NANP.
        for not in ["+44 12 345", "+99 123 456 789", "+1 555 123"] {
            assert!(found(&scrubber(), &format!("reach me: {not}.")).is_empty(), "{not}");
        }
    }

    #[test]
    fn national_formats_count_for_the_configured_regions() {
        // Egypt's example mobile number as dialled in Egypt: valid in none
        // of the default regions, so found only once Egypt is listed.
        let text = "tel 010 01234567";
        assert!(found(&scrubber(), text).is_empty());
        let egypt = Scrubber::builder().phone_regions(["EG"]).build().unwrap();
        assert_eq!(found(&egypt, text), [("phone", "010 01234567".to_owned())]);
        // Without the US and Canada, NANP groupings are not phone numbers.
        let no_nanp = Scrubber::builder().phone_regions(["GB"]).build().unwrap();
        assert!(found(&no_nanp, "see 415-555-0132").is_empty());
        assert_eq!(found(&scrubber(), "see 415-555-0132"), [("phone", "415-555-0132".to_owned())]);
        // A region libphonenumber does not know is a configuration error.
        let err = Scrubber::builder().phone_regions(["XX"]).build().unwrap_err();
        assert!(err.to_string().contains("XX"), "{err}");
    }

    #[test]
    fn shapes_other_numbers_share_need_a_valid_number() {
        // A trunk `0` and groups: valid in France (a mobile), and shaped
        // the same but valid in no default region (the old rule took any
        // 9-12 grouped digits after a `0`). Germany's and Japan's ranges
        // are wide, so most such shapes are valid somewhere.
        assert_eq!(found(&scrubber(), "on 06 12 34 56 78 ok"), [("phone", "06 12 34 56 78".to_owned())]);
        assert!(found(&scrubber(), "batch 0111 111 1111 done").is_empty());
        assert!(found(&scrubber(), "batch 0199 999 9999 done").is_empty());
        // A Unix time after a context word is no Indian number.
        assert!(found(&scrubber(), "cell 1600859344").is_empty());
    }
}

mod plain_words {
    //! Lower-case words after a space are passed over eight bytes at a
    //! time: a finding that begins with lower-case letters is found wherever
    //! it falls against those eight-byte steps.
    use super::*;

    #[test]
    fn findings_are_found_at_every_offset_after_plain_words() {
        let values = [
            ("github_token", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
            ("slack_token", "xoxb-123456789012-abcdefABCDEF"),
            ("ipv6", "fe80::1ff:fe23:4567:890a"),
            ("ipv6", "dead:beef::1:2"),
            ("email", "jane@example.com"),
            ("stripe_key", "sk_live_abcdefghijklmnopqrstuvwx"),
            ("crypto_address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ];
        let s = scrubber();
        for (kind, value) in values {
            for pad in 0..17 {
                let text = format!("please check the dashboard {} and, then {value} today", "x".repeat(pad));
                let at = text.find(value).unwrap();
                let found: Vec<_> = s.find(&text).into_iter().map(|f| (f.kind(), f.range())).collect();
                assert_eq!(found, [(kind, at..at + value.len())], "{text:?}");
            }
        }
    }
}
