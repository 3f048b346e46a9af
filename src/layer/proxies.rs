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
        Ok(Self { networks })
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client's address and whether it used TLS, as the trusted proxy
    /// `peer` reports them; `None` when `peer` is not trusted.
    pub(crate) fn client(&self, peer: SocketAddr, request: &HandshakeRequest) -> Option<(Option<SocketAddr>, bool)> {
        if !self.contains(peer.ip()) {
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
