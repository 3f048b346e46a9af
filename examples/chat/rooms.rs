//! The chat itself, shared by the chat demo (tokio adapter) and the axum
//! example: rooms, the messages of the protocol, and one connection's loop
//! over any guarded socket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wsguard::{Error, Message};

use crate::setup;

/// The page and its assets: `(path, content type, body)`.
pub const ASSETS: [(&str, &str, &str); 3] = [
    ("/", "text/html; charset=utf-8", include_str!("index.html")),
    ("/chat.js", "text/javascript; charset=utf-8", include_str!("chat.js")),
    ("/chat.css", "text/css; charset=utf-8", include_str!("chat.css")),
];
/// Headers on every HTTP answer: the page runs only its own script and
/// style, talks only to its own origin (`connect-src 'self'` covers `ws:`
/// to the same host and port), and cannot be framed (clickjacking).
pub const SECURITY_HEADERS: &str = "content-security-policy: default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'none'\r\nx-content-type-options: nosniff\r\nx-frame-options: DENY\r\n\
    referrer-policy: no-referrer\r\ncache-control: no-store\r\n";
/// Messages queued for one client before it counts as a slow consumer.
const QUEUE: usize = 256;
/// Rooms one connection may be in at once (with the `join` quota and the
/// connection caps, this bounds the rooms the server holds).
const MAX_ROOMS: usize = 8;

/// Rooms and their members' outboxes.
#[derive(Default)]
pub struct Rooms {
    next_id: u64,
    members: HashMap<String, HashMap<u64, (String, mpsc::Sender<Message>)>>,
}

pub type Shared = Arc<Mutex<Rooms>>;

/// One chat connection over a guarded socket (the tokio adapter's stream
/// or axum's socket): a writer task draining a bounded outbox, and the
/// reader handling messages that every layer passed.
pub async fn serve<W>(ws: W, user: String, app: &setup::App, rooms: &Shared)
where
    W: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Send + 'static,
{
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
}

/// Acts on one message; returns the replies for its sender.
pub fn handle(
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
            let joined = rooms.members.values().filter(|members| members.contains_key(&id)).count();
            let already = rooms.members.get(room).is_some_and(|members| members.contains_key(&id));
            if joined >= MAX_ROOMS && !already {
                let message = format!("at most {MAX_ROOMS} rooms at once");
                return vec![json!({"type": "error", "code": "too_many_rooms", "message": message})];
            }
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
            let sessions = app.kick(target);
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
pub fn broadcast(rooms: &Shared, room: &str, sender: u64, to_self: bool, message: &Value) -> bool {
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
    if members.is_empty() {
        rooms.members.remove(room);
    }
    true
}

/// Takes the connection out of every room, removing rooms left empty, so
/// the room table holds only rooms someone is in.
pub fn leave_all(rooms: &Shared, id: u64) {
    let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
    rooms.members.retain(|_, members| {
        members.remove(&id);
        !members.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> setup::App {
        setup::app(([127, 0, 0, 1], 8080).into(), &setup::Options::default()).unwrap()
    }

    /// A review found 800k joins growing the room table by 236 MB, never freed.
    #[test]
    fn rooms_are_capped_per_connection_and_removed_when_empty() {
        let (app, rooms) = (app(), Shared::default());
        let (outbox, _inbox) = mpsc::channel(QUEUE);
        let join = |id, room: &str| {
            let reply = handle(&json!({"type": "join", "room": room}), id, "u", &outbox, &app, &rooms);
            reply[0]["type"].as_str().map(str::to_owned).unwrap_or_default() + reply[0]["code"].as_str().unwrap_or("")
        };
        for i in 0..MAX_ROOMS {
            assert_eq!(join(1, &format!("r{i}")), "joined");
        }
        assert_eq!(join(1, "one-more"), "errortoo_many_rooms");
        assert_eq!(join(1, "r0"), "joined", "a room it is in can be joined again");
        assert_eq!(join(2, "r0"), "joined", "the cap is per connection");
        leave_all(&rooms, 1);
        let left: Vec<String> = rooms.lock().unwrap().members.keys().cloned().collect();
        assert_eq!(left, ["r0"], "rooms left empty are removed");
        leave_all(&rooms, 2);
        assert!(rooms.lock().unwrap().members.is_empty());
    }

    #[test]
    fn a_room_whose_members_all_fell_behind_is_removed() {
        let (app, rooms) = (app(), Shared::default());
        let (sender, keep) = mpsc::channel(QUEUE);
        let (slow, slow_inbox) = mpsc::channel(1);
        handle(&json!({"type": "join", "room": "r"}), 1, "a", &sender, &app, &rooms);
        handle(&json!({"type": "join", "room": "r"}), 2, "b", &slow, &app, &rooms);
        drop(slow_inbox);
        drop(keep);
        let message = json!({"type": "chat", "room": "r", "text": "x"});
        assert!(broadcast(&rooms, "r", 1, true, &message));
        assert!(rooms.lock().unwrap().members.is_empty(), "both outboxes are closed: the room is gone");
    }
}
