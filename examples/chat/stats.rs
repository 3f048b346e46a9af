//! The guard's metrics: Prometheus text on their own port (`/metrics`, for
//! scrapers), and a summary as JSON on the page's own port (`/stats`, for
//! the page's live panel).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

/// The installed recorder's handle (the recorder is global too).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder with its HTTP listener on `addr`; call
/// it inside the runtime, before the guard sees traffic. A port in use is
/// reported and the demo goes on without metrics.
pub fn install(addr: SocketAddr) {
    match PrometheusBuilder::new().with_http_listener(addr).build() {
        Ok((recorder, exporter)) => {
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_ok() {
                tokio::spawn(exporter);
                let _ = HANDLE.set(handle);
                println!("metrics on http://{addr}/metrics");
            }
        }
        Err(e) => eprintln!("metrics off: cannot serve them on {addr}: {e}"),
    }
}

/// What the guard did so far, summed from its metrics: messages passed,
/// refused (dropped) and closed on, per layer; PII findings masked (any
/// rewriting action); handshakes; open connections.
pub fn json() -> String {
    let Some(handle) = HANDLE.get() else { return json!({"enabled": false}).to_string() };
    let mut passed = 0.0;
    let mut masked = 0.0;
    let (mut refused, mut closed, mut handshakes) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut connections = 0.0;
    let render = handle.render();
    for (name, labels, value) in render.lines().filter_map(series) {
        let label = |key: &str| labels.get(key).copied().unwrap_or("");
        match name {
            "wsguard_messages_total" => match label("outcome") {
                "passed" => passed += value,
                "dropped" => *refused.entry(label("layer")).or_insert(0.0) += value,
                _ => *closed.entry(label("layer")).or_insert(0.0) += value,
            },
            "wsguard_pii_findings_total" if !matches!(label("action"), "report" | "drop" | "close") => masked += value,
            "wsguard_handshakes_total" => *handshakes.entry(label("outcome")).or_insert(0.0) += value,
            "wsguard_connections" => connections = value,
            _ => {}
        }
    }
    json!({
        "enabled": true, "passed": passed, "masked": masked, "refused": refused,
        "closed": closed, "handshakes": handshakes, "connections": connections,
    })
    .to_string()
}

/// One Prometheus text line: name, labels, value.
fn series(line: &str) -> Option<(&str, BTreeMap<&str, &str>, f64)> {
    if line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
    let labels = labels
        .strip_suffix('}')?
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect();
    Some((name, labels, value.parse().ok()?))
}
