//! [`TrustedProxies`]: the client's address behind load balancers and
//! reverse proxies, from `Forwarded` or `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use crate::error::ConfigError;
use crate::layer::{HandshakeRequest, IpNet};

/// The proxies whose forwarding headers the guard believes, so that caps,
/// rate limits, audit events and the [`Session`](crate::Session) see the
/// client's address instead of the proxy's. Set it with
/// [`GuardBuilder::trusted_proxies`](crate::GuardBuilder::trusted_proxies).
///
/// When the connection's peer is in one of the networks, the client is the
/// right-most address of `Forwarded: for=` (RFC 7239) or, without it,
/// `X-Forwarded-For` that is not itself a trusted proxy: each proxy appends
/// the address it saw, so everything to the left of the nearest untrusted
/// hop may be the client's own invention. A peer outside the networks is the
/// client, whatever headers it sends (they are ignored). Unreadable or
/// missing entries leave the proxy's address in place.
///
/// A trusted proxy's `X-Forwarded-Proto: https` or `Forwarded: proto=https`
/// also marks the session as TLS, for
/// [`TransportPolicy`](crate::layer::TransportPolicy).
///
/// Behind a load balancer every user otherwise shares its address, and the
/// default per-IP cap (20 connections) refuses the 21st user; see the
/// [defaults chapter](crate::manual::defaults).
///
/// # Examples
///
/// ```
/// use wsguard::Guard;
/// use wsguard::layer::TrustedProxies;
///
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "fd00::/8"])?;
/// let guard = Guard::builder().without_auth().trusted_proxies(proxies).build()?;
/// let mut session = guard.new_session(Some("10.0.0.5:40000".parse()?));
/// let request = http::Request::get("/ws").header("x-forwarded-for", "198.51.100.7, 10.0.0.9").body(())?;
/// guard.check_handshake(&request, &mut session)?;
/// assert_eq!(session.peer_addr().unwrap().ip().to_string(), "198.51.100.7");
/// assert_eq!(session.proxy_addr().unwrap().ip().to_string(), "10.0.0.5");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    proxy_protocol: bool,
}

impl TrustedProxies {
    /// Trusts the forwarding headers of peers in these networks.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidNetwork`] for an entry that does not parse.
    pub fn new<I, N>(networks: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let networks = networks.into_iter().map(|n| n.as_ref().parse()).collect::<Result<_, _>>()?;
        Ok(Self { networks, proxy_protocol: false })
    }

    /// Expects a PROXY protocol header (v1 text or v2 binary, as HAProxy
    /// and cloud load balancers in TCP mode send it) before the request
    /// from every trusted proxy, and takes the client's address from it.
    /// Forwarding headers are then ignored: a balancer in TCP mode passes
    /// the client's own headers through. A connection from a trusted proxy
    /// without the header, or a PROXY header from anyone else, is refused
    /// with 400. The byte-level adapters (blocking, tokio) read it; axum's
    /// server does not, so use a PROXY-aware listener there. Default: off.
    #[must_use]
    pub fn proxy_protocol(mut self, on: bool) -> Self {
        self.proxy_protocol = on;
        self
    }

