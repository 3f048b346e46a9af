//! What the load tools (`chat_load`, `chat_abuse`) share: waiting for the
//! chat server they started, and reading its resident memory.

use std::process::Child;
use std::time::{Duration, Instant};

/// Waits (at most 10 s) until the server accepts connections on `port`.
///
/// # Panics
///
/// If it does not.
pub async fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "the chat server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server's resident memory in bytes.
pub fn rss(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
