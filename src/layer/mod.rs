//! The [`Layer`] trait and the layers that ship with wsguard.

use std::fmt;
use std::time::Instant;

use crate::close::CloseCode;
use crate::message::Frame;
use crate::outcome::Outcome;
use crate::rejection::Rejection;
use crate::session::Session;

mod discriminator;
mod limits;
mod origin;
mod proxies;
mod strikes;
mod transport;

pub use discriminator::Discriminator;
pub(crate) use discriminator::unescape_segment;
pub use limits::Limits;
pub use origin::OriginPolicy;
pub use proxies::TrustedProxies;
pub(crate) use proxies::{ProxyHeader, proxy_header};
pub use strikes::Strikes;
pub(crate) use strikes::refuse;
pub(crate) use transport::client_group;
pub use transport::{IpNet, TransportPolicy};

/// The HTTP upgrade request a handshake hook inspects.
pub type HandshakeRequest = http::Request<()>;

/// One security layer: a set of hooks the [`Guard`](crate::Guard) calls in order.
///
/// Every hook has a no-op default, so a layer implements only what it needs.
/// The trait is object-safe; a guard holds its layers as `Arc<dyn Layer>`,
/// built once and shared by every connection. Per-connection state goes in
/// [`Session::extensions_mut`], not in the layer.
///
/// Hooks are synchronous and must not block on I/O: they run on the message
/// path of every connection (see the crate docs, "The hot path never waits").
/// `now` comes from the guard's [`Clock`](crate::time::Clock); use it instead
/// of `Instant::now()` so tests can control time.
///
/// # Examples
///
/// A layer that refuses messages containing the text `"forbidden"`:
///
/// ```
/// use std::time::Instant;
/// use wsguard::{ErrorReply, Frame, Layer, Outcome, Session};
///
/// #[derive(Debug)]
/// struct NoForbiddenWord;
///
/// impl Layer for NoForbiddenWord {
///     fn name(&self) -> &'static str {
///         "no_forbidden_word"
///     }
///
///     fn on_inbound(&self, frame: &mut Frame, _: &mut Session, _: Instant) -> Outcome {
///         match frame.text() {
///             Some(text) if text.contains("forbidden") => Outcome::drop_with(ErrorReply::forbidden()),
///             _ => Outcome::Pass,
///         }
///     }
/// }
///
/// let guard = wsguard::Guard::builder().without_auth().layer(NoForbiddenWord).build()?;
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a wsguard layer",
    note = "implement `wsguard::Layer` (only `name` is required); see https://docs.rs/wsguard/latest/wsguard/trait.Layer.html"
)]
pub trait Layer: fmt::Debug + Send + Sync + 'static {
    /// A short, stable snake_case name, used in audit events and metrics.
    fn name(&self) -> &'static str;

    /// Inspects the upgrade request before the connection is accepted.
    ///
    /// An `Err` refuses the handshake with the rejection's HTTP status (or,
    /// in accept-then-close mode, its close code); later layers do not run.
    fn on_handshake(
        &self,
        _request: &HandshakeRequest,
        _session: &mut Session,
        _now: Instant,
    ) -> Result<(), Rejection> {
        Ok(())
    }

    /// Inspects (and may rewrite) a text or binary message from the client.
    fn on_inbound(&self, _frame: &mut Frame, _session: &mut Session, _now: Instant) -> Outcome {
        Outcome::Pass
    }

    /// Inspects (and may rewrite) a text or binary message the application sends.
    ///
    /// A dropped outbound message is not delivered; an error reply attached
    /// to an outbound drop is ignored, since the application sent it.
    fn on_outbound(&self, _frame: &mut Frame, _session: &mut Session, _now: Instant) -> Outcome {
        Outcome::Pass
    }

    /// Called once when the connection closes, for cleanup. `code` is the
    /// close code if one was sent or received.
    fn on_close(&self, _session: &mut Session, _code: Option<CloseCode>) {}
}

/// `Duration` as whole milliseconds in configuration files.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `Option<Duration>` as whole milliseconds or `null` in configuration files.
pub(crate) mod millis_option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}
