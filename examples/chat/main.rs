//! The browser chat demo: every wsguard layer in one small tokio app.
//!
//! ```text
//! cargo run --example chat                        # http://127.0.0.1:8080
//! cargo run --example chat -- 127.0.0.1:9000      # another address
//! cargo run --example chat -- --http-rejections   # refuse handshakes with HTTP statuses
//! cargo run --example chat -- --no-guard          # every layer off (for the load run)
//! cargo run --example chat -- --load-users 500    # tokens load-0-token .. load-499-token
//! cargo run --example chat -- --log-json          # audit events as JSON lines (filter: RUST_LOG)
//! cargo run --example chat -- --metrics 127.0.0.1:9899  # Prometheus metrics elsewhere (default :9898)
//! cargo run --example chat -- --config examples/chat/chat.toml  # the guard from a file (this one is the default)
//! cargo run --example chat -- 127.0.0.1:8082 --redis redis://127.0.0.1:6379/ --metrics 127.0.0.1:9899
//!                                                 # one of a fleet: kicks, the deny-list and
//!                                                 # per-user rate limits shared through Redis
//! ```
//!
//! Run several instances with the same `--redis` (each on its own address
//! and `--metrics` port): an admin's kick on one closes the user's sessions
//! on all of them with 4403, and no instance lets the user back in for a
//! minute. Chat messages are delivered only within an instance (fan-out is
//! not shared); the page says so.
//!
//! ```text
//! ```
//!
//! Open the address in a browser, pick a token (`alice-token` and
//! `bob-token` are users, `admin-token` is an admin) and chat. `GET /`
//! serves the page (no external assets); `/ws` is the WebSocket endpoint.
//! The page offers `["chat.v1", "bearer.<token>"]` as subprotocols; other
//! clients may send `Authorization: Bearer <token>`.
//!
//! The guard's metrics are served in Prometheus text format on their own
//! port (`http://127.0.0.1:9898/metrics`); the page's panel polls a JSON
//! summary of them (`/stats`) and charts what the guard passed, refused,
//! masked and closed.
//!
//! Messages in: `{"type":"join","room":"lobby"}`,
//! `{"type":"chat","room":"lobby","text":"..."}`,
//! `{"type":"typing","room":"lobby"}`, and (admins only)
//! `{"type":"kick","user":"alice"}`. Messages out:
//! `{"type":"chat","room":..,"from":..,"text":..}` to the room,
//! `{"type":"typing",..}`, `{"type":"joined",..}`, `{"type":"kicked",..}` and
//! `{"type":"notice","text":..}` explaining what a layer did. A connection
//! is in at most 8 rooms (`too_many_rooms` error beyond), joins at most one
//! room per second after a burst of 10, and empty rooms are removed.
//!
//! Every HTTP answer carries a Content-Security-Policy (own script, style
//! and origin only; no framing), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use wsguard::Error;

mod rooms;
mod setup;
mod stats;

use rooms::{ASSETS, SECURITY_HEADERS, Shared};

fn main() -> ExitCode {
    let (addr, options) = match setup::parse_args("chat", 8080) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    setup::logging(options.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async move {
        stats::install(options.metrics);
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(addr);
        let app = match setup::app(addr, &options) {
            Ok(app) => Arc::new(app),
            Err(e) => {
                eprintln!("invalid configuration: {e}");
                return ExitCode::from(2);
            }
        };
        println!("chat on http://{addr} (tokens: alice-token, bob-token, admin-token)");
        let rooms = Shared::default();
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let (app, rooms) = (app.clone(), rooms.clone());
                    tokio::spawn(async move { route(stream, &app, &rooms).await });
                }
                // Out of file descriptors (EMFILE) or a connection reset
                // before it was accepted: the server goes on. A pause lets
                // handshake timeouts free descriptors instead of spinning.
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}

/// Serves the page, or hands `/ws` to the guard.
async fn route(mut stream: TcpStream, app: &setup::App, rooms: &Shared) {
    let Some(path) = peek_path(&stream).await else { return };
    if path == "/ws" {
        if let Err(e) = chat(stream, app, rooms).await {
            eprintln!("connection ended: {e}");
        }
        return;
    }
    let path = if path == "/index.html" { "/" } else { path.as_str() };
    let (status, content_type, body) = match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, content_type, body)) => ("200 OK", *content_type, (*body).to_owned()),
        None if path == "/stats" => ("200 OK", "application/json", stats::json()),
        None => ("404 Not Found", "text/plain", String::new()),
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{SECURITY_HEADERS}connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request's path, read without consuming it (the guard reads the
/// request again); `None` if it does not arrive within 5 seconds.
async fn peek_path(stream: &TcpStream) -> Option<String> {
    // On the heap: an array here would stay in every connection's task.
    let mut buf = vec![0u8; 2048];
    let line = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = stream.peek(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
                return Some(String::from_utf8_lossy(&buf[..end]).into_owned());
            }
            if n == buf.len() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .ok()??;
    let target = line.split(' ').nth(1)?;
    Some(target.split('?').next().unwrap_or(target).to_owned())
}

/// One chat connection through the tokio adapter.
async fn chat(stream: TcpStream, app: &setup::App, rooms: &Shared) -> Result<(), Error> {
    let ws = wsguard::tokio::accept(stream, &app.guard).await?;
    let user = ws.session().principal().map_or_else(|| "anonymous".to_owned(), |p| p.id.clone());
    rooms::serve(ws, user, app, rooms).await;
    Ok(())
}
