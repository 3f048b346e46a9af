//! Authentication: where the token comes from, who verifies it, and what
//! happens when it expires.
//!
//! Build an [`Authenticator`] with [`Authenticator::builder`] and give it to
//! [`GuardBuilder::with_authenticator`](crate::GuardBuilder::with_authenticator).
//!
//! # Token sources
//!
//! Tried in the order they were added; the first that carries a token wins,
//! and a wrong token is refused without trying the others.
//!
//! | source | builder method | notes |
//! |--------|----------------|-------|
//! | `Authorization: Bearer <token>` | [`bearer_header`](AuthBuilder::bearer_header) | non-browser clients |
//! | `Sec-WebSocket-Protocol: app.v1, bearer.<token>` | [`protocol`](AuthBuilder::protocol) | browsers; the token entry is never echoed |
//! | a cookie | [`cookie`](AuthBuilder::cookie) | needs an [`OriginPolicy`](crate::layer::OriginPolicy); a request without `Origin` is refused |
//! | a query parameter | [`dangerous().query_parameter`](DangerousAuthOptions::query_parameter) | ends up in access logs; discouraged |
//! | a first message `{"type":"auth","token":"..."}` | [`first_message`](AuthBuilder::first_message) | within a deadline (default 10 s) |
//!
//! With no source added, the builder uses the bearer header, then the
//! `bearer.` subprotocol.
//!
//! # Answers
//!
//! | situation | handshake | accept-then-close / open connection |
//! |-----------|-----------|-------------------------------------|
//! | no token, invalid, expired, wrong claims | 401 + `WWW-Authenticate: Bearer` | 4401 "authentication failed" |
//! | cookie token without `Origin` | 403 | 4403 "origin not allowed" |
//! | verifier [`Unavailable`](AuthError::Unavailable) | 503 | 1013 |
//! | token expires while connected | | 4401 "token expired" |
//! | no auth message before the deadline | | 4401 "authentication timed out" |
//! | data before the auth message | | 4401 "authentication required" |
//! | revoked through the [`SessionRegistry`](crate::SessionRegistry) | | 4403 "session revoked" |
//! | failed re-authentication | | dropped, `unauthenticated` reply; the old principal stays until it expires |
//!
//! The peer never learns which check failed. The audit event carries the
//! reason and the source (`header`, `protocol`, `cookie`, `query`,
//! `message`) as its `detail`, never the token.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::error::ConfigError;
use crate::layer::{HandshakeRequest, Layer};
use crate::message::Frame;
use crate::outcome::{ErrorReply, Outcome};
use crate::rejection::{Rejection, RejectionKind};
use crate::session::{Principal, Session};

#[cfg(feature = "jwks")]
mod jwks;
#[cfg(feature = "jwt")]
mod jwt;
mod source;
mod static_tokens;
mod verifier;

#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub use jwks::{Jwks, JwksBuilder};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt::{DangerousJwtOptions, JwtAlgorithm, JwtBuilder, JwtVerifier, MIN_HMAC_SECRET};
pub use source::FirstMessage;
pub use static_tokens::StaticTokens;
pub use verifier::{AsyncVerifier, AuthError, Verifier, VerifyFuture};

pub(crate) use source::Credential;
use source::Source;
use verifier::AnyVerifier;

/// Finds a token in the upgrade request (or first message), verifies it, and
/// puts the principal on the session.
///
/// # Examples
///
/// Browsers send the token as a subprotocol offer, other clients as a
/// bearer header:
///
/// ```
/// use wsguard::auth::{Authenticator, StaticTokens};
/// use wsguard::{Guard, Principal};
///
/// let tokens = StaticTokens::new().token("alice-token", Principal::new("alice").with_roles(["user"]));
/// let guard = Guard::builder()
///     .with_authenticator(Authenticator::builder().bearer_header().protocol("bearer.").build(tokens)?)
///     .build()?;
///
/// let request = http::Request::get("/ws")
///     .header("sec-websocket-protocol", "chat.v1, bearer.alice-token")
///     .body(())?;
/// let mut session = guard.new_session(None);
/// guard.check_handshake(&request, &mut session)?;
/// assert_eq!(session.principal().unwrap().id, "alice");
/// assert_eq!(session.selected_protocol(), Some("chat.v1")); // never the token
///
/// let anonymous = http::Request::get("/ws").body(())?;
/// let refused = guard.check_handshake(&anonymous, &mut guard.new_session(None)).unwrap_err();
/// assert_eq!(refused.http_status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Cloning
///
/// An `Arc` inside: clones share the sources and the verifier.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    sources: Vec<Source>,
    first_message: Option<FirstMessage>,
    reauth: bool,
    verifier: AnyVerifier,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("sources", &self.inner.sources)
            .field("first_message", &self.inner.first_message)
            .field("reauth", &self.inner.reauth)
            .field("verifier", &self.inner.verifier)
            .finish()
    }
}

