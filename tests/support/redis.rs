//! A real `redis-server` on a free loopback port, for the Redis tests and
//! benches. Started from the Debian package's binary (`.ci/run` installs it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// More `redis-server` arguments (TLS, cluster mode).
    args: Vec<String>,
}

impl RedisServer {
    /// Starts a server without persistence on a free port.
    ///
    /// # Panics
    ///
    /// If `redis-server` is missing or does not answer within 10 s.
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// Starts a server with more arguments, on a free plain port (which the
    /// test helpers use) besides whatever the arguments open.
    pub fn start_with(args: Vec<String>) -> Self {
        let port = free_port();
        let mut server = Self { child: None, port, args };
        server.restart();
        server
    }

    /// A started server, or `None` with a message on the terminal when
    /// `redis-server` is not installed, so that `cargo test` on a machine
    /// without it skips the Redis tests visibly instead of failing. With
    /// `WSGUARD_REQUIRE_REDIS` set (CI sets it), a missing server fails.
    #[allow(dead_code)] // not every binary including this file uses it
    pub fn start_or_skip(test: &str) -> Option<Self> {
        if Self::is_installed() {
            return Some(Self::start());
        }
        assert!(
            std::env::var_os("WSGUARD_REQUIRE_REDIS").is_none(),
            "{test}: redis-server is not installed and WSGUARD_REQUIRE_REDIS is set"
        );
        // Straight to the stream: the test harness captures `eprintln!`.
        let _ =
            writeln!(std::io::stderr(), "SKIPPED {test}: redis-server is not installed (Debian package redis-server)");
        None
    }

    /// Whether `redis-server` is on the PATH.
    pub fn is_installed() -> bool {
        Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (as a crash would: no shutdown, no save).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian package redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command("PING") != "+PONG\r\n" {
            assert!(Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one inline command and returns the raw reply ("" if the
    /// server cannot be reached).
    pub fn command(&self, command: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return String::new() };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream.write_all(format!("{command}\r\n").as_bytes()).is_err() {
            return String::new();
        }
        let mut reply = Vec::new();
        let mut buf = [0; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            if is_complete(&reply) {
                break;
            }
        }
        String::from_utf8_lossy(&reply).into_owned()
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether `reply` is one whole simple, error, integer or bulk reply.
fn is_complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(2).position(|w| w == b"\r\n") else { return false };
    match reply.first() {
        Some(b'$') => {
            let len: i64 = std::str::from_utf8(&reply[1..end]).ok().and_then(|l| l.parse().ok()).unwrap_or(0);
            len < 0 || reply.len() >= end + 2 + len as usize + 2
        }
        _ => true,
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
