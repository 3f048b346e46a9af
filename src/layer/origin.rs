//! The Origin allow-list against cross-site WebSocket hijacking (CSWSH).

use std::time::Instant;

use crate::error::ConfigError;
use crate::layer::{HandshakeRequest, Layer};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// An allow-list of browser origins, checked at the handshake.
///
/// Browsers attach cookies to a WebSocket upgrade whatever page opens it, so
/// a server that authenticates by cookie must check `Origin`, or any site can
/// open an authenticated socket in its visitors' name (cross-site WebSocket
/// hijacking). Add it to a guard with
/// [`GuardBuilder::origin`](crate::GuardBuilder::origin).
///
/// # Matching
///
/// - An exact pattern `scheme://host[:port]` matches that origin only;
///   scheme and host are compared case-insensitively and a missing port is
///   the scheme's default (`https://a.example` = `https://a.example:443`).
/// - `scheme://*.example.com[:port]` matches any subdomain of `example.com`
///   at any depth, dot-bounded: not `example.com` itself, not
///   `evilexample.com`, not `example.com.evil.net`.
/// - The opaque origin `null` (sandboxed frames, `file:` pages) and anything
///   that is not `scheme://host[:port]` never match.
/// - A request without `Origin` comes from a non-browser client. It is
///   allowed by default ([`allow_missing`](Self::allow_missing)), except
///   when the token comes from a cookie: the
///   [`Authenticator`](crate::auth::Authenticator) then refuses it.
///
/// A refused origin is answered with HTTP 403 (close code 4403 in
/// accept-then-close mode), reason `"origin not allowed"`.
///
/// # Examples
///
/// ```
/// use wsguard::layer::OriginPolicy;
///
/// let policy = OriginPolicy::new(["https://app.example.com", "https://*.example.com"])?;
/// assert!(policy.is_allowed("https://app.example.com"));
/// assert!(policy.is_allowed("https://eu.api.example.com"));
/// assert!(!policy.is_allowed("https://evilexample.com"));
/// assert!(!policy.is_allowed("http://app.example.com")); // scheme differs
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    allowed: Vec<Pattern>,
    allow_missing: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    scheme: String,
    /// For a subdomain pattern, the parent domain with its leading dot.
    host: String,
    subdomains: bool,
    port: u16,
}

/// A parsed `scheme://host[:port]`, lowercased, with the effective port.
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

fn parse_origin(text: &str) -> Option<Origin> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal's colons sit inside brackets.
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (rest, default_port),
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':' | '*');
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    Some(Origin { scheme, host: host.to_ascii_lowercase(), port })
}

impl OriginPolicy {
    /// An allow-list of origin patterns (see "Matching").
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidOrigin`] for a pattern that is not
    /// `scheme://host[:port]` with scheme `http` or `https`, has a path, or
    /// has a `*` anywhere but as its whole first label.
    pub fn new<I, P>(patterns: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let allowed = patterns.into_iter().map(|p| Self::parse_pattern(p.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { allowed, allow_missing: true })
    }

    fn parse_pattern(text: &str) -> Result<Pattern, ConfigError> {
        let invalid = |reason| ConfigError::InvalidOrigin { pattern: text.to_owned(), reason };
        let origin = parse_origin(text).ok_or_else(|| invalid("expected scheme://host[:port] with http or https"))?;
        let (host, subdomains) = match origin.host.strip_prefix("*.") {
            Some(parent) if parent.contains('.') && !parent.contains('*') => (format!(".{parent}"), true),
            Some(_) => return Err(invalid("a wildcard needs a parent domain with a dot, as in *.example.com")),
            None if origin.host.contains('*') => return Err(invalid("`*` is only allowed as the first label")),
            None => (origin.host, false),
        };
        Ok(Pattern { scheme: origin.scheme, host, subdomains, port: origin.port })
    }

    /// Whether requests without an `Origin` header (non-browser clients) are
    /// allowed. Default: `true`.
    #[must_use]
    pub fn allow_missing(mut self, allow: bool) -> Self {
        self.allow_missing = allow;
        self
    }

    /// Whether `origin` (an `Origin` header value) is on the list.
    pub fn is_allowed(&self, origin: &str) -> bool {
        let Some(origin) = parse_origin(origin).filter(|o| !o.host.contains('*')) else { return false };
        self.allowed.iter().any(|p| {
            p.scheme == origin.scheme
                && p.port == origin.port
                && if p.subdomains {
                    // `host` keeps its leading dot, so the match is dot-bounded.
                    origin.host.len() > p.host.len() && origin.host.ends_with(&p.host)
                } else {
                    p.host == origin.host
                }
        })
    }

    /// Checks a request's `Origin` header value.
    ///
    /// # Errors
    ///
    /// A [`RejectionKind::Forbidden`] rejection for a refused or missing
    /// (when not allowed) origin.
    pub fn check(&self, origin: Option<&str>) -> Result<(), Rejection> {
        let allowed = match origin {
            Some(origin) => self.is_allowed(origin),
            None => self.allow_missing,
        };
        if allowed {
            Ok(())
        } else {
            let detail = if origin.is_some() { "origin not on the allow-list" } else { "missing origin" };
            Err(Rejection::new(RejectionKind::Forbidden, "origin not allowed").with_detail(detail))
        }
    }
}

impl Layer for OriginPolicy {
    fn name(&self) -> &'static str {
        "origin"
    }

    fn on_handshake(&self, _: &HandshakeRequest, session: &mut Session, _: Instant) -> Result<(), Rejection> {
        self.check(session.origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_table() {
        let policy = OriginPolicy::new([
            "https://app.example.com",
            "http://localhost:8080",
            "https://*.example.org",
            "https://[::1]:8443",
        ])
        .unwrap();
        let cases = [
            ("https://app.example.com", true),
            ("HTTPS://APP.Example.COM", true),
            ("https://app.example.com:443", true),
            ("https://app.example.com:8443", false),
            ("http://app.example.com", false),
            ("https://app.example.com.evil.net", false),
            ("https://evil-app.example.com", false),
            ("https://example.com", false),
            ("http://localhost:8080", true),
            ("http://localhost", false),
            ("http://localhost:8081", false),
            ("https://a.example.org", true),
            ("https://a.b.example.org", true),
            ("https://example.org", false),
            ("https://evilexample.org", false),
            ("https://example.org.evil.net", false),
            ("https://.example.org", false),
            ("https://[::1]:8443", true),
            ("https://[::1]", false),
            ("null", false),
            ("", false),
            ("file://", false),
            ("https://app.example.com/path", false),
            ("https://app.example.com:notaport", false),
            ("https://*.example.org", false),
        ];
        for (origin, expected) in cases {
            assert_eq!(policy.is_allowed(origin), expected, "{origin:?}");
        }
    }

    #[test]
    fn missing_origin_is_configurable() {
        let policy = OriginPolicy::new(["https://a.example"]).unwrap();
        assert!(policy.check(None).is_ok());
        let strict = policy.allow_missing(false);
        let rejection = strict.check(None).unwrap_err();
        assert_eq!(rejection.kind(), RejectionKind::Forbidden);
        assert_eq!(rejection.http_status(), 403);
        assert_eq!(strict.check(Some("https://b.example")).unwrap_err().reason(), "origin not allowed");
    }

    #[test]
    fn invalid_patterns_are_config_errors() {
        for bad in ["example.com", "ftp://example.com", "https://*", "https://*.com", "https://a.*.com", "https://"] {
            assert!(
                matches!(OriginPolicy::new([bad]), Err(ConfigError::InvalidOrigin { .. })),
                "{bad:?} should be refused"
            );
        }
    }
}