impl Authenticator {
    /// Starts configuring an authenticator.
    pub fn builder() -> AuthBuilder {
        AuthBuilder::default()
    }

    /// Whether a source reads cookies (the guard then requires an origin policy).
    pub(crate) fn uses_cookies(&self) -> bool {
        self.inner.sources.iter().any(|s| matches!(s, Source::Cookie(_)))
    }

    /// Removes token entries (`bearer.<token>`) from the offered
    /// subprotocols, so that none can be selected and echoed.
    pub(crate) fn strip_protocol_tokens(&self, session: &mut Session) {
        for source in &self.inner.sources {
            if let Source::Protocol(prefix) = source {
                session.retain_requested_protocols(|p| !p.starts_with(prefix.as_str()));
            }
        }
    }

    /// Finds the request's token. Strips token entries from the offered
    /// subprotocols and, when the token came from there, selects the first
    /// remaining one. With no token, arms the first-message deadline, or
    /// refuses.
    pub(crate) fn extract(
        &self,
        request: &HandshakeRequest,
        session: &mut Session,
        now: Instant,
    ) -> Result<Option<Credential>, Rejection> {
        let found = self.inner.sources.iter().find_map(|s| s.find(request, session).map(|c| (s, c)));
        self.strip_protocol_tokens(session);
        match &found {
            Some((Source::Protocol(_), _)) if session.selected_protocol().is_none() => {
                session.select_first_requested_protocol();
            }
            Some((Source::Cookie(_), _)) if session.origin().is_none() => {
                return Err(Rejection::new(RejectionKind::Forbidden, "origin not allowed")
                    .with_detail("cookie credentials without an origin"));
            }
            Some(_) => {}
            None => match &self.inner.first_message {
                Some(first) => session.set_expires_at(Some(now + first.timeout)),
                None => return Err(unauthenticated(AuthError::Invalid, "missing credentials")),
            },
        }
        Ok(found.map(|(_, credential)| credential))
    }

    /// Verifies synchronously; `None` for an async verifier.
    pub(crate) fn verify_now(&self, token: &str) -> Option<Result<Principal, AuthError>> {
        match &self.inner.verifier {
            AnyVerifier::Sync(v) => Some(v.verify(token)),
            AnyVerifier::Async(_) => None,
        }
    }

    /// Verifies, awaiting an async verifier.
    pub(crate) async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        match &self.inner.verifier {
            AnyVerifier::Sync(v) => v.verify(token),
            AnyVerifier::Async(v) => v.verify(token).await,
        }
    }

    /// Puts a verified principal on the session, with its expiry on the
    /// guard's clock.
    pub(crate) fn admit(
        &self,
        session: &mut Session,
        verified: Result<Principal, AuthError>,
        source: &'static str,
        now: Instant,
    ) -> Result<(), Rejection> {
        let principal = verified.map_err(|e| refusal(e, source))?;
        let expires_at = match principal.expires_at {
            // An expiry beyond what `Instant` can hold never comes: no
            // claim value may panic.
            Some(at) => {
                now.checked_add(at.duration_since(SystemTime::now()).map_err(|_| refusal(AuthError::Expired, source))?)
            }
            None => None,
        };
        session.set_principal(Some(principal))?;
        session.set_expires_at(expires_at);
        Ok(())
    }

    pub(crate) fn layer(&self) -> AuthLayer {
        AuthLayer(self.clone())
    }
}

fn unauthenticated(error: AuthError, detail: &'static str) -> Rejection {
    Rejection::new(RejectionKind::Unauthenticated, "authentication failed").with_detail(format!("{error}: {detail}"))
}

/// The rejection for a refused token: the peer reads only
/// "authentication failed"; the audit detail says why and from where.
fn refusal(error: AuthError, source: &'static str) -> Rejection {
    let kind = match error {
        AuthError::Unavailable(_) => RejectionKind::Overloaded,
        _ => RejectionKind::Unauthenticated,
    };
    let reason = if kind == RejectionKind::Overloaded { "authentication unavailable" } else { "authentication failed" };
    Rejection::new(kind, reason).with_detail(format!("{error} (source: {source})"))
}

