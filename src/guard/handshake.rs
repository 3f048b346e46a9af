//! The sans-IO part of the server handshake, shared by both adapters:
//! collecting the request head within a size limit, and planning the answer.
//!
//! The adapters read the head themselves, rather than inside tungstenite's
//! handshake callback, so that the head size is bounded by
//! [`Limits::max_header_bytes`](crate::layer::Limits), the tokio adapter can
//! apply a deadline and await before answering, and both adapters share one
//! code path. tungstenite still validates the upgrade and builds the
//! `101 Switching Protocols` response (`create_response`).

use tungstenite::handshake::server::{create_response, write_response};

use super::{Guard, HandshakeRejection};
use crate::close::CloseFrame;
use crate::layer::HandshakeRequest;
use crate::rejection::{Rejection, RejectionKind};
use crate::session::Session;

/// Headers beyond this count are refused (as tungstenite does).
const MAX_HEADERS: usize = 124;

/// Accumulates the bytes of an HTTP request head.
#[derive(Debug)]
pub(crate) struct HeadBuffer {
    buf: Vec<u8>,
    max: usize,
}

/// A complete request head and any bytes read past it.
#[derive(Debug)]
pub(crate) struct ParsedHead {
    pub(crate) request: HandshakeRequest,
    pub(crate) tail: Vec<u8>,
}

impl HeadBuffer {
    pub(crate) fn new(max: usize) -> Self {
        Self { buf: Vec::with_capacity(1024.min(max)), max }
    }

    /// Adds freshly read bytes; returns the parsed head once complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Option<ParsedHead>, Rejection> {
        // Only the new bytes (and the three before them) can complete "\r\n\r\n".
        let search_from = self.buf.len().saturating_sub(3);
        self.buf.extend_from_slice(bytes);
        let end = match self.buf[search_from..].windows(4).position(|w| w == b"\r\n\r\n") {
            Some(pos) => search_from + pos + 4,
            None if self.buf.len() > self.max => return Err(too_large()),
            None => return Ok(None),
        };
        if end > self.max {
            return Err(too_large());
        }
        let request = parse_request(&self.buf[..end])?;
        Ok(Some(ParsedHead { request, tail: self.buf[end..].to_vec() }))
    }
}

pub(crate) fn too_large() -> Rejection {
    Rejection::new(RejectionKind::TooLarge, "request header too large")
}

fn bad_request() -> Rejection {
    Rejection::new(RejectionKind::BadRequest, "malformed upgrade request")
}

fn parse_request(head: &[u8]) -> Result<HandshakeRequest, Rejection> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(too_large()),
        Ok(httparse::Status::Partial) | Err(_) => return Err(bad_request()),
    }
    let (Some(method), Some(path)) = (parsed.method, parsed.path) else {
        return Err(bad_request());
    };
    let mut request = http::Request::builder().method(method).uri(path).version(if parsed.version == Some(0) {
        http::Version::HTTP_10
    } else {
        http::Version::HTTP_11
    });
    for header in parsed.headers.iter() {
        request = request.header(header.name, header.value);
    }
    request.body(()).map_err(|_| bad_request())
}

/// How to answer one upgrade request, from
/// [`Connection::handshake`](crate::connection::Connection::handshake).
#[derive(Debug)]
#[non_exhaustive]
pub enum Handshake {
    /// Write `response` (a 101 with the chosen subprotocol) and start the
    /// WebSocket.
    Accept {
        /// The whole HTTP response.
        response: Vec<u8>,
    },
    /// Write `response` (an HTTP error: 400, 401, 403, 408, 426, 429, 431,
    /// 503 ...) and drop the connection.
    Reject {
        /// The whole HTTP response, body included.
        response: Vec<u8>,
        /// Why.
        rejection: Rejection,
    },
    /// Accept-then-close mode: write `response` (a 101), send `close` as
    /// the first frame, and drop the connection once the peer answers it.
    AcceptThenClose {
        /// The whole HTTP response.
        response: Vec<u8>,
        /// The close frame to send.
        close: CloseFrame,
        /// Why.
        rejection: Rejection,
    },
}

impl Handshake {
    /// Whether the connection is accepted (and stays open).
    pub fn is_accept(&self) -> bool {
        matches!(self, Self::Accept { .. })
    }

    /// The HTTP response to write, whichever the answer.
    pub fn response(&self) -> &[u8] {
        match self {
            Self::Accept { response } | Self::Reject { response, .. } | Self::AcceptThenClose { response, .. } => {
                response
            }
        }
    }

