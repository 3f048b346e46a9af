//! Loopback echo throughput: wsguard (limits layer, default config) against
//! raw tungstenite and raw tokio-tungstenite, side by side in one run.
//!
//! `cargo bench --features tokio --bench echo_throughput`
//!
//! For each case the raw and the guarded server are measured alternately,
//! `ROUNDS` times, and the medians are compared. Clients are tokio-tungstenite
//! on a one-thread runtime; they stream messages and read the echoes
//! concurrently. Servers: the blocking ones run a thread per connection, the
//! tokio ones a one-worker runtime, so client and server get one core each.

use std::net::{SocketAddr, TcpListener};

use tokio_tungstenite::tungstenite;
use wsguard::Guard;

#[path = "common/loopback.rs"]
mod loopback;

const ROUNDS: usize = 7;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Server {
    RawTungstenite,
    GuardedBlocking,
    RawTokioTungstenite,
    GuardedTokio,
}

fn spawn(mut server: Server) -> SocketAddr {
    // WSGUARD_BENCH_AA=1 replaces the guarded servers by raw ones: an A/A
    // run that shows the noise floor of this machine.
    if std::env::var_os("WSGUARD_BENCH_AA").is_some() {
        server = match server {
            Server::GuardedBlocking => Server::RawTungstenite,
            Server::GuardedTokio => Server::RawTokioTungstenite,
            raw => raw,
        };
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = Guard::builder().without_auth();
    if let Some(size) = std::env::var("WSGUARD_BENCH_READ_BUFFER").ok().and_then(|v| v.parse().ok()) {
        builder = builder.websocket_config(wsguard::WebSocketConfig::default().read_buffer_size(size));
    }
    let guard = builder.build().unwrap();
    match server {
        Server::RawTungstenite | Server::GuardedBlocking => {
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    stream.set_nodelay(true).unwrap();
                    let guard = guard.clone();
                    std::thread::spawn(move || {
                        if server == Server::RawTungstenite {
                            let Ok(mut ws) = tungstenite::accept(stream) else { return };
                            while let Ok(m) = ws.read() {
                                if (m.is_text() || m.is_binary()) && ws.send(m).is_err() {
                                    break;
                                }
                            }
                        } else {
                            let Ok(mut ws) = wsguard::accept(stream, &guard) else { return };
                            while let Ok(m) = ws.read() {
                                if m.is_data() && ws.send(m).is_err() {
                                    break;
                                }
                            }
                        }
                    });
                }
            });
        }
        Server::RawTokioTungstenite => return loopback::spawn_tokio(None, "raw-server"),
        Server::GuardedTokio => return loopback::spawn_tokio(Some(guard), "guarded-server"),
    }
    addr
}

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent; do a tiny run then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 1 } else { ROUNDS };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let pairs =
        [(Server::RawTungstenite, Server::GuardedBlocking), (Server::RawTokioTungstenite, Server::GuardedTokio)];
    println!(
        "{:<22} {:>5} {:>7} {:>14} {:>14} {:>7}",
        "baseline", "conns", "size", "raw msg/s", "guarded msg/s", "ratio"
    );
    for (raw, guarded) in pairs {
        let (raw_addr, guarded_addr) = (spawn(raw), spawn(guarded));
        for conns in [1, 16] {
            for size in [300, 16 * 1024] {
                let total = if quick {
                    160
                } else if size == 300 {
                    64_000
                } else {
                    8_000
                };
                let per_conn = total / conns;
                let payload = "x".repeat(size);
                let (mut raw_rates, mut guarded_rates) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    for (addr, rates) in [(raw_addr, &mut raw_rates), (guarded_addr, &mut guarded_rates)] {
                        let elapsed = rt.block_on(loopback::run(addr, conns, per_conn, &payload, &[]));
                        rates.push((per_conn * conns) as f64 / elapsed.as_secs_f64());
                    }
                }
                let (r, g) = (loopback::median(raw_rates), loopback::median(guarded_rates));
                println!("{:<22} {:>5} {:>7} {:>14.0} {:>14.0} {:>7.3}", format!("{raw:?}"), conns, size, r, g, g / r);
            }
        }
    }
}
