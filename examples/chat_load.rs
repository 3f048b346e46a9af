//! Load run of the chat demo: every layer on versus every layer off, in one run.
//!
//! ```text
//! cargo build --release --example chat
//! cargo run --release --example chat_load                      # 200 clients, 10 rooms, 10 s each
//! cargo run --release --example chat_load -- 500 20 15          # clients, rooms, seconds
//! ```
//!
//! Starts `target/release/examples/chat` twice on free loopback ports, once
//! as the demo (every layer: authentication, origin, rate limits, schemas,
//! RBAC, PII scrubbing) and once with `--no-guard` (only the always-on size
//! limits), and drives each with the same clients: each joins a room and
//! sends a chat message every 250 ms (under the demo's 5 per second
//! quota), which the server broadcasts to the room. Reports, per mode:
//! messages delivered per second (all recipients), the latency from send to
//! the sender's own copy coming back (p50, p99), and the server's resident
//! memory per connection (growth from before connecting to all connected).
//!
//! Each client is its own user (`--load-users`), and clients are spread
//! over source addresses 127.0.0.2, 127.0.0.3, ... ten per address, so the
//! demo's per-principal and per-IP caps (5 and 20) and its 10 handshakes
//! per second per IP admit them, as they would real users.

#[path = "load/server.rs"]
mod server;

use server::rss;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

struct Report {
    delivered_per_sec: f64,
    p50: Duration,
    p99: Duration,
    rss_per_conn: f64,
    sent: u64,
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (clients, rooms, secs) =
        (args.first().copied().unwrap_or(200), args.get(1).copied().unwrap_or(10), args.get(2).copied().unwrap_or(10));
    let server = std::env::current_exe().ok().and_then(|p| Some(p.parent()?.join("chat"))).unwrap_or_default();
    if !server.exists() {
        eprintln!("build the server first: cargo build --release --example chat (looked for {})", server.display());
        std::process::exit(2);
    }
    println!("{clients} clients in {rooms} rooms, one chat message per client every 250 ms, {secs} s per mode");
    let mut reports = Vec::new();
    for (mode, flags) in [("every layer on", &[][..]), ("every layer off", &["--no-guard"][..])] {
        let report = run(&server, flags, clients, rooms, Duration::from_secs(secs)).await;
        println!(
            "{mode:16} {:>9.0} msg/s delivered ({} sent)  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>6.1} KiB per connection",
            report.delivered_per_sec,
            report.sent,
            report.p50.as_secs_f64() * 1e3,
            report.p99.as_secs_f64() * 1e3,
            report.rss_per_conn / 1024.0
        );
        reports.push(report);
    }
    let (on, off) = (&reports[0], &reports[1]);
    println!(
        "on/off: throughput {:.2}, p50 {:.2}, p99 {:.2}, memory per connection {:.2}",
        on.delivered_per_sec / off.delivered_per_sec,
        on.p50.as_secs_f64() / off.p50.as_secs_f64(),
        on.p99.as_secs_f64() / off.p99.as_secs_f64(),
        on.rss_per_conn / off.rss_per_conn
    );
}

async fn run(server: &PathBuf, flags: &[&str], clients: u64, rooms: u64, duration: Duration) -> Report {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(server)
        .arg(format!("127.0.0.1:{port}"))
        .args(flags)
        .args(["--load-users", &clients.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the chat server starts");
    server::wait_until_listening(port).await;
    let before = rss(&child);
    let delivered = Arc::new(AtomicU64::new(0));
    let mut connections = Vec::new();
    for i in 0..clients {
        let mut request = format!("ws://127.0.0.1:{port}/ws").into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer load-{i}-token").parse().unwrap());
        request.headers_mut().insert("origin", format!("http://127.0.0.1:{port}").parse().unwrap());
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        let source = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(127, 0, 0, 2)) + (i / 10) as u32);
        socket.bind((source, 0).into()).unwrap();
        let stream = socket.connect(([127, 0, 0, 1], port).into()).await.expect("connects");
        let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await.expect("upgrades");
        let room = format!("room-{}", i % rooms);
        ws.send(Message::text(format!(r#"{{"type":"join","room":"{room}"}}"#))).await.unwrap();
        let _joined = ws.next().await;
        connections.push((ws, room));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected = rss(&child);
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, (ws, room))| {
            let delivered = delivered.clone();
            tokio::spawn(async move { client(ws, room, format!("c{i}"), start, duration, delivered).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut sent = 0;
    for task in tasks {
        let (s, l) = task.await.unwrap();
        sent += s;
        latencies.extend(l);
    }
    let elapsed = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    latencies.sort();
    let pick = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    Report {
        delivered_per_sec: delivered.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
        rss_per_conn: connected.saturating_sub(before) as f64 / clients as f64,
        sent,
    }
}

/// Sends a message every 250 ms for `duration`, counts every chat message
/// received, and measures its own messages' round trips.
async fn client<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    room: String,
    me: String,
    start: Instant,
    duration: Duration,
    delivered: Arc<AtomicU64>,
) -> (u64, Vec<Duration>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let mut latencies = Vec::new();
    let mut sent = 0u64;
    let end = start + duration;
    let drain_until = end + Duration::from_secs(2);
    loop {
        tokio::select! {
            _ = ticker.tick(), if Instant::now() < end => {
                let at = start.elapsed().as_nanos();
                let text = format!(r#"{{"type":"chat","room":"{room}","text":"{me} {at} hello"}}"#);
                if tx.send(Message::text(text)).await.is_err() {
                    break;
                }
                sent += 1;
            }
            next = rx.next() => {
                let Some(Ok(Message::Text(text))) = next else { break };
                if !text.contains(r#""type":"chat""#) {
                    continue;
                }
                delivered.fetch_add(1, Ordering::Relaxed);
                // The sender's own copy: "<me> <nanos> hello".
                let marker = format!(r#""text":"{me} "#);
                if let Some(rest) = text.split(&marker).nth(1)
                    && let Some(at) = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok()) {
                        latencies.push(start.elapsed().saturating_sub(Duration::from_nanos(at)));
                    }
            }
            _ = tokio::time::sleep_until(drain_until.into()) => break,
        }
    }
    (sent, latencies)
}
