//! Loopback echo throughput of the full stack against raw tokio-tungstenite,
//! interleaved in one run, with the ratios printed.
//!
//! ```sh
//! cargo run --release --features tokio --example stack_loopback
//! cargo run --release --features tokio --example stack_loopback -- --rounds 7 --conns 16,256 --sizes 300,1024,16384
//! ```
//!
//! Two servers on 127.0.0.1, each a one-worker tokio runtime: raw
//! tokio-tungstenite echoing every data message, and wsguard's tokio adapter
//! with the full stack of `benches/common/stack.rs` (origin allow-list,
//! static bearer token, a per-type quota, a JSON schema for `chat`, RBAC
//! rules for `chat` both ways, PII masking both ways) echoing what the
//! guard delivers. The client, on a one-thread runtime of its own, opens
//! `conns` connections (with the origin and token, which the raw server
//! ignores), streams `chat` messages of each size on all of them and waits
//! for every echo. Rounds alternate raw and guarded, so both see the same
//! machine; the medians and their ratio are printed.
//!
//! The last columns are each server's CPU time per echo (its one worker
//! thread, user and system, from `/proc`: Linux only, 10 ms ticks), raw /
//! guarded: what the guard adds in a real loop, cold caches included.
//!
//! `--read-buffer BYTES` sets the guarded server's read buffer (default:
//! the guard's default); `--guard limits` swaps the full stack for the
//! default guard (`--guard full`, the default, keeps it).

use std::time::Duration;

use loopback::{median, run, spawn_tokio};

#[path = "../benches/common/loopback.rs"]
mod loopback;
#[path = "../benches/common/stack.rs"]
mod stack;

struct Options {
    rounds: usize,
    conns: Vec<usize>,
    sizes: Vec<usize>,
    read_buffer: Option<usize>,
    full_stack: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        rounds: 5,
        conns: vec![16, 256],
        sizes: vec![300, 1024, 16 * 1024],
        read_buffer: None,
        full_stack: true,
    };
    let list = |v: Option<String>| -> Result<Vec<usize>, String> {
        v.ok_or("missing value")?.split(',').map(|n| n.trim().parse().map_err(|e| format!("{n:?}: {e}"))).collect()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => o.rounds = list(args.next())?.first().copied().ok_or("--rounds needs a number")?,
            "--conns" => o.conns = list(args.next())?,
            "--sizes" => o.sizes = list(args.next())?,
            "--read-buffer" => o.read_buffer = list(args.next())?.first().copied(),
            "--guard" => {
                o.full_stack = match args.next().as_deref() {
                    Some("full") => true,
                    Some("limits") => false,
                    other => return Err(format!("--guard takes full or limits, not {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?} (see the example's docs)")),
        }
    }
    if o.sizes.iter().any(|&s| s < 64) {
        return Err("sizes start at 64 bytes".into());
    }
    if o.rounds == 0 || o.conns.contains(&0) {
        return Err("rounds and connections start at 1".into());
    }
    Ok(o)
}

/// The servers' thread names, by which their CPU time is found.
const RAW: &str = "raw-server";
const GUARDED: &str = "guarded-server";

/// The CPU time (user and system) of this process's threads named `name`,
/// from `/proc` (Linux; 10 ms ticks, so runs should last seconds), or
/// `None` where that cannot be read.
fn cpu_time(name: &str) -> Option<Duration> {
    let mut ticks = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if std::fs::read_to_string(task.path().join("comm")).ok()?.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the parenthesised name: state is the first; utime
        // and stime are the 12th and 13th.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(Duration::from_millis(ticks * 10))
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("stack_loopback: {e}");
            std::process::exit(2);
        }
    };
    // Every client is alice on 127.0.0.1: the per-user and per-IP
    // connection caps (5 and 20 by default) would refuse most of them.
    let mut builder = stack::builder(if o.full_stack { stack::STEPS.len() - 1 } else { 0 })
        .connection_caps(wsguard::ConnectionCaps::unlimited());
    if let Some(size) = o.read_buffer {
        builder = builder.websocket_config(wsguard::WebSocketConfig::default().read_buffer_size(size));
    }
    let guard = builder.build().unwrap();
    let (raw, guarded) = (spawn_tokio(None, RAW), spawn_tokio(Some(guard), GUARDED));
    // The raw server ignores these.
    let headers = [("origin", stack::ORIGIN.to_owned()), ("authorization", format!("Bearer {}", stack::TOKEN))];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!(
        "{:>5} {:>7} {:>12} {:>14} {:>7} {:>16}   rounds: guarded/raw",
        "conns", "size", "raw msg/s", "guarded msg/s", "ratio", "server µs/echo"
    );
    for &conns in &o.conns {
        for &size in &o.sizes {
            let text = stack::chat(size);
            // About 200 MB or 64,000 messages per run, whichever is fewer:
            // long enough for the 10 ms CPU ticks.
            let total = (200_000_000 / size).clamp(conns, 64_000);
            let per_conn = total.div_ceil(conns);
            let messages = (per_conn * conns) as f64;
            let (mut raw_rates, mut guarded_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let mut cpu = [Duration::ZERO; 2];
            for _ in 0..o.rounds {
                let mut rate = |addr, k: usize, name| {
                    let before = cpu_time(name).unwrap_or_default();
                    let elapsed = rt.block_on(run(addr, conns, per_conn, &text, &headers));
                    cpu[k] += cpu_time(name).unwrap_or_default().saturating_sub(before);
                    messages / elapsed.as_secs_f64()
                };
                let r = rate(raw, 0, RAW);
                let g = rate(guarded, 1, GUARDED);
                raw_rates.push(r);
                guarded_rates.push(g);
                ratios.push(format!("{:.2}", g / r));
            }
            let (r, g) = (median(raw_rates), median(guarded_rates));
            // The servers' CPU per echo over all rounds: raw, then guarded.
            let per_echo = |d: Duration| d.as_secs_f64() * 1e6 / (messages * o.rounds as f64);
            let cpu = format!("{:.1} / {:.1}", per_echo(cpu[0]), per_echo(cpu[1]));
            println!("{conns:>5} {size:>7} {r:>12.0} {g:>14.0} {:>7.3} {cpu:>16}   {}", g / r, ratios.join(" "));
        }
    }
}
