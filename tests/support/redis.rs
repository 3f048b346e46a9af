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

/// A Redis Cluster of three primaries on free loopback ports, made with
/// `redis-cli --cluster create`; killed when dropped.
#[allow(dead_code)] // not every binary including this file uses it
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    dirs: Vec<std::path::PathBuf>,
}

#[allow(dead_code)]
impl RedisCluster {
    /// Starts the cluster, or `None` (said on the terminal) when
    /// `redis-server` or `redis-cli` is missing and `WSGUARD_REQUIRE_REDIS`
    /// is not set.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        let cli = Command::new("redis-cli").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
        if !(RedisServer::is_installed() && cli) {
            RedisServer::start_or_skip(test)?;
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: redis-cli is not installed");
            return None;
        }
        let mut dirs = Vec::new();
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let dir =
                    std::env::temp_dir().join(format!("wsguard-cluster-{}-{i}-{}", std::process::id(), free_port()));
                std::fs::create_dir_all(&dir).unwrap();
                let args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000", "--dir"];
                let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
                args.push(dir.to_str().unwrap().to_owned());
                dirs.push(dir);
                RedisServer::start_with(args)
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let status = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !nodes.iter().all(|n| n.command("CLUSTER INFO").contains("cluster_state:ok")) {
            assert!(Instant::now() < deadline, "the cluster did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { nodes, dirs })
    }

    /// `redis://127.0.0.1:<port>/` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
