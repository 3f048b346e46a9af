//! "TLS required", directly or behind trusted proxies.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Instant;

use crate::error::ConfigError;
use crate::layer::{HandshakeRequest, Layer, TrustedProxies};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`),
/// or a single address (`127.0.0.1`, `::1`).
///
/// IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) are matched as IPv4.
///
/// # Examples
///
/// ```
/// use wsguard::layer::IpNet;
///
/// let net: IpNet = "10.0.0.0/8".parse()?;
/// assert!(net.contains("10.20.30.40".parse()?));
/// assert!(!net.contains("11.0.0.1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr` with `prefix` leading bits, or `None` if the
    /// prefix is longer than the address (32 bits for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then(|| Self { addr: mask(addr, prefix), prefix })
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// The address a per-IP count (connection caps, rate limits) is kept
/// under: an IPv4-mapped IPv6 address (a dual-stack listener's view of an
/// IPv4 peer) as the IPv4 address, another IPv6 address cut to its first
/// `ipv6_prefix` bits, since one subscriber usually holds a whole /64.
pub(crate) fn client_group(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => mask(IpAddr::V6(v6), ipv6_prefix),
        v4 => v4,
    }
}

/// `ip` with all but its first `prefix` bits cleared.
pub(crate) fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4).checked_shr(32 - u32::from(prefix.min(32))).unwrap_or(0);
            IpAddr::V4(bits.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6).checked_shr(128 - u32::from(prefix.min(128))).unwrap_or(0);
            IpAddr::V6(bits.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0).into())
        }
    }
}

impl FromStr for IpNet {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidNetwork { network: text.to_owned() };
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().map_err(|_| invalid())?)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let full = if addr.to_canonical().is_ipv4() { 32 } else { 128 };
        Self::new(addr, prefix.unwrap_or(full)).ok_or_else(invalid)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Requires the client's connection to be encrypted.
///
/// A connection passes when the adapter's stream is TLS
/// ([`PeerInfo::is_tls`](crate::PeerInfo::is_tls)), or when it comes from a
/// trusted proxy whose forwarding header says the client used `https`
/// (`X-Forwarded-Proto: https` or `Forwarded: proto=https`). The header is
/// ignored from any other peer, since a client can send it itself; and only
/// its last entry counts, the one the nearest proxy added.
///
/// Refused connections get [`RejectionKind::Forbidden`] (HTTP 403) by
/// default, or [`RejectionKind::UpgradeRequired`] (HTTP 426) with
/// [`refuse_with`](Self::refuse_with). Add it with
/// [`GuardBuilder::transport`](crate::GuardBuilder::transport).
///
/// # Examples
///
/// ```
/// use wsguard::layer::TransportPolicy;
///
/// let policy = TransportPolicy::require_tls().trust_proxies(["10.0.0.0/8", "::1"])?;
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TransportPolicy {
    trusted_proxies: TrustedProxies,
    refusal: RejectionKind,
}

impl TransportPolicy {
    /// Requires TLS; trusts no proxy.
    pub fn require_tls() -> Self {
        Self { trusted_proxies: TrustedProxies::default(), refusal: RejectionKind::Forbidden }
    }

    /// Trusts the forwarding headers of peers in these networks.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidNetwork`] for an entry that does not parse.
    pub fn trust_proxies<I, N>(mut self, networks: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        self.trusted_proxies = TrustedProxies::new(networks)?;
        Ok(self)
    }

    /// The rejection kind for a plain-text connection: `Forbidden` (403,
    /// the default) or `UpgradeRequired` (426).
    #[must_use]
    pub fn refuse_with(mut self, kind: RejectionKind) -> Self {
        self.refusal = kind;
        self
    }

    /// Whether a proxy trusted here says the client used `https` (read as
    /// [`TrustedProxies`] reads it, from the peer the socket saw).
    fn forwarded_https(&self, request: &HandshakeRequest, session: &Session) -> bool {
        let peer = session.proxy_addr().or(session.peer_addr());
        peer.and_then(|peer| self.trusted_proxies.client(peer, request)).is_some_and(|(_, https)| https)
    }
}

