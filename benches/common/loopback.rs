//! The loopback echo harness shared by `benches/echo_throughput.rs` and
//! `examples/stack_loopback.rs`: a tokio echo server (raw or guarded) and
//! a client that streams messages on many connections.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use wsguard::Guard;

/// Starts an echo server on 127.0.0.1 on its own one-worker tokio runtime,
/// whose thread is named `name`: raw tokio-tungstenite without a guard,
/// wsguard's tokio adapter (echoing what the guard delivers) with one.
pub fn spawn_tokio(guard: Option<Guard>, name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                let guard = guard.clone();
                tokio::spawn(async move {
                    match guard {
                        None => {
                            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                            while let Some(Ok(m)) = ws.next().await {
                                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Some(guard) => {
                            let Ok(mut ws) = wsguard::tokio::accept(stream, &guard).await else { return };
                            while let Some(Ok(m)) = ws.next().await {
                                if m.is_data() && ws.send(m).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
    });
    addr
}

/// Opens `conns` connections to `addr` (with `headers` on each upgrade
/// request), streams `per_conn` copies of `text` over each and waits for
/// every echo; the elapsed time, from the first message.
pub async fn run(
    addr: SocketAddr,
    conns: usize,
    per_conn: usize,
    text: &str,
    headers: &[(&'static str, String)],
) -> Duration {
    let mut clients = Vec::new();
    for _ in 0..conns {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut request = format!("ws://{addr}/").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::client_async(request, stream).await.unwrap();
        clients.push(ws);
    }
    let payload: tungstenite::Utf8Bytes = text.into();
    let size = text.len();
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|ws| {
            let payload = payload.clone();
            tokio::spawn(async move {
                let (mut tx, mut rx) = ws.split();
                let send = async {
                    for _ in 0..per_conn {
                        tx.feed(Message::Text(payload.clone())).await.unwrap();
                    }
                    tx.flush().await.unwrap();
                };
                let receive = async {
                    for _ in 0..per_conn {
                        // An echo that is not the message (an error reply,
                        // a close) fails the run rather than counting.
                        let echo = rx.next().await.expect("the server closed").expect("read failed");
                        assert_eq!(echo.len(), size, "not an echo: {echo:?}");
                    }
                };
                tokio::join!(send, receive);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

/// The median of `v` (not empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