    /// The rejection, unless accepted.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Accept { .. } => None,
            Self::Reject { rejection, .. } | Self::AcceptThenClose { rejection, .. } => Some(rejection),
        }
    }
}

impl Guard {
    /// Validates the upgrade, runs the handshake checks and plans the answer.
    pub(crate) fn plan_handshake(&self, request: &HandshakeRequest, session: &mut Session) -> Handshake {
        match Self::upgrade_response(request) {
            Ok(response) => {
                let checked = self.check_handshake(request, session);
                self.finish_plan(response, checked, session)
            }
            Err(rejection) => self.plan_transport_rejection(session, rejection),
        }
    }

    /// Like [`plan_handshake`](Self::plan_handshake), awaiting an async verifier.
    pub(crate) async fn plan_handshake_async(&self, request: &HandshakeRequest, session: &mut Session) -> Handshake {
        match Self::upgrade_response(request) {
            Ok(response) => {
                let checked = self.check_handshake_async(request, session).await;
                self.finish_plan(response, checked, session)
            }
            Err(rejection) => self.plan_transport_rejection(session, rejection),
        }
    }

    /// tungstenite's `101` response, or the refusal of a request that is not
    /// a WebSocket upgrade.
    fn upgrade_response(request: &HandshakeRequest) -> Result<http::Response<()>, Rejection> {
        // RFC 6455, 4.2.2: another version gets 426 and the version this
        // server speaks (`to_http_response` adds `Sec-WebSocket-Version: 13`).
        if request.headers().get(http::header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v.as_bytes() != b"13") {
            return Err(Rejection::new(RejectionKind::UpgradeRequired, "unsupported websocket version"));
        }
        create_response(request)
            .map_err(|_| Rejection::new(RejectionKind::BadRequest, "not a websocket upgrade request"))
    }

    fn finish_plan(
        &self,
        mut response: http::Response<()>,
        checked: Result<(), Rejection>,
        session: &mut Session,
    ) -> Handshake {
        let accept_then_close = checked.is_err() && self.handshake_rejection() == HandshakeRejection::AcceptThenClose;
        if accept_then_close && session.selected_protocol().is_none() {
            // Browsers fail a 101 without a subprotocol when they offered
            // some, and would show 1006 instead of the close code: select
            // an offer (never a token) so the close frame is read.
            if let Some(auth) = &self.inner.auth {
                auth.strip_protocol_tokens(session);
            }
            session.select_first_requested_protocol();
        }
        if let Some(protocol) = session.selected_protocol() {
            match http::HeaderValue::from_str(protocol) {
                Ok(value) => {
                    response.headers_mut().insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
                }
                Err(_) => {
                    let rejection = Rejection::new(RejectionKind::Internal, "invalid subprotocol selected");
                    return self.plan_transport_rejection(session, rejection);
                }
            }
        }
        let mut bytes = Vec::with_capacity(256);
        // Writing to a Vec cannot fail, and every header value came from
        // `HeaderValue`, which `write_response` accepts.
        let written = write_response(&mut bytes, &response);
        match (checked, written) {
            (Ok(()), Ok(())) => Handshake::Accept { response: bytes },
            (Err(rejection), Ok(())) if self.handshake_rejection() == HandshakeRejection::AcceptThenClose => {
                Handshake::AcceptThenClose { response: bytes, close: self.close_frame(&rejection), rejection }
            }
            (Err(rejection), _) => self.plan_rejection(rejection),
            (Ok(()), Err(_)) => self.plan_rejection(Rejection::new(RejectionKind::Internal, "handshake failed")),
        }
    }

    /// An HTTP error answer for a rejection found outside the layers
    /// (malformed or oversized head, timeout). Audits it.
    pub(crate) fn plan_transport_rejection(&self, session: &Session, rejection: Rejection) -> Handshake {
        crate::audit::handshake_rejected(session, "transport", &rejection);
        self.plan_rejection(rejection)
    }

    fn plan_rejection(&self, rejection: Rejection) -> Handshake {
        let mut http = rejection.to_http_response();
        let body = http.body_mut().take().unwrap_or_default();
        let headers = http.headers_mut();
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(body.len()));
        headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        let mut response = Vec::with_capacity(128 + body.len());
        // Writing to a Vec cannot fail; the headers above are all valid ASCII.
        let _ = write_response(&mut response, &http);
        response.extend_from_slice(body.as_bytes());
        Handshake::Reject { response, rejection }
    }
}