impl Layer for TransportPolicy {
    fn name(&self) -> &'static str {
        "transport"
    }

    fn on_handshake(&self, request: &HandshakeRequest, session: &mut Session, _: Instant) -> Result<(), Rejection> {
        if session.is_tls() || self.forwarded_https(request, session) {
            Ok(())
        } else {
            Err(Rejection::new(self.refusal, "tls required"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::ConnectionId;

    #[test]
    fn networks_parse_and_match() {
        let cases = [
            ("10.0.0.0/8", "10.255.0.1", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),
            ("::1", "::1", true),
            ("::1", "127.0.0.1", false),
            ("2001:db8::/64", "2001:db8::ffff:1", true),
            ("2001:db8::/64", "2001:db8:0:1::1", false),
        ];
        for (net, ip, expected) in cases {
            let net: IpNet = net.parse().unwrap();
            assert_eq!(net.contains(ip.parse().unwrap()), expected, "{net} contains {ip}");
        }
        for bad in ["10.0.0.0/33", "::/129", "10.0.0", "localhost", "10.0.0.0/x", ""] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?}");
        }
    }

    fn check(policy: &TransportPolicy, peer: &str, tls: bool, headers: &[(&str, &str)]) -> Result<(), Rejection> {
        let mut request = http::Request::get("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).unwrap();
        let mut session = Session::new(ConnectionId::new(1), Some(peer.parse().unwrap()), Instant::now()).with_tls(tls);
        policy.on_handshake(&request, &mut session, Instant::now())
    }

    #[test]
    fn tls_or_trusted_forwarding_header() {
        let policy = TransportPolicy::require_tls().trust_proxies(["10.0.0.0/8"]).unwrap();
        let proxy = "10.0.0.5:4000";
        let stranger = "203.0.113.9:4000";
        assert!(check(&policy, stranger, true, &[]).is_ok());
        assert_eq!(check(&policy, stranger, false, &[]).unwrap_err().http_status(), 403);
        // A client cannot vouch for itself.
        assert!(check(&policy, stranger, false, &[("x-forwarded-proto", "https")]).is_err());
        assert!(check(&policy, stranger, false, &[("forwarded", "proto=https")]).is_err());
        assert!(check(&policy, proxy, false, &[("x-forwarded-proto", "https")]).is_ok());
        assert!(check(&policy, proxy, false, &[("x-forwarded-proto", "http")]).is_err());
        // Only the nearest proxy's entry counts.
        assert!(check(&policy, proxy, false, &[("x-forwarded-proto", "https, http")]).is_err());
        assert!(check(&policy, proxy, false, &[("x-forwarded-proto", "http, https")]).is_ok());
        assert!(check(&policy, proxy, false, &[("forwarded", "for=1.2.3.4;proto=\"https\"")]).is_ok());
        assert!(check(&policy, proxy, false, &[("forwarded", "proto=https, for=5.6.7.8;proto=http")]).is_err());
        assert!(check(&policy, proxy, false, &[]).is_err());

        let upgrade = TransportPolicy::require_tls().refuse_with(RejectionKind::UpgradeRequired);
        assert_eq!(check(&upgrade, stranger, false, &[]).unwrap_err().http_status(), 426);
    }

    /// The guard's trusted proxies serve "TLS required" too: the policy
    /// needs no list of its own, and a client behind them cannot vouch.
    #[test]
    fn the_guards_trusted_proxies_mark_forwarded_https() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let guard = crate::Guard::builder()
            .without_auth()
            .trusted_proxies(proxies)
            .transport(TransportPolicy::require_tls())
            .build()
            .unwrap();
        let attempt = |peer: &str, proto: &str| {
            let mut session = guard.new_session(Some(peer.parse().unwrap()));
            let request = http::Request::get("/ws")
                .header("x-forwarded-for", "198.51.100.7")
                .header("x-forwarded-proto", proto)
                .body(())
                .unwrap();
            guard.check_handshake(&request, &mut session).map(|()| session.is_tls())
        };
        assert_eq!(attempt("10.0.0.5:4000", "https"), Ok(true));
        assert!(attempt("10.0.0.5:4000", "http").is_err());
        assert!(attempt("203.0.113.9:4000", "https").is_err(), "a client cannot vouch for itself");
    }
}