    /// Whether connections from trusted proxies start with a PROXY header.
    pub(crate) fn expects_proxy_protocol(&self) -> bool {
        self.proxy_protocol
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client's address and whether it used TLS, as the trusted proxy
    /// `peer` reports them; `None` when `peer` is not trusted.
    pub(crate) fn client(&self, peer: SocketAddr, request: &HandshakeRequest) -> Option<(Option<SocketAddr>, bool)> {
        if self.proxy_protocol || !self.contains(peer.ip()) {
            return None;
        }
        let headers = request.headers();
        let entries = |name: http::HeaderName| -> Vec<String> {
            let values = headers.get_all(name).into_iter().filter_map(|v| v.to_str().ok());
            values.flat_map(|v| v.split(',')).map(|e| e.trim().to_owned()).collect()
        };
        let forwarded = entries(http::header::FORWARDED);
        let (hops, https) = if forwarded.is_empty() {
            let hops = entries(http::HeaderName::from_static("x-forwarded-for"));
            let proto = entries(http::HeaderName::from_static("x-forwarded-proto"));
            (hops, proto.last().is_some_and(|p| p.eq_ignore_ascii_case("https")))
        } else {
            let param = |element: &str, key: &str| {
                element.split(';').filter_map(|pair| pair.trim().split_once('=')).find_map(|(k, v)| {
                    k.trim().eq_ignore_ascii_case(key).then(|| v.trim().trim_matches('"').to_owned())
                })
            };
            let https =
                forwarded.last().and_then(|e| param(e, "proto")).is_some_and(|p| p.eq_ignore_ascii_case("https"));
            (forwarded.iter().map(|e| param(e, "for").unwrap_or_default()).collect(), https)
        };
        // Right to left: skip our own proxies; the first other hop is the
        // client. An unreadable hop ends the walk (nothing left of it can be
        // believed), and the proxy stays the address.
        let mut client = None;
        for hop in hops.iter().rev() {
            let Some(addr) = parse_hop(hop) else { break };
            if self.contains(addr.ip()) {
                continue;
            }
            client = Some(addr);
            break;
        }
        Some((client, https))
    }
}

/// What the start of a connection holds, read as a PROXY protocol header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProxyHeader {
    /// More bytes are needed.
    Partial,
    /// Not a valid PROXY header.
    Invalid,
    /// A header of `len` bytes naming the client (`None`: a health check's
    /// `LOCAL` or `UNKNOWN`, the proxy itself).
    Complete { len: usize, client: Option<SocketAddr> },
}

/// The v2 signature.
const V2: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Reads a PROXY protocol v1 or v2 header at the start of `bytes`.
pub(crate) fn proxy_header(bytes: &[u8]) -> ProxyHeader {
    let want = |prefix: &[u8]| bytes.len() < prefix.len() && prefix.starts_with(bytes);
    if want(V2) || want(b"PROXY ") {
        return ProxyHeader::Partial;
    }
    if bytes.starts_with(V2) {
        return proxy_v2(bytes);
    }
    if !bytes.starts_with(b"PROXY ") {
        return ProxyHeader::Invalid;
    }
    // v1: one line of at most 107 bytes.
    let Some(end) = bytes.iter().take(107).position(|&b| b == b'\n') else {
        return if bytes.len() < 107 { ProxyHeader::Partial } else { ProxyHeader::Invalid };
    };
    let Some(line) = bytes[..end].strip_suffix(b"\r").and_then(|l| std::str::from_utf8(l).ok()) else {
        return ProxyHeader::Invalid;
    };
    let fields: Vec<&str> = line.split(' ').collect();
    let client = match fields.as_slice() {
        ["PROXY", "UNKNOWN", ..] => None,
        ["PROXY", family @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let (Ok(ip), Ok(port)) = (src.parse::<IpAddr>(), sport.parse::<u16>()) else {
                return ProxyHeader::Invalid;
            };
            if ip.is_ipv4() != (*family == "TCP4") {
                return ProxyHeader::Invalid;
            }
            Some(SocketAddr::new(ip, port))
        }
        _ => return ProxyHeader::Invalid,
    };
    ProxyHeader::Complete { len: end + 1, client }
}

fn proxy_v2(bytes: &[u8]) -> ProxyHeader {
    let Some(header) = bytes.get(..16) else { return ProxyHeader::Partial };
    let len = 16 + usize::from(u16::from_be_bytes([header[14], header[15]]));
    let Some(body) = bytes.get(16..len) else { return ProxyHeader::Partial };
    let client = match (header[12], header[13]) {
        // LOCAL: the proxy's own connection (a health check).
        (0x20, _) => None,
        // PROXY over TCP or UDP, IPv4.
        (0x21, 0x11 | 0x12) if body.len() >= 12 => {
            let ip = IpAddr::from([body[0], body[1], body[2], body[3]]);
            Some(SocketAddr::new(ip, u16::from_be_bytes([body[8], body[9]])))
        }
        // IPv6.
        (0x21, 0x21 | 0x22) if body.len() >= 36 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&body[..16]);
            Some(SocketAddr::new(IpAddr::from(octets).to_canonical(), u16::from_be_bytes([body[32], body[33]])))
        }
        // Unix sockets and unspecified families carry no client address.
        (0x21, 0x00 | 0x31 | 0x32) => None,
        _ => return ProxyHeader::Invalid,
    };
    ProxyHeader::Complete { len, client }
}