/// Configures an [`Authenticator`]. Obtain one with [`Authenticator::builder`].
///
/// | setting | default |
/// |---------|---------|
/// | sources | bearer header, then the `bearer.` subprotocol |
/// | [`first_message`](Self::first_message) | off |
/// | [`reauth`](Self::reauth) | off |
#[must_use]
#[derive(Clone, Debug, Default)]
pub struct AuthBuilder {
    sources: Vec<Source>,
    first_message: Option<FirstMessage>,
    reauth: bool,
}

impl AuthBuilder {
    /// Reads `Authorization: Bearer <token>`.
    pub fn bearer_header(mut self) -> Self {
        self.sources.push(Source::Bearer);
        self
    }

    /// Reads the token from a `Sec-WebSocket-Protocol` entry starting with
    /// `prefix` (conventionally `"bearer."`), as browsers can send it:
    /// `new WebSocket(url, ["chat.v1", "bearer." + token])`.
    ///
    /// Token entries are removed from
    /// [`Session::requested_protocols`], and the first remaining offer is
    /// selected, so the response echoes `chat.v1`, never the token.
    pub fn protocol(mut self, prefix: impl Into<String>) -> Self {
        self.sources.push(Source::Protocol(prefix.into()));
        self
    }

    /// Reads the token from the cookie `name`. The guard then requires an
    /// [`OriginPolicy`](crate::layer::OriginPolicy), and refuses requests
    /// without `Origin`: cookies are what makes cross-site hijacking work.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.push(Source::Cookie(name.into()));
        self
    }

    /// Accepts a first message carrying the token when the request had none.
    ///
    /// Until it arrives nothing is delivered to the application: any other
    /// message closes with 4401, and so does the deadline. The auth message
    /// itself is consumed, not delivered. Needs a synchronous [`Verifier`].
    pub fn first_message(mut self, shape: FirstMessage) -> Self {
        self.first_message = Some(shape);
        self
    }

    /// Accepts messages of the first-message shape during the connection:
    /// a valid one replaces the principal and its expiry without
    /// reconnecting; an invalid one is dropped with an `unauthenticated`
    /// reply. Uses the [`first_message`](Self::first_message) shape, or its
    /// default.
    pub fn reauth(mut self, enabled: bool) -> Self {
        self.reauth = enabled;
        self
    }

    /// Options that weaken security; read each one's warning.
    pub fn dangerous(self) -> DangerousAuthOptions {
        DangerousAuthOptions(self)
    }

    /// Builds the authenticator around a synchronous verifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Auth`] for an empty subprotocol prefix, cookie or
    /// parameter name.
    pub fn build(self, verifier: impl Verifier) -> Result<Authenticator, ConfigError> {
        self.finish(AnyVerifier::Sync(Arc::new(verifier)))
    }

    /// Builds the authenticator around an async verifier (tokio adapter or
    /// [`Guard::check_handshake_async`](crate::Guard::check_handshake_async)).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and [`ConfigError::Auth`] with first-message
    /// or re-authentication, which run on the message path and cannot await.
    pub fn build_async(self, verifier: impl AsyncVerifier) -> Result<Authenticator, ConfigError> {
        if self.first_message.is_some() || self.reauth {
            return Err(ConfigError::Auth { reason: "first-message authentication needs a synchronous verifier" });
        }
        self.finish(AnyVerifier::Async(Arc::new(verifier)))
    }

    fn finish(mut self, verifier: AnyVerifier) -> Result<Authenticator, ConfigError> {
        if self.sources.is_empty() {
            self.sources = vec![Source::Bearer, Source::Protocol("bearer.".into())];
        }
        if self.sources.iter().any(Source::is_empty) {
            return Err(ConfigError::Auth { reason: "a subprotocol prefix, cookie or parameter name is empty" });
        }
        let first_message = match (self.first_message, self.reauth) {
            (None, true) => Some(FirstMessage::default()),
            (shape, _) => shape,
        };
        if let Some(shape) = &first_message {
            shape.validate()?;
        }
        let inner = Inner { sources: self.sources, first_message, reauth: self.reauth, verifier };
        Ok(Authenticator { inner: Arc::new(inner) })
    }
}

/// Authentication options that weaken security, from [`AuthBuilder::dangerous`].
#[must_use]
#[derive(Debug)]
pub struct DangerousAuthOptions(AuthBuilder);

