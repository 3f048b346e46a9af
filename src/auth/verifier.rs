//! The verifier traits and their error.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::session::Principal;

/// Why a verifier refused a token.
///
/// Every variant but [`Unavailable`](Self::Unavailable) answers the client
/// with 401 / 4401 "authentication failed"; the variant itself goes only to
/// the audit event (as its detail), so a client cannot tell which check
/// failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is unknown, malformed or its signature is wrong.
    #[error("invalid token")]
    Invalid,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token is not valid yet (`nbf`).
    #[error("token not yet valid")]
    NotYetValid,
    /// The token's algorithm is not on the allow-list.
    #[error("algorithm not allowed")]
    Algorithm,
    /// The token names a key id the verifier does not know.
    #[error("unknown key id")]
    UnknownKey,
    /// A required claim is missing or has the wrong value.
    #[error("claim `{0}` rejected")]
    Claim(&'static str),
    /// The verifier could not decide (identity provider down): answered with
    /// 503 / 1013 so that the client retries. The text is logged locally; it
    /// must not contain the token.
    #[error("verifier unavailable: {0}")]
    Unavailable(String),
}

/// Checks a token and returns who it belongs to.
///
/// Runs at the handshake (and for first-message or re-authentication, on the
/// message path), so it must be CPU-only: no network or disk I/O. For a
/// lookup that awaits, implement [`AsyncVerifier`] instead.
///
/// Closures `Fn(&str) -> Result<Principal, AuthError>` are verifiers.
///
/// # Examples
///
/// ```
/// use wsguard::Principal;
/// use wsguard::auth::{AuthError, Verifier};
///
/// fn verify(token: &str) -> Result<Principal, AuthError> {
///     match token {
///         "let-me-in" => Ok(Principal::new("alice").with_roles(["user"])),
///         _ => Err(AuthError::Invalid),
///     }
/// }
/// assert_eq!(verify.verify("let-me-in")?.id, "alice");
/// # Ok::<(), AuthError>(())
/// ```
pub trait Verifier: Send + Sync + 'static {
    /// Verifies `token`.
    ///
    /// # Errors
    ///
    /// Why the token is refused.
    fn verify(&self, token: &str) -> Result<Principal, AuthError>;
}

impl<F> Verifier for F
where
    F: Fn(&str) -> Result<Principal, AuthError> + Send + Sync + 'static,
{
    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self(token)
    }
}

/// A boxed future returned by [`AsyncVerifier::verify`].
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Checks a token asynchronously: a database or identity-provider lookup.
///
/// The tokio adapter awaits it during the handshake, within
/// [`Limits::handshake_timeout`](crate::layer::Limits::handshake_timeout),
/// without blocking the runtime; other adapters and
/// [`Guard::check_handshake`](crate::Guard::check_handshake) cannot await
/// and refuse the connection with 500 (use
/// [`Guard::check_handshake_async`](crate::Guard::check_handshake_async)).
/// Async verifiers work only at the handshake: first-message and
/// re-authentication run on the message path, which never waits.
///
/// # Examples
///
/// ```
/// use wsguard::Principal;
/// use wsguard::auth::{AsyncVerifier, AuthError, VerifyFuture};
///
/// #[derive(Debug)]
/// struct Database;
///
/// impl AsyncVerifier for Database {
///     fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
///         Box::pin(async move {
///             // e.g. `sqlx::query(..).bind(token).fetch_optional(&self.pool).await`
///             if token == "db-token" { Ok(Principal::new("carol")) } else { Err(AuthError::Invalid) }
///         })
///     }
/// }
/// ```
pub trait AsyncVerifier: Send + Sync + 'static {
    /// Verifies `token`.
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;
}

/// A verifier of either kind, as held by the authenticator.
#[derive(Clone)]
pub(crate) enum AnyVerifier {
    Sync(std::sync::Arc<dyn Verifier>),
    Async(std::sync::Arc<dyn AsyncVerifier>),
}

impl fmt::Debug for AnyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sync(_) => "Sync(..)",
            Self::Async(_) => "Async(..)",
        })
    }
}
