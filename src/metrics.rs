//! The guard's metrics, through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`).
//!
//! Install any `metrics` recorder (for Prometheus,
//! `metrics-exporter-prometheus`) and the guard reports:
//!
//! | metric | type | labels |
//! |--------|------|--------|
//! | `wsguard_handshakes_total` | counter | `outcome` (`accepted`, `rejected`), `reason` (`none`, or the [`RejectionKind`](crate::RejectionKind): `unauthenticated`, `forbidden`, `rate_limited`, `timeout`, ...) |
//! | `wsguard_messages_total` | counter | `direction` (`inbound`, `outbound`), `layer` (the deciding layer's [`name`](crate::Layer::name); `none` for a pass), `outcome` (`passed`, `dropped`, `closed`) |
//! | `wsguard_pii_findings_total` | counter | `kind` (a PII kind or custom detector name), `action` (`redact`, `mask`, `hash`, `encrypt`, `remove`, `drop`, `close`, `report`), `direction` |
//! | `wsguard_closes_total` | counter | `code` (the close code sent or received; `none` without a close frame; `other` for a code a peer chose outside 1000–1015) |
//! | `wsguard_connections` | gauge | none: upgraded connections open now |
//! | `wsguard_guard_seconds` | histogram | `direction`: the time the stack took for one message, sampled (one message in [`SAMPLE_EVERY`] per thread and direction) |
//!
//! Every label value comes from a bounded set: the crate's names, the
//! layers and detectors you configured, close codes. No principal, address
//! or text a client chose is ever a label.
//!
//! Connections, handshakes and closes are counted by a
//! [`Connection`](crate::Connection), so by every adapter; messages by
//! [`Guard::inbound`](crate::Guard::inbound) /
//! [`outbound`](crate::Guard::outbound), which every adapter calls.
//!
//! # Cost
//!
//! A passed message costs one counter increment (a handle resolved once per
//! guard, on its first message, so install the recorder before traffic
//! starts) and one thread-local tick; the `pipeline` bench's `metrics` group
//! measures it against a guard without a recorder. Without the feature,
//! every call here compiles to nothing.

use crate::message::Direction;
use crate::rejection::Rejection;
#[cfg(feature = "metrics")]
use std::sync::OnceLock;

/// One message in this many (per thread) has its time through the stack
/// recorded in `wsguard_guard_seconds`.
pub const SAMPLE_EVERY: u32 = 64;

/// The guard's handles to the per-message metrics.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    #[cfg(feature = "metrics")]
    handles: OnceLock<Handles>,
}

#[cfg(feature = "metrics")]
#[derive(Debug)]
struct Handles {
    passed: [::metrics::Counter; 2],
    seconds: [::metrics::Histogram; 2],
}

#[cfg(feature = "metrics")]
fn index(direction: Direction) -> usize {
    match direction {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

impl Metrics {
    #[cfg(feature = "metrics")]
    fn handles(&self) -> &Handles {
        self.handles.get_or_init(|| {
            let passed = |d: Direction| {
                ::metrics::counter!("wsguard_messages_total", "direction" => d.as_str(), "layer" => "none", "outcome" => "passed")
            };
            let seconds = |d: Direction| ::metrics::histogram!("wsguard_guard_seconds", "direction" => d.as_str());
            Handles {
                passed: [passed(Direction::Inbound), passed(Direction::Outbound)],
                seconds: [seconds(Direction::Inbound), seconds(Direction::Outbound)],
            }
        })
    }

    /// Runs `check` (the stack on one message), timing one call in
    /// [`SAMPLE_EVERY`] on this thread.
    #[inline]
    pub(crate) fn timed<T>(&self, direction: Direction, check: impl FnOnce() -> T) -> T {
        #[cfg(feature = "metrics")]
        {
            thread_local! {
                // One count per direction: a server that answers every
                // message would otherwise sample one direction only.
                static TICKS: [std::cell::Cell<u32>; 2] = const { [std::cell::Cell::new(0), std::cell::Cell::new(0)] };
            }
            let sampled = TICKS.with(|ticks| {
                let tick = &ticks[index(direction)];
                let n = tick.get().wrapping_add(1);
                tick.set(n);
                n % SAMPLE_EVERY == 0
            });
            if sampled {
                let start = std::time::Instant::now();
                let result = check();
                self.handles().seconds[index(direction)].record(start.elapsed());
                return result;
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = direction;
        check()
    }

    /// A message every layer passed.
    #[inline]
    pub(crate) fn passed(&self, direction: Direction) {
        #[cfg(feature = "metrics")]
        self.handles().passed[index(direction)].increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = direction;
    }
}

/// A message `layer` dropped or closed on (`outcome`: `dropped`, `closed`).
pub(crate) fn refused(direction: Direction, layer: &'static str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("wsguard_messages_total", "direction" => direction.as_str(), "layer" => layer, "outcome" => outcome)
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (direction, layer, outcome);
}

/// A handshake answered: accepted (`None`) or refused.
pub(crate) fn handshake(rejection: Option<&Rejection>) {
    #[cfg(feature = "metrics")]
    {
        let (outcome, reason) = match rejection {
            None => ("accepted", "none"),
            Some(r) => ("rejected", r.kind().as_str()),
        };
        ::metrics::counter!("wsguard_handshakes_total", "outcome" => outcome, "reason" => reason).increment(1);
        if rejection.is_none() {
            ::metrics::gauge!("wsguard_connections").increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = rejection;
}

/// An upgraded connection ended, with `code` (sent or received) if any;
/// `by_peer`: the peer chose the code.
pub(crate) fn closed(code: Option<crate::CloseCode>, by_peer: bool) {
    #[cfg(feature = "metrics")]
    {
        let code = match code.map(crate::CloseCode::get) {
            None => "none".to_owned(),
            Some(code) if by_peer && !(1000..=1015).contains(&code) => "other".to_owned(),
            Some(code) => code.to_string(),
        };
        ::metrics::counter!("wsguard_closes_total", "code" => code).increment(1);
        ::metrics::gauge!("wsguard_connections").decrement(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (code, by_peer);
}

/// `n` findings of `kind` in one frame, handled with `action`.
#[cfg(feature = "metrics")]
pub(crate) fn pii_findings(kind: &'static str, action: &'static str, direction: Direction, n: u64) {
    ::metrics::counter!("wsguard_pii_findings_total", "kind" => kind, "action" => action, "direction" => direction.as_str())
        .increment(n);
}
