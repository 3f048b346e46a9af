//! A guarded echo server.
//!
//! ```text
//! cargo run --example echo                       # ws://127.0.0.1:9001
//! cargo run --example echo -- 127.0.0.1:9002     # another address
//! cargo run --example echo -- --max-message-bytes 16777216
//! ```
//!
//! Echoes text and binary messages unchanged, answers pings and close
//! handshakes, and applies the limits layer (64 KiB messages by default).
//! `--max-message-bytes N` raises the message and frame limits, so that a
//! protocol-conformance suite with large messages can run through the guard.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;

use wsguard::layer::Limits;
use wsguard::{Error, Guard};

fn main() -> ExitCode {
    let (addr, max_message_bytes) = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\nusage: echo [ADDR] [--max-message-bytes N]");
            return ExitCode::from(2);
        }
    };
    let mut limits = Limits::default();
    if let Some(n) = max_message_bytes {
        limits = limits.max_message_size(n).max_frame_size(n);
    }
    let guard = match Guard::builder().without_auth().limits(limits).build() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("echo server on ws://{addr} (max message {} bytes)", guard.limits().max_message_size);
    for stream in listener.incoming() {
        // An accept error (out of file descriptors, a reset before accept)
        // is one connection's: pause so that descriptors can free, go on.
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let guard = guard.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &guard) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    ExitCode::SUCCESS
}

fn serve(stream: TcpStream, guard: &Guard) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    // The adapter sets the stream's read and write timeouts itself (the
    // handshake timeout, the heartbeat, idle and expiry deadlines).
    let mut ws = wsguard::accept(stream, guard)?;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => ws.send(message)?,
            Ok(_) => {}
            Err(Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, Option<usize>), String> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 9001).into();
    let mut max = None;
    while let Some(arg) = args.next() {
        if arg == "--max-message-bytes" {
            let value = args.next().ok_or("--max-message-bytes needs a value")?;
            max = Some(value.parse().map_err(|_| format!("not a byte count: {value}"))?);
        } else {
            addr = arg.parse().map_err(|_| format!("not an address: {arg}"))?;
        }
    }
    Ok((addr, max))
}
