//! Socket adapters: the blocking one (always available) and the tokio one
//! (feature `tokio`). Both are drivers over the public
//! [`Connection`](crate::Connection) core and nothing crate-private: they
//! feed it bytes and messages, write what it answers, and sleep until its
//! [`poll_timeout`](crate::Connection::poll_timeout).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::connection::ReadFailure;

#[cfg(feature = "axum")]
pub(crate) mod axum;
pub(crate) mod blocking;
#[cfg(feature = "tokio")]
mod coalesce;
#[cfg(feature = "tokio")]
mod driver;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

/// What the guard may learn about a connection from its stream.
///
/// The adapters record the peer address and TLS status on the
/// [`Session`](crate::Session) before any layer runs, so that rate limits
/// per IP and "TLS required" policies see them. Implemented for TCP and Unix
/// streams (std and tokio); implement it for your own stream types, or wrap
/// a foreign stream in a newtype.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use wsguard::PeerInfo;
///
/// struct MyTlsStream { inner: std::net::TcpStream }
///
/// impl PeerInfo for MyTlsStream {
///     fn peer_addr(&self) -> Option<SocketAddr> {
///         self.inner.peer_addr().ok()
///     }
///     fn is_tls(&self) -> bool {
///         true
///     }
/// }
/// ```
pub trait PeerInfo {
    /// The peer's address, if known.
    fn peer_addr(&self) -> Option<SocketAddr>;

    /// Whether the stream is encrypted with TLS. Default: `false`.
    fn is_tls(&self) -> bool {
        false
    }

    /// Sets how long a blocking read may wait (`None`: for ever). The
    /// blocking adapter sets it from the connection's next deadline, which
    /// is how it enforces the handshake timeout, the heartbeat, expiry and
    /// revocation. Default: does nothing, and then those timers act only
    /// when a read returns. Implemented for std's TCP and Unix streams.
    ///
    /// # Errors
    ///
    /// As the stream's own `set_read_timeout`.
    fn set_read_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Sets how long a blocking write may wait (`None`: for ever). The
    /// blocking adapter sets it to the
    /// [`write_timeout`](crate::Liveness::write_timeout). Default: does
    /// nothing. Implemented for std's TCP and Unix streams.
    ///
    /// # Errors
    ///
    /// As the stream's own `set_write_timeout`.
    fn set_write_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

impl<T: PeerInfo + ?Sized> PeerInfo for &mut T {
    fn peer_addr(&self) -> Option<SocketAddr> {
        (**self).peer_addr()
    }
    fn is_tls(&self) -> bool {
        (**self).is_tls()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
}

impl<T: PeerInfo + ?Sized> PeerInfo for Box<T> {
    fn peer_addr(&self) -> Option<SocketAddr> {
        (**self).peer_addr()
    }
    fn is_tls(&self) -> bool {
        (**self).is_tls()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
}

impl PeerInfo for std::net::TcpStream {
    fn peer_addr(&self) -> Option<SocketAddr> {
        std::net::TcpStream::peer_addr(self).ok()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::net::TcpStream::set_write_timeout(self, timeout)
    }
}

#[cfg(unix)]
impl PeerInfo for std::os::unix::net::UnixStream {
    fn peer_addr(&self) -> Option<SocketAddr> {
        None
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
}

/// What the connection core should hear of a WebSocket read error: a
/// message it must answer with a close (too large, not UTF-8), or `None`
/// when the connection is unusable.
fn read_failure(error: &tungstenite::Error) -> Option<ReadFailure> {
    match error {
        tungstenite::Error::Capacity(_) => Some(ReadFailure::TooLarge),
        tungstenite::Error::Utf8(_) => Some(ReadFailure::InvalidUtf8),
        _ => None,
    }
}

/// Whether an I/O error is a read or write timeout (or a would-block).
fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
