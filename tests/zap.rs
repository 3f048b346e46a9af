//! OWASP ZAP's WebSocket passive scan rules, as published in
//! zaproxy/zap-extensions (websocket add-on,
//! `scripts/templates/websocketpassive/`), run over what an ordinary user
//! of the chat demo receives: 110004 "Email address found in WebSocket
//! message", 110005 "Personally Identifiable Information via WebSocket"
//! (cards: digit groups of three or more joined across whitespace, brand
//! patterns, and the script's own Luhn check, which tests `sum % 2`), and
//! 110006 "Private IP Disclosure" (RFC 1918 IPv4 and EC2 `ip-10-0-56-78`
//! host names). The same messages sent to the admin (who may read personal
//! data) and unguarded raise the alerts, so the test can fail.

use std::net::SocketAddr;

use regex::Regex;
use wsguard::{Message, Verdict};

use crate::support::formats::{CONTEXTS, POSITIVES, renderings};

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/chat/setup.rs"]
mod setup;

/// The three rules' detection logic, ported from the scripts.
struct Zap {
    email: Regex,
    sequences: Regex,
    whitespace: Regex,
    cards: Vec<Regex>,
    private_ip: Regex,
}

impl Zap {
    fn new() -> Self {
        // JavaScript's `\d` and `\b` are ASCII; its `\s` is Unicode white space.
        let octet = "(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})";
        let ports =
            r"(:(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65([0-4][0-9]{2}|5[0-2][0-9]|53[0-5]))(?-u:\b))?";
        let b = r"(?-u:\b)";
        let private_ip = format!(
            "(?i)({b}10\\.({octet}\\.){{2}}{octet}{b}|{b}172\\.(3[01]|2[0-9]|1[6-9])\\.{octet}\\.{octet}{b}|{b}192\\.168\\.{octet}\\.{octet}{b}|{b}ip-10-({octet}-){{2}}{octet}{b}|{b}ip-172-(3[01]|2[0-9]|1[6-9])-{octet}-{octet}{b}|{b}ip-192-168-{octet}-{octet}{b}){ports}"
        );
        let cards = [
            r"(?:3[47][0-9]{13})",
            r"(?:3(?:0[0-5]|[68][0-9])[0-9]{11})",
            r"(?:6(?:011|5[0-9]{2})(?:[0-9]{12}))",
            r"(?:(?:2131|1800|35[0-9]{3})[0-9]{11})",
            r"(?:(?:5[0678][0-9][0-9]|6304|6390|67[0-9][0-9])[0-9]{8,15})",
            r"(?:(?:5[1-5][0-9]{2}|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12})",
            r"(?:4[0-9]{12})(?:[0-9]{3})?",
        ];
        Self {
            email: Regex::new(r"(?i)([a-z0-9_.+-]+@[a-z0-9]+[a-z0-9-]*\.[a-z0-9-.]*[a-z0-9]{2,})").unwrap(),
            sequences: Regex::new(r"(?:[0-9]{3,}[\s\x{feff}]*)+").unwrap(),
            whitespace: Regex::new(r"[\s\x{feff}]+").unwrap(),
            cards: cards.iter().map(|c| Regex::new(&format!("{b}{c}{b}")).unwrap()).collect(),
            private_ip: Regex::new(&private_ip).unwrap(),
        }
    }

    /// The rule ids that fire on `message`.
    fn alerts(&self, message: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        if self.email.is_match(message) {
            ids.push(110004);
        }
        let card = self.sequences.find_iter(message).any(|seq| {
            let joined = self.whitespace.replace_all(seq.as_str(), "");
            self.cards.iter().any(|re| re.find_iter(&joined).any(|m| zap_luhn(m.as_str())))
        });
        if card {
            ids.push(110005);
        }
        if self.private_ip.is_match(message) {
            ids.push(110006);
        }
        ids
    }
}

/// The script's `validateLuhnCheckSum`, as published (it tests `sum % 2`).
fn zap_luhn(digits: &str) -> bool {
    let parity = digits.len() % 2;
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c - b'0');
            if i % 2 == parity { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(2)
}

/// A session of the chat demo's guard, logged in with `token`.
fn session(app: &setup::App, addr: SocketAddr, token: &str) -> wsguard::Session {
    let request = http::Request::builder()
        .uri("/ws")
        .header("Host", addr.to_string())
        .header("Origin", format!("http://{addr}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .unwrap();
    let mut session = app.guard.new_session(Some("127.0.0.1:50000".parse().unwrap()));
    app.guard.check_handshake(&request, &mut session).unwrap();
    session
}

fn delivered(app: &setup::App, session: &mut wsguard::Session, frame: &str) -> String {
    match app.guard.outbound(Message::text(frame), session) {
        Verdict::Deliver(message) => message.as_text().unwrap().to_owned(),
        other => panic!("{frame}: {other:?}"),
    }
}

/// Messages an ordinary user may receive: the published values of the
/// kinds the rules look for, in every context and rendering.
fn messages(zap: &Zap) -> Vec<String> {
    let mut out = Vec::new();
    for &(kind, value) in POSITIVES.iter().filter(|(k, _)| matches!(*k, "email" | "credit_card" | "ipv4")) {
        for (_, render) in renderings() {
            for &(_, before, after) in CONTEXTS {
                out.push(format!("{before}{}{after}", render(value)));
            }
        }
        let _ = kind;
    }
    out.push("host ip-10-0-56-78.ec2.internal is down".to_owned());
    out.push("db at 192.168.1.20:5432, cache 10.0.0.5, mail jane.doe@example.com".to_owned());
    // The broadcast frame; kept when the rules see it at all (JavaScript's
    // `\d` does not read Arabic-Indic digits, and `\t` in JSON glues a
    // word to an address, for instance).
    out.into_iter()
        .map(|text| serde_json::json!({"type": "chat", "room": "lobby", "from": "alice", "text": text}).to_string())
        .filter(|frame| !zap.alerts(frame).is_empty())
        .collect()
}

#[test]
fn no_zap_alert_fires_on_what_a_chat_user_receives() {
    let zap = Zap::new();
    let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let app = setup::app(addr, &setup::Options::default()).unwrap();
    let mut bob = session(&app, addr, "bob-token");
    let mut admin = session(&app, addr, "admin-token");
    let messages = messages(&zap);
    assert!(messages.len() > 300, "{} messages", messages.len());
    let mut fired = Vec::new();
    for frame in &messages {
        assert!(!zap.alerts(frame).is_empty(), "unguarded, the rules see {frame}");
        assert!(!zap.alerts(&delivered(&app, &mut admin, frame)).is_empty(), "the admin reads it in full");
        let received = delivered(&app, &mut bob, frame);
        let alerts = zap.alerts(&received);
        if !alerts.is_empty() {
            fired.push(format!("{alerts:?} on {received}"));
        }
    }
    println!("{} messages, {} with alerts", messages.len(), fired.len());
    assert!(fired.is_empty(), "{} of {}:\n{}", fired.len(), messages.len(), fired.join("\n"));
}

#[test]
fn the_ported_rules_fire_on_their_own_examples_and_not_on_clean_text() {
    let zap = Zap::new();
    assert_eq!(zap.alerts("mail jane@example.com"), [110004]);
    assert_eq!(zap.alerts("card 4111 1111 1111 1111"), [110005]);
    assert_eq!(zap.alerts("from 10.0.56.78:8080 and ip-172-16-0-1"), [110006]);
    assert_eq!(zap.alerts("j***@example.com, **** **** **** 1111, ********, 8.8.8.8"), Vec::<u32>::new());
}
