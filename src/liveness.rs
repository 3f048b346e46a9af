//! [`Liveness`]: heartbeat and timeouts, enforced by the connection core.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Heartbeat and connection timeouts, kept by every
/// [`Connection`](crate::Connection) on the guard's clock and enforced by
/// the drivers: the tokio adapter while the stream is polled (as every
/// reader does), the blocking adapter while [`read`](crate::GuardedWebSocket::read)
/// waits (through the stream's read timeout). Set with
/// [`GuardBuilder::liveness`](crate::GuardBuilder::liveness).
///
/// Each timeout closes the connection with 1001 "going away"
/// ([`RejectionKind::Timeout`](crate::RejectionKind::Timeout)) and a reason
/// naming it; the stream then yields [`Error::Closed`](crate::Error::Closed).
///
/// | field | default | closes with the reason |
/// |-------|---------|------------------------|
/// | `ping_interval` | 30 s after the last frame received | |
/// | `pong_timeout` | 10 s after a ping, if nothing at all was received | `no pong` |
/// | `idle_timeout` | 5 minutes without an inbound data message | `idle timeout` |
/// | `max_lifetime` | none | `connection lifetime exceeded` |
/// | `write_timeout` | 10 s stuck sending (a slow consumer) | `send timed out` |
///
/// The outbound queue is bounded: the tokio stream accepts a message only
/// when tungstenite's write buffer is below its `write_buffer_size` (128
/// KiB by default), so a sender waits for a slow consumer, and after
/// `write_timeout` the connection is dropped instead of buffered; the
/// blocking adapter sets `write_timeout` on the socket. All timers run on
/// the guard's [`Clock`](crate::time::Clock), so
/// [`ManualClock`](crate::time::ManualClock) drives them in tests.
///
/// Deserializes from e.g. `{"ping_interval_ms": 15000, "idle_timeout_ms": null}`;
/// missing fields keep their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Liveness {
    /// How long after the last frame received to send a ping; `None` sends
    /// none. Default: 30 seconds.
    #[serde(rename = "ping_interval_ms", with = "crate::layer::millis_option")]
    pub ping_interval: Option<Duration>,
    /// How long after a ping to wait for any frame (a pong, or anything
    /// else) before declaring the peer dead. Default: 10 seconds.
    #[serde(rename = "pong_timeout_ms", with = "crate::layer::millis")]
    pub pong_timeout: Duration,
    /// How long a connection may go without an inbound text or binary
    /// message; `None` for ever. Default: 5 minutes.
    #[serde(rename = "idle_timeout_ms", with = "crate::layer::millis_option")]
    pub idle_timeout: Option<Duration>,
    /// The longest a connection may live; `None` for ever. Default: `None`.
    #[serde(rename = "max_lifetime_ms", with = "crate::layer::millis_option")]
    pub max_lifetime: Option<Duration>,
    /// How long a send or flush may wait for the peer to read before the
    /// connection is dropped. Default: 10 seconds.
    #[serde(rename = "write_timeout_ms", with = "crate::layer::millis")]
    pub write_timeout: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(300)),
            max_lifetime: None,
            write_timeout: Duration::from_secs(10),
        }
    }
}

impl Liveness {
    /// No pings and no timeouts except `write_timeout`.
    pub fn off() -> Self {
        Self { ping_interval: None, idle_timeout: None, max_lifetime: None, ..Self::default() }
    }

    /// Sets [`ping_interval`](Self::ping_interval).
    #[must_use]
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets [`pong_timeout`](Self::pong_timeout).
    #[must_use]
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`max_lifetime`](Self::max_lifetime).
    #[must_use]
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }
}
