//! The blocking adapter over an in-memory stream: the request-head reader,
//! the handshake planner, tungstenite's frame reader and every layer of the
//! full stack, on bytes as a client would send them.
//!
//! Properties beyond "no panic, no hang":
//! - what a refused input is never delivered: every message the
//!   application reads from alice has the stack's properties
//!   (`common::assert_inbound_allowed`), and what it echoes back reaches the
//!   wire only as the outbound layers allow;
//! - the same messages give the same deliveries and the same bytes on the
//!   wire whether each data message arrives whole or in fragments;
//! - memory per connection stays bounded: the peak heap while a connection
//!   runs stays under 256 KiB plus 64 times the input.
//!
//! `cargo +nightly fuzz run accept -- -timeout=2 -max_len=8192`
//!
//! Input: the first byte's low bit picks raw mode (the rest is the whole
//! byte stream, request head included) or structured mode (a valid
//! upgrade request for alice, then the rest split at 0xFF into messages,
//! each led by a byte that picks its opcode; bits 1-3 of the first byte
//! pick the fragment size).

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Cursor, Read, Write};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wsguard::time::ManualClock;
use wsguard::{Error, Guard, Message, PeerInfo};

#[path = "common/mod.rs"]
mod common;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A client's bytes in, the server's bytes out.
struct Duplex {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PeerInfo for Duplex {
    fn peer_addr(&self) -> Option<SocketAddr> {
        common::PEER.parse().ok()
    }
}

fn guard() -> &'static (Guard, ManualClock) {
    static GUARD: OnceLock<(Guard, ManualClock)> = OnceLock::new();
    GUARD.get_or_init(|| {
        let clock = ManualClock::new();
        (common::full_stack(clock.clone()), clock)
    })
}

const HEAD: &str = "GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
    Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://app.test\r\nAuthorization: Bearer alice-token\r\n\r\n";

/// One masked client frame.
fn frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    out.push(u8::from(fin) << 7 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}

/// The client's byte stream: the head, then each message whole
/// (`chunk == None`) or data messages in fragments of `chunk` bytes.
fn stream(messages: &[(u8, &[u8])], chunk: Option<usize>) -> Vec<u8> {
    let mut out = HEAD.as_bytes().to_vec();
    for &(pick, payload) in messages {
        let opcode = [1, 2, 9, 8][usize::from(pick % 4)];
        match chunk {
            Some(size) if opcode < 8 && payload.len() > size => {
                let pieces: Vec<&[u8]> = payload.chunks(size).collect();
                for (i, piece) in pieces.iter().enumerate() {
                    frame(&mut out, i + 1 == pieces.len(), if i == 0 { opcode } else { 0 }, piece);
                }
            }
            _ => frame(&mut out, true, opcode, payload),
        }
    }
    out
}

/// Runs one connection; returns what the application read and the bytes
/// the server wrote.
fn run(input: Vec<u8>) -> (Vec<Message>, Vec<u8>) {
    let (guard, clock) = guard();
    // Quotas and strike windows from earlier runs have long passed.
    clock.advance(Duration::from_secs(3600));
    let duplex = Duplex { input: Cursor::new(input), output: Vec::new() };
    let mut delivered = Vec::new();
    let mut ws = match wsguard::accept(duplex, guard) {
        Ok(ws) => ws,
        Err(Error::HandshakeRejected(_)) | Err(Error::Io(_)) => return (delivered, Vec::new()),
        Err(e) => panic!("handshake: {e:?}"),
    };
    let alice = ws.session().principal().is_some_and(|p| p.id == "alice@example.com");
    for _ in 0..10_000 {
        match ws.read() {
            Ok(message) => {
                if let (true, Message::Text(text)) = (alice, &message) {
                    common::assert_inbound_allowed(text);
                }
                if message.is_data() {
                    let _ = ws.send(message.clone());
                }
                delivered.push(message);
            }
            Err(_) => break,
        }
    }
    let output = std::mem::take(&mut ws.get_mut().output);
    (delivered, output)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    // Built once, outside the measurement.
    let _ = (guard(), common::checker());
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    if flags & 1 == 1 {
        let _ = run(rest.to_vec());
    } else {
        let messages: Vec<(u8, &[u8])> =
            rest.split(|&b| b == 0xFF).filter_map(|m| m.split_first().map(|(&p, body)| (p, body))).collect();
        let whole = run(stream(&messages, None));
        let chunk = 1 + usize::from(flags >> 1 & 0b111) * 3;
        let fragmented = run(stream(&messages, Some(chunk)));
        assert_eq!(whole.0, fragmented.0, "deliveries differ whole and in fragments of {chunk}");
        assert_eq!(whole.1, fragmented.1, "wire bytes differ whole and in fragments of {chunk}");
    }
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(peak <= 256 * 1024 + 64 * data.len(), "peak heap {peak} bytes for {} input bytes", data.len());
});
