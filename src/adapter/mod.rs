//! Socket adapters: the blocking one (always available) and the tokio one
//! (feature `tokio`). Both use only the guard's public decision API, plus the
//! shared handshake plan.

use std::net::SocketAddr;

pub(crate) mod blocking;
#[cfg(feature = "tokio")]
mod coalesce;
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
}

impl<T: PeerInfo + ?Sized> PeerInfo for &mut T {
    fn peer_addr(&self) -> Option<SocketAddr> {
        (**self).peer_addr()
    }
    fn is_tls(&self) -> bool {
        (**self).is_tls()
    }
}

impl<T: PeerInfo + ?Sized> PeerInfo for Box<T> {
    fn peer_addr(&self) -> Option<SocketAddr> {
        (**self).peer_addr()
    }
    fn is_tls(&self) -> bool {
        (**self).is_tls()
    }
}

impl PeerInfo for std::net::TcpStream {
    fn peer_addr(&self) -> Option<SocketAddr> {
        std::net::TcpStream::peer_addr(self).ok()
    }
}

#[cfg(unix)]
impl PeerInfo for std::os::unix::net::UnixStream {
    fn peer_addr(&self) -> Option<SocketAddr> {
        None
    }
}