/// One hop: `198.51.100.7`, `198.51.100.7:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`. Obfuscated identifiers (`_hidden`, `unknown`) are
/// not addresses. The port is 0 when none is given.
fn parse_hop(hop: &str) -> Option<SocketAddr> {
    let hop = hop.trim();
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(hop);
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip.to_canonical(), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_protocol_headers_v1_and_v2() {
        let v1 = b"PROXY TCP4 198.51.100.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
        let client = Some("198.51.100.7:56324".parse().unwrap());
        assert_eq!(proxy_header(v1), ProxyHeader::Complete { len: 44, client });
        for cut in [1, 5, 20, 43] {
            assert_eq!(proxy_header(&v1[..cut]), ProxyHeader::Partial, "{cut} bytes");
        }
        let v6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n";
        assert_eq!(
            proxy_header(v6),
            ProxyHeader::Complete { len: v6.len(), client: Some("[2001:db8::7]:4711".parse().unwrap()) }
        );
        assert_eq!(proxy_header(b"PROXY UNKNOWN\r\n"), ProxyHeader::Complete { len: 15, client: None });
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROXY TCP4 nonsense 10.0.0.1 1 2\r\n",
            b"PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n",
            &[b'P'; 200][..],
        ] {
            assert_eq!(proxy_header(bad), ProxyHeader::Invalid, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(proxy_header(&[b'x'; 120]), ProxyHeader::Invalid);

        let mut v2 = V2.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0, 12, 198, 51, 100, 7, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB]);
        v2.extend_from_slice(b"GET");
        assert_eq!(
            proxy_header(&v2),
            ProxyHeader::Complete { len: 28, client: Some("198.51.100.7:56324".parse().unwrap()) }
        );
        assert_eq!(proxy_header(&v2[..20]), ProxyHeader::Partial);
        let mut local = V2.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(proxy_header(&local), ProxyHeader::Complete { len: 16, client: None });
        let mut wrong = V2.to_vec();
        wrong.extend_from_slice(&[0x13, 0x11, 0, 0]);
        assert_eq!(proxy_header(&wrong), ProxyHeader::Invalid, "version 1 in a v2 signature");
    }

    fn client(peer: &str, headers: &[(&str, &str)]) -> Option<(Option<String>, bool)> {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "fd00::/8"]).unwrap();
        let mut request = http::Request::get("/ws");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).unwrap();
        proxies.client(peer.parse().unwrap(), &request).map(|(addr, tls)| (addr.map(|a| a.ip().to_string()), tls))
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let xff = |v| client("10.0.0.1:1", &[("x-forwarded-for", v)]).unwrap().0;
        assert_eq!(xff("198.51.100.7"), Some("198.51.100.7".into()));
        assert_eq!(xff("198.51.100.7, 10.1.1.1"), Some("198.51.100.7".into()), "a second trusted proxy is skipped");
        // The client wrote "1.2.3.4" itself; the proxy appended what it saw.
        assert_eq!(xff("1.2.3.4, 198.51.100.7"), Some("198.51.100.7".into()), "a spoofed left entry is not believed");
        assert_eq!(xff("10.1.1.1, 10.2.2.2"), None, "only proxies: the peer stays the address");
        assert_eq!(xff("1.2.3.4, garbage, 10.1.1.1"), None, "an unreadable hop ends the walk");
        assert_eq!(xff("[2001:db8::1]:4711"), Some("2001:db8::1".into()));
        assert_eq!(xff("::ffff:198.51.100.7"), Some("198.51.100.7".into()));
        let many = client("10.0.0.1:1", &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2")]);
        assert_eq!(many.unwrap().0, Some("2.2.2.2".into()), "repeated headers are one list");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_carries_the_protocol() {
        let headers =
            [("forwarded", r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https"#), ("x-forwarded-for", "9.9.9.9")];
        assert_eq!(client("[fd00::1]:1", &headers), Some((Some("2001:db8::7".into()), true)));
        let hidden = [("forwarded", "for=_hidden;proto=http")];
        assert_eq!(client("10.0.0.1:1", &hidden), Some((None, false)));
        let xfp = [("x-forwarded-for", "198.51.100.7"), ("x-forwarded-proto", "https")];
        assert_eq!(client("10.0.0.1:1", &xfp), Some((Some("198.51.100.7".into()), true)));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let spoof = [("x-forwarded-for", "10.0.0.1"), ("forwarded", "for=1.1.1.1;proto=https")];
        assert_eq!(client("203.0.113.9:1", &spoof), None);
        assert_eq!(client("[::1]:1", &spoof), None);
    }
}
