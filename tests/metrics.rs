//! Metrics through a real Prometheus recorder. A separate test binary on
//! purpose: the recorder is global, and counters must see this test's
//! traffic only.

#![allow(dead_code, unused_macros)]

#[path = "support/mod.rs"]
#[macro_use]
mod support;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use support::{Adapter, TestLayer, connect, connect_with, eventually, expect_close, spawn_echo};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode as WireCode;
use wsguard::Guard;
use wsguard::layer::OriginPolicy;
use wsguard::pii::{Action, Scrubber};

/// The value of one series in Prometheus text: `name` with exactly these
/// labels (in any order); 0 when absent.
fn value(render: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    render
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter_map(|(series, value)| {
            let (series_name, series_labels) = series.split_once('{').unwrap_or((series, "}"));
            let series_labels = series_labels.strip_suffix('}')?;
            let mut found: Vec<&str> = series_labels.split(',').filter(|l| !l.is_empty()).collect();
            let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            found.sort_unstable();
            wanted.sort_unstable();
            (series_name == name && found == wanted).then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

fn guard() -> Guard {
    let scrubber = Scrubber::builder().action("email", Action::Mask).build().unwrap();
    Guard::builder()
        .without_auth()
        .origin(OriginPolicy::new(["https://chat.example"]).unwrap().allow_missing(true))
        .layer(TestLayer::default())
        .scrub_pii(scrubber)
        .build()
        .unwrap()
}

/// One adapter's traffic: a refused handshake, 70 echoes, an email masked
/// on the way in, a drop, a peer's close with a private code, a layer's close.
fn traffic(adapter: Adapter, handle: &PrometheusHandle) {
    let addr = spawn_echo(adapter, guard());
    let hijack = connect_with(addr, |r| {
        r.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    });
    assert!(hijack.is_err(), "a foreign origin is refused");

    let mut client = connect(addr);
    eventually("the gauge counts the connection", || value(&handle.render(), "wsguard_connections", &[]) == 1.0);
    for i in 0..70 {
        client.send(Message::text(format!("hello {i}"))).unwrap();
        assert_eq!(client.read().unwrap().into_text().unwrap(), format!("hello {i}"));
    }
    client.send(Message::text("mail jane.doe@example.org")).unwrap();
    assert!(!client.read().unwrap().into_text().unwrap().contains("jane.doe"));
    client.send(Message::text("drop-me")).unwrap();
    assert!(client.read().unwrap().into_text().unwrap().contains("test_drop"));
    client.close(Some(CloseFrame { code: WireCode::Normal, reason: "".into() })).unwrap();
    while client.read().is_ok() {}

    let mut private = connect(addr);
    private.close(Some(CloseFrame { code: WireCode::from(4999), reason: "".into() })).unwrap();
    while private.read().is_ok() {}

    let mut closed = connect(addr);
    closed.send(Message::text("close-me")).unwrap();
    assert_eq!(expect_close(&mut closed).0, 1008);
    eventually("every connection is counted out", || value(&handle.render(), "wsguard_connections", &[]) == 0.0);
}

#[test]
fn the_guard_reports_handshakes_messages_findings_closes_and_connections() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();

    for (round, adapter) in [Adapter::Blocking, Adapter::Tokio, Adapter::Axum].into_iter().enumerate() {
        traffic(adapter, &handle);
        let n = (round + 1) as f64;
        let render = handle.render();
        let at = |name: &str, labels: &[(&str, &str)]| value(&render, name, labels);
        let adapter = format!("{adapter:?}\n{render}");
        assert_eq!(at("wsguard_handshakes_total", &[("outcome", "rejected"), ("reason", "forbidden")]), n, "{adapter}");
        assert_eq!(
            at("wsguard_handshakes_total", &[("outcome", "accepted"), ("reason", "none")]),
            3.0 * n,
            "{adapter}"
        );
        // 70 hellos and the email pass inbound and outbound; the drop and
        // the close are counted at their layer.
        for direction in ["inbound", "outbound"] {
            let passed = [("direction", direction), ("layer", "none"), ("outcome", "passed")];
            assert_eq!(at("wsguard_messages_total", &passed), 71.0 * n, "{adapter}");
        }
        let dropped = [("direction", "inbound"), ("layer", "test"), ("outcome", "dropped")];
        assert_eq!(at("wsguard_messages_total", &dropped), n, "{adapter}");
        let closed = [("direction", "inbound"), ("layer", "test"), ("outcome", "closed")];
        assert_eq!(at("wsguard_messages_total", &closed), n, "{adapter}");
        let masked = [("kind", "email"), ("action", "mask"), ("direction", "inbound")];
        assert_eq!(at("wsguard_pii_findings_total", &masked), n, "{adapter}");
        let again = [("kind", "email"), ("action", "mask"), ("direction", "outbound")];
        assert_eq!(at("wsguard_pii_findings_total", &again), 0.0, "the echoed mask is not found again: {adapter}");
        assert_eq!(at("wsguard_closes_total", &[("code", "1000")]), n, "{adapter}");
        assert_eq!(at("wsguard_closes_total", &[("code", "other")]), n, "a peer's own code is not a label: {adapter}");
        assert_eq!(at("wsguard_closes_total", &[("code", "1008")]), n, "{adapter}");
        assert_eq!(at("wsguard_connections", &[]), 0.0, "{adapter}");
        // The blocking adapter's connection has a thread of its own, which
        // checked 71 or more messages each way: samples in both directions.
        // (On tokio a task moves between worker threads, and each thread
        // samples on its own count: that round may add none.)
        if round == 0 {
            for direction in ["inbound", "outbound"] {
                assert!(at("wsguard_guard_seconds_count", &[("direction", direction)]) >= 1.0, "{adapter}");
            }
        }
    }

    let render = handle.render();
    // Names and labels only: a value may hold any digits (a sum of
    // seconds once read 0.0000034949999999999996).
    let labels: String =
        render.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.rsplit_once(' ')).map(|(k, _)| k).collect();
    assert!(labels.contains("kind=\"email\""), "the labels were read:\n{render}");
    for private in ["127.0.0.1", "jane", "example.org", "evil", "4999", "hello"] {
        assert!(!labels.contains(private), "{private} reached a label:\n{render}");
    }
}
