//! The browser chat demo: every wsguard layer in one small tokio app.
//!
//! ```text
//! cargo run --example chat                        # http://127.0.0.1:8080
//! cargo run --example chat -- 127.0.0.1:9000      # another address
//! cargo run --example chat -- --http-rejections   # refuse handshakes with HTTP statuses
//! cargo run --example chat -- --no-guard          # every layer off (for the load run)
//! cargo run --example chat -- --load-users 500    # tokens load-0-token .. load-499-token
//! ```
//!
//! Open the address in a browser, pick a token (`alice-token` and
//! `bob-token` are users, `admin-token` is an admin) and chat. `GET /`
//! serves the page (no external assets); `/ws` is the WebSocket endpoint.
//! The page offers `["chat.v1", "bearer.<token>"]` as subprotocols; other
//! clients may send `Authorization: Bearer <token>`.
//!
//! Messages in: `{"type":"join","room":"lobby"}`,
//! `{"type":"chat","room":"lobby","text":"..."}`,
//! `{"type":"typing","room":"lobby"}`, and (admins only)
//! `{"type":"kick","user":"alice"}`. Messages out:
//! `{"type":"chat","room":..,"from":..,"text":..}` to the room,
//! `{"type":"typing",..}`, `{"type":"joined",..}`, `{"type":"kicked",..}` and
//! `{"type":"notice","text":..}` explaining what a layer did.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wsguard::{Error, Message};

mod setup;

/// The page, served at `/`.
const PAGE: &str = include_str!("index.html");
/// Messages queued for one client before it counts as a slow consumer.
const QUEUE: usize = 256;

/// Rooms and their members' outboxes.
#[derive(Default)]
struct Rooms {
    next_id: u64,
    members: HashMap<String, HashMap<u64, (String, mpsc::Sender<Message>)>>,
}

type Shared = Arc<Mutex<Rooms>>;

fn main() -> ExitCode {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut options = setup::Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http-rejections" => options.http_rejections = true,
            "--no-guard" => options.guard = false,
            "--load-users" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => options.load_users = n,
                None => {
                    eprintln!("--load-users needs a number");
                    return ExitCode::from(2);
                }
            },
            other => match other.parse() {
                Ok(a) => addr = a,
                Err(_) => {
                    eprintln!(
                        "unknown argument {other:?}\nusage: chat [ADDR] [--http-rejections] [--no-guard] [--load-users N]"
                    );
                    return ExitCode::from(2);
                }
            },
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async move {
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
        while let Ok((stream, _)) = listener.accept().await {
            let (app, rooms) = (app.clone(), rooms.clone());
            tokio::spawn(async move { route(stream, &app, &rooms).await });
        }
        ExitCode::SUCCESS
    })
}

/// Serves the page, or hands `/ws` to the guard.
async fn route(mut stream: TcpStream, app: &setup::App, rooms: &Shared) {
    let Some(path) = peek_path(&stream).await else { return };
    match path.as_str() {
        "/ws" => {
            if let Err(e) = chat(stream, app, rooms).await {
                eprintln!("connection ended: {e}");
            }
        }
        "/" | "/index.html" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                PAGE.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(PAGE.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        _ => {
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        }
    }
}

/// The request's path, read without consuming it (the guard reads the
/// request again); `None` if it does not arrive within 5 seconds.
async fn peek_path(stream: &TcpStream) -> Option<String> {
    let mut buf = [0u8; 2048];
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

/// One chat connection: a writer task draining a bounded outbox, and the
/// reader handling messages that every layer passed.
async fn chat(stream: TcpStream, app: &setup::App, rooms: &Shared) -> Result<(), Error> {
    let ws = wsguard::tokio::accept(stream, &app.guard).await?;
    let user = ws.session().principal().map_or_else(|| "anonymous".to_owned(), |p| p.id.clone());
    let (mut sink, mut stream) = ws.split();
    let (outbox, mut inbox) = mpsc::channel::<Message>(QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(message) = inbox.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let id = {
        let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.next_id += 1;
        rooms.next_id
    };
    while let Some(next) = stream.next().await {
        let text = match next {
            Ok(Message::Text(text)) => text,
            Ok(_) => continue,
            // A layer closed the connection: keep reading to finish the close handshake.
            Err(Error::Closed(_)) => continue,
            Err(e) => {
                eprintln!("{user}: {e}");
                break;
            }
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
        for reply in handle(&message, id, &user, &outbox, app, rooms) {
            if outbox.try_send(Message::text(reply.to_string())).is_err() {
                break;
            }
        }
    }
    leave_all(rooms, id);
    drop(outbox);
    let _ = writer.await;
    Ok(())
}

/// Acts on one message; returns the replies for its sender.
fn handle(
    message: &Value,
    id: u64,
    user: &str,
    outbox: &mpsc::Sender<Message>,
    app: &setup::App,
    rooms: &Shared,
) -> Vec<Value> {
    let room = message["room"].as_str().unwrap_or_default();
    match message["type"].as_str() {
        Some("join") => {
            let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
            rooms.members.entry(room.to_owned()).or_default().insert(id, (user.to_owned(), outbox.clone()));
            vec![json!({"type": "joined", "room": room, "user": user})]
        }
        Some("chat") => {
            let text = message["text"].as_str().unwrap_or_default();
            if !broadcast(rooms, room, id, true, &json!({"type": "chat", "room": room, "from": user, "text": text})) {
                return vec![json!({"type": "error", "code": "not_joined", "message": "join the room first"})];
            }
            app.notices(text).into_iter().map(|text| json!({"type": "notice", "text": text})).collect()
        }
        Some("typing") => {
            broadcast(rooms, room, id, false, &json!({"type": "typing", "room": room, "from": user}));
            Vec::new()
        }
        Some("kick") => {
            let target = message["user"].as_str().unwrap_or_default();
            let sessions = app.guard.sessions().revoke_principal(target);
            vec![json!({"type": "kicked", "user": target, "sessions": sessions})]
        }
        _ => Vec::new(),
    }
}

/// Sends `message` to the room's members (and the sender if `to_self`);
/// false if the sender is not in the room. A member whose outbox is full is
/// a slow consumer: it is removed from the room rather than buffered for,
/// and the adapter's write timeout closes its connection if it stopped
/// reading altogether.
fn broadcast(rooms: &Shared, room: &str, sender: u64, to_self: bool, message: &Value) -> bool {
    let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
    let Some(members) = rooms.members.get_mut(room) else { return false };
    if !members.contains_key(&sender) {
        return false;
    }
    let text = message.to_string();
    members.retain(|id, (_, outbox)| {
        if *id == sender && !to_self {
            return true;
        }
        outbox.try_send(Message::text(text.clone())).is_ok()
    });
    true
}

fn leave_all(rooms: &Shared, id: u64) {
    let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
    for members in rooms.members.values_mut() {
        members.remove(&id);
    }
}
