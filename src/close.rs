//! Close codes and close frames, owned by wsguard so that a tungstenite major
//! release does not change this crate's API.

use std::fmt;

use crate::message::Utf8Bytes;

/// A WebSocket close code (RFC 6455 section 7.4).
///
/// The associated constants name the codes wsguard sends. Any other value can
/// be carried with [`CloseCode::new`], for example codes a peer sent.
///
/// # The table
///
/// | code | constant | sent when |
/// |------|----------|-----------|
/// | 1000 | [`NORMAL`](Self::NORMAL) | a clean close |
/// | 1001 | [`GOING_AWAY`](Self::GOING_AWAY) | a timeout ended the connection |
/// | 1003 | [`UNSUPPORTED_DATA`](Self::UNSUPPORTED_DATA) | a binary message arrived and binary is refused |
/// | 1007 | [`INVALID_PAYLOAD`](Self::INVALID_PAYLOAD) | a text message was not valid UTF-8 |
/// | 1008 | [`POLICY_VIOLATION`](Self::POLICY_VIOLATION) | a generic policy violation |
/// | 1009 | [`MESSAGE_TOO_BIG`](Self::MESSAGE_TOO_BIG) | a message or frame exceeded the size limit |
/// | 1011 | [`INTERNAL_ERROR`](Self::INTERNAL_ERROR) | the server failed |
/// | 1013 | [`TRY_AGAIN_LATER`](Self::TRY_AGAIN_LATER) | the server is overloaded |
/// | 4401 | [`UNAUTHENTICATED`](Self::UNAUTHENTICATED) | missing, invalid or expired credentials |
/// | 4403 | [`FORBIDDEN`](Self::FORBIDDEN) | authenticated but not allowed |
/// | 4429 | [`RATE_LIMITED`](Self::RATE_LIMITED) | too many messages or connections |
///
/// Which rejection maps to which code is decided in one place,
/// [`RejectionKind::wire`](crate::RejectionKind::wire); applications can
/// override a row with [`GuardBuilder::close_code`](crate::GuardBuilder::close_code).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (also used for timeouts).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint cannot accept this kind of data (e.g. binary).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1007: a message was inconsistent with its type (e.g. invalid UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the server's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1013: try again later (server overloaded).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 4401: unauthenticated, or the credentials expired (application range).
    pub const UNAUTHENTICATED: Self = Self(4401);
    /// 4403: forbidden (application range).
    pub const FORBIDDEN: Self = Self(4403);
    /// 4429: rate limited (application range).
    pub const RATE_LIMITED: Self = Self(4429);

    /// Wraps any code, including ones that may not be sent on the wire.
    ///
    /// Use [`is_sendable`](Self::is_sendable) to check a code before sending it.
    pub const fn new(code: u16) -> Self {
        Self(code)
    }

    /// The numeric value.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether an endpoint may put this code in a close frame.
    ///
    /// RFC 6455 allows 1000-1003, 1007-1014 and 3000-4999; 1004-1006 and 1015
    /// are reserved or "must not be sent".
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

/// The largest close reason RFC 6455 allows: 125 bytes of control payload
/// minus the two-byte code.
pub const MAX_REASON_BYTES: usize = 123;

/// A close frame: a code and a short reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code.
    pub code: CloseCode,
    /// A short human-readable reason, at most [`MAX_REASON_BYTES`] bytes.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// Builds a close frame, truncating `reason` to [`MAX_REASON_BYTES`] at a
    /// character boundary.
    pub fn new(code: CloseCode, reason: &str) -> Self {
        Self { code, reason: Utf8Bytes::from(truncate_reason(reason)) }
    }

    pub(crate) fn into_tungstenite(self) -> tungstenite::protocol::CloseFrame {
        tungstenite::protocol::CloseFrame { code: self.code.0.into(), reason: self.reason.into_tungstenite() }
    }

    pub(crate) fn from_tungstenite(frame: tungstenite::protocol::CloseFrame) -> Self {
        Self { code: Self::code_from_tungstenite(frame.code), reason: Utf8Bytes::from_tungstenite(frame.reason) }
    }

    pub(crate) fn code_from_tungstenite(code: tungstenite::protocol::frame::coding::CloseCode) -> CloseCode {
        CloseCode(code.into())
    }
}

impl From<CloseFrame> for tungstenite::protocol::CloseFrame {
    fn from(frame: CloseFrame) -> Self {
        frame.into_tungstenite()
    }
}

impl From<tungstenite::protocol::CloseFrame> for CloseFrame {
    fn from(frame: tungstenite::protocol::CloseFrame) -> Self {
        Self::from_tungstenite(frame)
    }
}

/// Cuts `reason` to at most [`MAX_REASON_BYTES`] bytes without splitting a
/// character.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    truncate_at(reason, MAX_REASON_BYTES)
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_at(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_follow_rfc_6455() {
        for code in [1000, 1001, 1003, 1007, 1008, 1009, 1011, 1013, 3000, 4401, 4999] {
            assert!(CloseCode::new(code).is_sendable(), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert!(!CloseCode::new(code).is_sendable(), "{code}");
        }
    }

    #[test]
    fn reasons_are_cut_at_a_char_boundary() {
        let long = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&long);
        assert!(cut.len() <= MAX_REASON_BYTES);
        assert_eq!(cut.len(), 122, "61 two-byte chars fit in 123 bytes");
        assert_eq!(truncate_reason("short"), "short");
        let frame = CloseFrame::new(CloseCode::POLICY_VIOLATION, &"x".repeat(500));
        assert_eq!(frame.reason.len(), MAX_REASON_BYTES);
    }
}
