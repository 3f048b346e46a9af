//! Rejections and the one table that maps them to the wire.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::close::{CloseCode, truncate_reason};

/// Why a layer refused a handshake or closed a connection.
///
/// The kind alone decides the wire form (HTTP status before the upgrade,
/// close code after it) through [`RejectionKind::wire`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// The request or message is malformed.
    BadRequest,
    /// Credentials are missing, invalid or expired.
    Unauthenticated,
    /// The principal is known but not allowed.
    Forbidden,
    /// Too many messages, bytes or connections.
    RateLimited,
    /// A message, frame or request head exceeded a size limit.
    TooLarge,
    /// The data type is refused (for example binary messages).
    UnsupportedData,
    /// Any other policy violation.
    PolicyViolation,
    /// A message's payload does not match its type (text that is not UTF-8).
    InvalidPayload,
    /// The client must switch protocols first (for example to TLS).
    UpgradeRequired,
    /// The client was too slow (handshake timeout, idle timeout).
    Timeout,
    /// The server is overloaded; the client may retry later.
    Overloaded,
    /// The server failed; not the client's fault.
    Internal,
}

/// The wire form of a rejection: what the peer sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Wire {
    /// HTTP status of a rejected handshake.
    pub status: StatusCode,
    /// Close code once the connection is open.
    pub close_code: CloseCode,
}

impl RejectionKind {
    /// The one table mapping each rejection kind to its HTTP status and close code.
    ///
    /// | kind | HTTP status | close code |
    /// |------|-------------|------------|
    /// | `BadRequest` | 400 | 1008 |
    /// | `Unauthenticated` | 401 | 4401 |
    /// | `Forbidden` | 403 | 4403 |
    /// | `RateLimited` | 429 | 4429 |
    /// | `TooLarge` | 431 | 1009 |
    /// | `UnsupportedData` | 400 | 1003 |
    /// | `PolicyViolation` | 400 | 1008 |
    /// | `InvalidPayload` | 400 | 1007 |
    /// | `UpgradeRequired` | 426 | 1008 |
    /// | `Timeout` | 408 | 1001 |
    /// | `Overloaded` | 503 | 1013 |
    /// | `Internal` | 500 | 1011 |
    ///
    /// `TooLarge` answers 431 because at the handshake the only thing that can
    /// be too large is the request head.
    pub const fn wire(self) -> Wire {
        use RejectionKind::*;
        let (status, close_code) = match self {
            BadRequest => (StatusCode::BAD_REQUEST, CloseCode::POLICY_VIOLATION),
            Unauthenticated => (StatusCode::UNAUTHORIZED, CloseCode::UNAUTHENTICATED),
            Forbidden => (StatusCode::FORBIDDEN, CloseCode::FORBIDDEN),
            RateLimited => (StatusCode::TOO_MANY_REQUESTS, CloseCode::RATE_LIMITED),
            TooLarge => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, CloseCode::MESSAGE_TOO_BIG),
            UnsupportedData => (StatusCode::BAD_REQUEST, CloseCode::UNSUPPORTED_DATA),
            PolicyViolation => (StatusCode::BAD_REQUEST, CloseCode::POLICY_VIOLATION),
            InvalidPayload => (StatusCode::BAD_REQUEST, CloseCode::INVALID_PAYLOAD),
            UpgradeRequired => (StatusCode::UPGRADE_REQUIRED, CloseCode::POLICY_VIOLATION),
            Timeout => (StatusCode::REQUEST_TIMEOUT, CloseCode::GOING_AWAY),
            Overloaded => (StatusCode::SERVICE_UNAVAILABLE, CloseCode::TRY_AGAIN_LATER),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, CloseCode::INTERNAL_ERROR),
        };
        Wire { status, close_code }
    }

    /// A stable snake_case name, used in audit events.
    pub const fn as_str(self) -> &'static str {
        use RejectionKind::*;
        match self {
            BadRequest => "bad_request",
            Unauthenticated => "unauthenticated",
            Forbidden => "forbidden",
            RateLimited => "rate_limited",
            TooLarge => "too_large",
            UnsupportedData => "unsupported_data",
            PolicyViolation => "policy_violation",
            InvalidPayload => "invalid_payload",
            UpgradeRequired => "upgrade_required",
            Timeout => "timeout",
            Overloaded => "overloaded",
            Internal => "internal",
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: a kind, a short reason for the peer, and an optional retry delay.
///
/// The reason is sent to the peer (HTTP body or close reason) and written to
/// audit events, so it must never contain the message payload, a token or
/// personal data: layers pass fixed text such as `"message too large"`.
/// It is cut to 123 bytes, the most a close frame can carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    reason: Cow<'static, str>,
    detail: Option<Cow<'static, str>>,
    retry_after: Option<Duration>,
}

