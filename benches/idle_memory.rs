//! Server memory per idle connection (tokio), measured as the growth of the
//! server process's RSS while `CONNS` clients connect and stay idle.
//!
//! `cargo bench --features tokio --bench idle_memory`
//!
//! The bench runs each server in a child process (this same binary with
//! `--server KIND`), so the clients' memory is not counted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use wsguard::{ConnectionCaps, Guard, WebSocketConfig};

const CONNS: usize = 2_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--server") {
        return serve(&args[i + 1]);
    }
    let quick = !args.iter().any(|a| a == "--bench");
    let conns = if quick { 20 } else { CONNS };
    println!("{:<34} {:>6} {:>16}", "server", "conns", "KiB/idle conn");
    for kind in ["raw-tokio-tungstenite", "wsguard-default", "wsguard-128k-read-buffer"] {
        let kib = measure(kind, conns);
        println!("{kind:<34} {conns:>6} {kib:>16.1}");
    }
}

fn serve(kind: &str) {
    // Every connection comes from 127.0.0.1: lift the per-IP cap.
    let builder = Guard::builder().without_auth().connection_caps(ConnectionCaps::unlimited());
    let guard = match kind {
        "wsguard-128k-read-buffer" => {
            builder.websocket_config(WebSocketConfig::default().read_buffer_size(128 * 1024)).build().unwrap()
        }
        _ => builder.build().unwrap(),
    };
    let raw = kind == "raw-tokio-tungstenite";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        while let Ok((stream, _)) = listener.accept().await {
            let guard = guard.clone();
            tokio::spawn(async move {
                if raw {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                    while ws.next().await.is_some() {}
                } else {
                    let Ok(mut ws) = wsguard::tokio::accept(stream, &guard).await else { return };
                    while ws.next().await.is_some() {}
                }
            });
        }
    });
}

fn rss_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn measure(kind: &str, conns: usize) -> f64 {
    let mut child =
        Command::new(std::env::current_exe().unwrap()).args(["--server", kind]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line.trim().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let growth = rt.block_on(async {
        // Warm up allocator and runtime with a few connections first.
        let mut clients = Vec::new();
        for _ in 0..10 {
            clients.push(tokio_tungstenite::connect_async(format!("ws://{addr}/")).await.unwrap().0);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss_kib(child.id());
        for _ in 0..conns {
            clients.push(tokio_tungstenite::connect_async(format!("ws://{addr}/")).await.unwrap().0);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib(child.id());
        drop(clients);
        after - before
    });
    child.kill().unwrap();
    child.wait().unwrap();
    growth / conns as f64
}
