//! Load and abuse run of the chat demo: many idle connections held, then
//! abusive clients while legitimate users chat.
//!
//! ```text
//! examples/chat_abuse.sh                 # raises `ulimit -n`, builds, runs with the defaults
//! examples/chat_abuse.sh 10000 100 15    # idle connections, chatting users, seconds per window
//! ```
//!
//! Starts `target/release/examples/chat` (every layer on, its defaults) on
//! a free loopback port and, from this one process:
//!
//! 1. opens `IDLE` guarded connections (10,000 by default), ten per source
//!    address 127.0.x.y (the demo allows 20 per address), each its own user,
//!    each answering pings and otherwise silent; reports handshakes per second
//!    and the server's resident memory per connection over its baseline;
//! 2. runs `USERS` legitimate users (100) chatting in 10 rooms, one message
//!    each every 250 ms, for a window without abuse and a window with it:
//!    1,000 half-open handshakes (a request line, then silence), 100
//!    slowloris senders (one header byte per second) and 20 authenticated
//!    clients flooding joins and chat messages. Reports the users' delivered
//!    messages per second and round-trip p50/p99 in each window;
//! 3. waits for the guard to close every abusive connection and reports
//!    how each ended (408, 4429, ...), and the memory afterwards.
//!
//! The idle connections stay open throughout (the demo pings them every
//! 30 s; each answers). Exits non-zero if a goal is missed: at most 16 KiB
//! per idle connection, the users' p99 during abuse at most twice its value
//! without and their delivered rate at least 0.9 times, every abusive
//! connection closed by the guard (408, 4429 or 1008), memory after the
//! abuse within 10% of before it, the server and every idle connection
//! still up.

#[path = "load/server.rs"]
mod server;

use server::rss;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// Ten connections per source address: under the demo's cap of 20 per
/// address and its handshake quota of 10 per second (burst 20).
const PER_ADDRESS: u32 = 10;
const HALF_OPEN: u32 = 1_000;
const SLOWLORIS: u32 = 100;
const FLOODERS: u32 = 20;

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let idle = args.first().copied().unwrap_or(10_000) as u32;
    let users = args.get(1).copied().unwrap_or(100) as u32;
    let window = Duration::from_secs(args.get(2).copied().unwrap_or(15));
    let server = std::env::current_exe().ok().and_then(|p| Some(p.parent()?.join("chat"))).unwrap_or_default();
    if !server.exists() {
        eprintln!("build the server first: cargo build --release --example chat (looked for {})", server.display());
        return ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(run(server, idle, users, window))
}