impl Rejection {
    /// A rejection of `kind` with a short, data-free `reason`.
    pub fn new(kind: RejectionKind, reason: impl Into<Cow<'static, str>>) -> Self {
        let mut reason = reason.into();
        let cut = truncate_reason(&reason).len();
        if cut < reason.len() {
            reason.to_mut().truncate(cut);
        }
        Self { kind, reason, detail: None, retry_after: None }
    }

    /// Attaches a local detail for audit events and the server's error, never
    /// sent to the peer: for example which credential source failed and why,
    /// while the peer only reads "authentication failed". Like the reason, it
    /// must not contain a token, the payload or personal data.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The local detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Attaches the delay after which the client may retry (sent as
    /// `Retry-After` on a 429 or 503 handshake response).
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The kind.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The short reason sent to the peer.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The retry delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The HTTP status of this rejection at the handshake.
    pub fn http_status(&self) -> StatusCode {
        self.kind.wire().status
    }

    /// The HTTP response for a rejected handshake: the status, a
    /// `text/plain` body holding the reason, `Retry-After` (whole seconds,
    /// rounded up) when a retry delay is set, `WWW-Authenticate: Bearer`
    /// for 401, and `Sec-WebSocket-Version: 13` for 426.
    pub fn to_http_response(&self) -> http::Response<Option<String>> {
        let mut response = http::Response::new(Some(format!("{}\n", self.reason)));
        *response.status_mut() = self.http_status();
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
        if let Some(delay) = self.retry_after {
            let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
            headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        match self.kind {
            RejectionKind::Unauthenticated => {
                headers.insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
            }
            // The one WebSocket version there is (RFC 6455, 4.4).
            RejectionKind::UpgradeRequired => {
                headers.insert(http::header::SEC_WEBSOCKET_VERSION, http::HeaderValue::from_static("13"));
            }
            _ => {}
        }
        response
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)?;
        match &self.detail {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;
    use RejectionKind::*;

    #[test]
    fn wire_table_row_by_row() {
        let table = [
            (BadRequest, 400, 1008),
            (Unauthenticated, 401, 4401),
            (Forbidden, 403, 4403),
            (RateLimited, 429, 4429),
            (TooLarge, 431, 1009),
            (UnsupportedData, 400, 1003),
            (PolicyViolation, 400, 1008),
            (InvalidPayload, 400, 1007),
            (UpgradeRequired, 426, 1008),
            (Timeout, 408, 1001),
            (Overloaded, 503, 1013),
            (Internal, 500, 1011),
        ];
        for (kind, status, code) in table {
            let wire = kind.wire();
            assert_eq!(wire.status.as_u16(), status, "{kind}");
            assert_eq!(wire.close_code.get(), code, "{kind}");
            assert!(wire.close_code.is_sendable(), "{kind}");
            assert!(wire.status.is_client_error() || wire.status.is_server_error());
        }
    }

    #[test]
    fn http_response_carries_status_retry_after_and_reason() {
        let r = Rejection::new(RateLimited, "too many connections").with_retry_after(Duration::from_millis(1500));
        let resp = r.to_http_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(resp.body().as_deref(), Some("too many connections\n"));

        let resp = Rejection::new(Unauthenticated, "missing credentials").to_http_response();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert!(resp.headers().get("retry-after").is_none());
    }

    #[test]
    fn long_reasons_are_truncated() {
        let r = Rejection::new(PolicyViolation, "ü".repeat(200));
        assert!(r.reason().len() <= 123);
        assert!(r.reason().chars().all(|c| c == 'ü'));
    }
}