impl DangerousAuthOptions {
    /// Reads the token from the query parameter `name` (`/ws?access_token=...`).
    ///
    /// **Warning:** URLs are written to proxy and server access logs and
    /// browser history, so the token leaks there. wsguard never logs the
    /// URL, but the request still reaches your own layers with it. Prefer
    /// the subprotocol source for browsers.
    pub fn query_parameter(mut self, name: impl Into<String>) -> AuthBuilder {
        self.0.sources.push(Source::Query(name.into()));
        self.0
    }
}

/// The authenticator's per-message part: first-message auth and re-auth.
#[derive(Debug)]
pub(crate) struct AuthLayer(Authenticator);

impl AuthLayer {
    fn verify_message(&self, token: &str, session: &mut Session, now: Instant) -> Result<(), Rejection> {
        let verified = self.0.verify_now(token).unwrap_or(Err(AuthError::Unavailable("async verifier".into())));
        self.0.admit(session, verified, "message", now)
    }
}

impl Layer for AuthLayer {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn on_inbound(&self, frame: &mut Frame, session: &mut Session, now: Instant) -> Outcome {
        let inner = &self.0.inner;
        let Some(shape) = &inner.first_message else { return Outcome::Pass };
        let pending = session.principal().is_none();
        if !pending && !inner.reauth {
            return Outcome::Pass;
        }
        match (pending, shape.token_in(frame)) {
            (true, None) => Outcome::Close(
                Rejection::new(RejectionKind::Unauthenticated, "authentication required")
                    .with_detail("message before authentication"),
            ),
            (true, Some(token)) => match self.verify_message(&token, session, now) {
                Ok(()) => Outcome::drop_silently(),
                Err(rejection) => Outcome::Close(rejection),
            },
            (false, None) => Outcome::Pass,
            (false, Some(token)) => match self.verify_message(&token, session, now) {
                Ok(()) => Outcome::drop_silently(),
                Err(_) => Outcome::drop_with(ErrorReply::unauthenticated()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Guard;

    fn never(_: &str) -> Result<Principal, AuthError> {
        Err(AuthError::Invalid)
    }

    #[derive(Debug)]
    struct AsyncNever;

    impl AsyncVerifier for AsyncNever {
        fn verify<'a>(&'a self, _: &'a str) -> VerifyFuture<'a> {
            Box::pin(async { Err(AuthError::Invalid) })
        }
    }

    #[test]
    fn contradictory_setups_are_config_errors() {
        let cookie = Authenticator::builder().cookie("sid").build(never).unwrap();
        let err = Guard::builder().with_authenticator(cookie.clone()).build().unwrap_err();
        assert!(matches!(err, ConfigError::Auth { .. }), "cookie without origin policy: {err}");
        let origin = crate::layer::OriginPolicy::new(["https://a.test"]).unwrap();
        assert!(Guard::builder().origin(origin).with_authenticator(cookie).build().is_ok());

        let first = Authenticator::builder().first_message(FirstMessage::default());
        assert!(matches!(first.build_async(AsyncNever), Err(ConfigError::Auth { .. })));
        assert!(matches!(Authenticator::builder().reauth(true).build_async(AsyncNever), Err(ConfigError::Auth { .. })));
        assert!(matches!(Authenticator::builder().protocol("").build(never), Err(ConfigError::Auth { .. })));
        let bad_pointer = FirstMessage::default().token_pointer("token");
        assert!(matches!(
            Authenticator::builder().first_message(bad_pointer).build(never),
            Err(ConfigError::Auth { .. })
        ));
    }

    #[test]
    fn default_sources_are_bearer_header_then_bearer_subprotocol() {
        let auth = Authenticator::builder().build(never).unwrap();
        assert_eq!(format!("{:?}", auth.inner.sources), r#"[Bearer, Protocol("bearer.")]"#);
    }

    #[test]
    fn first_message_shape_is_configurable() {
        let shape = FirstMessage::default().type_pointer("/action").type_value("login").token_pointer("/creds/jwt");
        let token = |text: &str| shape.token_in(&mut Frame::from_text(text.to_owned()));
        assert_eq!(token(r#"{"action":"login","creds":{"jwt":"t0k"}}"#).as_deref(), Some("t0k"));
        assert_eq!(token(r#"{"action":"login","creds":{"jwt":7}}"#).as_deref(), Some(""), "non-string token");
        assert_eq!(token(r#"{"action":"login"}"#).as_deref(), Some(""), "missing token");
        assert_eq!(token(r#"{"action":"chat","text":"login"}"#), None);
        assert_eq!(token(r#"{"type":"login"}"#), None);
        assert_eq!(token("login but not json"), None);
        assert_eq!(shape.token_in(&mut Frame::from_binary(br#"{"action":"login"}"#.to_vec())), None, "binary");
    }
}