async fn run(server: PathBuf, idle: u32, users: u32, window: Duration) -> ExitCode {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(&server)
        .arg(format!("127.0.0.1:{port}"))
        .args(["--load-users", &(idle + users + FLOODERS).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the chat server starts");
    server::wait_until_listening(port).await;
    let mut goals = Vec::new();
    let baseline = rss(&child);
    println!("server baseline RSS {:.1} MiB", mib(baseline));

    // 1. Idle connections.
    let started = Instant::now();
    let opened = Arc::new(AtomicU64::new(0));
    let mut idle_tasks = Vec::new();
    let (hold, _) = tokio::sync::watch::channel(false);
    for batch in (0..idle).collect::<Vec<_>>().chunks(200) {
        let connecting: Vec<_> = batch
            .iter()
            .map(|&i| {
                let user = i;
                tokio::spawn(async move { connect(port, address(0, i), user).await })
            })
            .collect();
        for task in connecting {
            let Ok(Ok(ws)) = task.await else { continue };
            opened.fetch_add(1, Ordering::Relaxed);
            let mut stop = hold.subscribe();
            idle_tasks.push(tokio::spawn(async move {
                let (mut tx, mut rx) = ws.split();
                loop {
                    tokio::select! {
                        // Reading answers the server's pings.
                        next = rx.next() => if !matches!(next, Some(Ok(_))) { return false },
                        _ = stop.changed() => { let _ = tx.close().await; return true }
                    }
                }
            }));
        }
    }
    let took = started.elapsed();
    let opened = opened.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss(&child);
    let per_connection = idle_rss.saturating_sub(baseline) as f64 / opened.max(1) as f64;
    println!(
        "{opened} of {idle} idle connections open in {:.1} s: {:.0} handshakes/s; server RSS {:.1} MiB, \
         {:.1} KiB per connection over the baseline",
        took.as_secs_f64(),
        opened as f64 / took.as_secs_f64(),
        mib(idle_rss),
        per_connection / 1024.0
    );
    goals.push(("all idle connections open", opened == u64::from(idle)));
    goals.push(("at most 16 KiB per idle connection", per_connection <= 16.0 * 1024.0));

    // 2. Users chatting, without and with abuse.
    let start = Instant::now();
    let log = Arc::new(Mutex::new(Vec::<(Duration, Duration)>::new()));
    let delivered = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let end = start + 2 * window + Duration::from_secs(1);
    let mut user_tasks = Vec::new();
    for u in 0..users {
        let Ok(ws) = connect(port, address(100, u), idle + u).await else {
            println!("user {u} could not connect");
            let _ = child.kill();
            let _ = child.wait();
            return ExitCode::FAILURE;
        };
        let (log, delivered) = (log.clone(), delivered.clone());
        user_tasks.push(tokio::spawn(chat(ws, u, start, end, log, delivered)));
    }
    tokio::time::sleep_until((start + window).into()).await;
    let before_abuse = rss(&child);
    println!("abuse starts: {HALF_OPEN} half-open handshakes, {SLOWLORIS} slowloris senders, {FLOODERS} flooders");
    let outcomes = Arc::new(Mutex::new(BTreeMap::<String, u32>::new()));
    let mut abusers = Vec::new();
    for i in 0..HALF_OPEN {
        let outcomes = outcomes.clone();
        abusers.push(tokio::spawn(async move {
            let outcome = half_open(port, address(200, i), false).await;
            *outcomes.lock().unwrap().entry(format!("half-open: {outcome}")).or_default() += 1;
        }));
    }
    for i in 0..SLOWLORIS {
        let outcomes = outcomes.clone();
        abusers.push(tokio::spawn(async move {
            let outcome = half_open(port, address(300, i), true).await;
            *outcomes.lock().unwrap().entry(format!("slowloris: {outcome}")).or_default() += 1;
        }));
    }
    for f in 0..FLOODERS {
        let outcomes = outcomes.clone();
        let user = idle + users + f;
        abusers.push(tokio::spawn(async move {
            let outcome = match connect(port, address(400, f), user).await {
                Ok(ws) => flood(ws, f).await,
                Err(e) => format!("refused at the handshake: {e}"),
            };
            *outcomes.lock().unwrap().entry(format!("flooder: {outcome}")).or_default() += 1;
        }));
    }
    let mut peak = rss(&child);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak = peak.max(rss(&child));
    }
    for task in user_tasks {
        let _ = task.await;
    }
    let report = |from: Duration, to: Duration| {
        let log = log.lock().unwrap();
        let mut rtts: Vec<Duration> = log.iter().filter(|(at, _)| *at >= from && *at < to).map(|(_, d)| *d).collect();
        rtts.sort();
        let got = delivered.lock().unwrap().iter().filter(|at| **at >= from && **at < to).count();
        let pick = |q: f64| rtts.get(((rtts.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
        (got as f64 / (to - from).as_secs_f64(), pick(0.5), pick(0.99))
    };
    // The first second of each window warms up; the rest is measured.
    let one = Duration::from_secs(1);
    let before = report(one, window);
    let during = report(window + one, 2 * window);
    for (name, (rate, p50, p99)) in [("without abuse", before), ("during abuse", during)] {
        println!("users {name:14} {rate:>8.0} msg/s delivered  p50 {:>6.2} ms  p99 {:>6.2} ms", ms(p50), ms(p99));
    }
    println!(
        "during/without: delivered {:.2}, p50 {:.2}, p99 {:.2}; server RSS peak {:.1} MiB",
        during.0 / before.0,
        ms(during.1) / ms(before.1),
        ms(during.2) / ms(before.2),
        mib(peak)
    );
    goals.push(("users' p99 during abuse at most 2x without", during.2 <= 2 * before.2));
    goals.push(("users' delivered rate during abuse at least 0.9x", during.0 >= 0.9 * before.0));

    // 3. Every abusive connection closed by the guard.
    let wait = tokio::time::timeout(Duration::from_secs(30), futures_util::future::join_all(abusers)).await;
    goals.push(("every abusive connection ended within 30 s", wait.is_ok()));
    let outcomes = outcomes.lock().unwrap().clone();
    for (outcome, count) in &outcomes {
        println!("{count:>6} {outcome}");
    }
    let by_guard = |o: &str| o.contains("HTTP/1.1 408") || o.contains("close 4429") || o.contains("close 1008");
    goals.push(("every abusive connection closed by the guard", outcomes.keys().all(|o| by_guard(o))));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss(&child);
    println!(
        "server RSS: before the abuse {:.1} MiB, peak {:.1} MiB, after it {:.1} MiB ({:+.1}%)",
        mib(before_abuse),
        mib(peak),
        mib(after),
        (after as f64 / before_abuse as f64 - 1.0) * 100.0
    );
    goals.push(("memory after the abuse within 10% of before it", (after as f64) <= before_abuse as f64 * 1.1));
    goals.push(("the server is still running", child.try_wait().ok().flatten().is_none()));

    let _ = hold.send(true);
    let still_open =
        futures_util::future::join_all(idle_tasks).await.into_iter().filter(|r| matches!(r, Ok(true))).count();
    println!("{still_open} of {opened} idle connections were still open at the end");
    goals.push(("idle connections survive the run", still_open as u64 == opened));
    let _ = child.kill();
    let _ = child.wait();
    let mut ok = true;
    for (goal, met) in goals {
        println!("{} {goal}", if met { "met:    " } else { "MISSED: " });
        ok &= met;
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Source address `i` of group `group`, ten connections per address:
/// 127.<1 + group / 100>.x.y, so that groups never share an address.
fn address(group: u32, i: u32) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(127, 0, 0, 0)) + (group / 100 + 1) * 65_536;
    Ipv4Addr::from(base + 2 + i / PER_ADDRESS)
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn tcp(port: u16, source: Ipv4Addr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(([127, 0, 0, 1], port).into()).await
}

/// A guarded connection as user `load-<user>`.
async fn connect(port: u16, source: Ipv4Addr, user: u32) -> Result<Ws, String> {
    let mut request = format!("ws://127.0.0.1:{port}/ws").into_client_request().map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert("authorization", format!("Bearer load-{user}-token").parse().unwrap());
    headers.insert("origin", format!("http://127.0.0.1:{port}").parse().unwrap());
    let stream = tcp(port, source).await.map_err(|e| e.to_string())?;
    let (ws, _) = tokio_tungstenite::client_async(request, stream).await.map_err(|e| e.to_string())?;
    Ok(ws)
}

/// A user: joins a room, sends a chat message every 250 ms until `end`
/// less one second, and logs the round trip of its own messages and when
/// each room message arrived.
async fn chat(
    ws: Ws,
    u: u32,
    start: Instant,
    end: Instant,
    log: Arc<Mutex<Vec<(Duration, Duration)>>>,
    delivered: Arc<Mutex<Vec<Duration>>>,
) {
    let (mut tx, mut rx) = ws.split();
    let room = format!("room-{}", u % 10);
    let _ = tx.send(Message::text(format!(r#"{{"type":"join","room":"{room}"}}"#))).await;
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let me = format!("u{u} ");
    let stop_sending = end - Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = ticker.tick(), if Instant::now() < stop_sending => {
                let at = start.elapsed().as_nanos();
                let text = format!(r#"{{"type":"chat","room":"{room}","text":"{me}{at} hello"}}"#);
                if tx.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            next = rx.next() => {
                let Some(Ok(Message::Text(text))) = next else { return };
                if !text.contains(r#""type":"chat""#) {
                    continue;
                }
                let now = start.elapsed();
                delivered.lock().unwrap().push(now);
                if let Some(rest) = text.split(&format!(r#""text":"{me}"#)).nth(1)
                    && let Some(at) = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok()) {
                        let sent = Duration::from_nanos(at);
                        log.lock().unwrap().push((sent, now.saturating_sub(sent)));
                    }
            }
            _ = tokio::time::sleep_until(end.into()) => return,
        }
    }
}

/// A handshake that never completes: a request line, then silence or one
/// header byte per second. Returns the server's answer's status line.
async fn half_open(port: u16, source: Ipv4Addr, slowloris: bool) -> String {
    let Ok(mut stream) = tcp(port, source).await else { return "connect failed".into() };
    if stream.write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.is_err() {
        return "write failed".into();
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            _ = tokio::time::sleep(Duration::from_secs(1)), if slowloris => {
                if stream.write_all(b"a").await.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => return "still open after 60 s".into(),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    match answer.lines().next() {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => "closed without an answer".into(),
    }
}

/// An authenticated client joining rooms and sending chat messages as fast
/// as it can, until the guard closes it. Returns how it ended.
async fn flood(ws: Ws, f: u32) -> String {
    let (mut tx, mut rx) = ws.split();
    let reader = tokio::spawn(async move {
        while let Some(next) = rx.next().await {
            match next {
                Ok(Message::Close(Some(CloseFrame { code, reason }))) => {
                    return format!("close {} {reason}", u16::from(code));
                }
                Ok(Message::Close(None)) => return "close without a code".into(),
                Ok(_) => {}
                Err(e) => return format!("error {e}"),
            }
        }
        "ended without a close frame".into()
    });
    for i in 0..100_000u32 {
        let text = match i % 2 {
            0 => format!(r#"{{"type":"join","room":"flood-{f}-{i}"}}"#),
            _ => format!(r#"{{"type":"chat","room":"flood-{f}-0","text":"flood {i}"}}"#),
        };
        if tx.send(Message::text(text)).await.is_err() || reader.is_finished() {
            break;
        }
    }
    reader.await.unwrap_or_else(|_| "reader failed".into())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
