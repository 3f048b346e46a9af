//! [`Strikes`]: close a connection that keeps sending refused messages.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::outcome::{ErrorReply, Outcome};
use crate::rejection::Rejection;
use crate::session::Session;

/// A strike policy: after `max` refused messages within `window`, the layer
/// closes the connection instead of answering once more.
///
/// Dropping a bad message is the defence; strikes stop a client that keeps
/// sending them from costing the server a reply each time. The window
/// slides: a strike older than `window` no longer counts.
///
/// Deserializes from `{"max": 10, "window_ms": 60000}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strikes {
    max: NonZeroU32,
    #[serde(rename = "window_ms", with = "super::millis")]
    window: Duration,
}

impl Strikes {
    /// The default of the layers that use strikes: 10 refusals within 60
    /// seconds.
    pub const DEFAULT: Self = Self::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(60));

    /// `max` refusals within `window` close the connection.
    pub const fn new(max: NonZeroU32, window: Duration) -> Self {
        Self { max, window }
    }

    /// How many refusals within the window close the connection.
    pub const fn max(&self) -> NonZeroU32 {
        self.max
    }

    /// How long a refusal counts.
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// Records a strike at `now` in the session's log for layer type `L`,
    /// and says whether the limit is reached.
    pub(crate) fn strike<L: 'static>(&self, session: &mut Session, now: Instant) -> bool {
        let extensions = session.extensions_mut();
        if extensions.get::<StrikeLog<L>>().is_none() {
            extensions.insert(StrikeLog::<L>(VecDeque::new(), PhantomData));
        }
        let Some(StrikeLog(log, _)) = extensions.get_mut::<StrikeLog<L>>() else { return false };
        while log.front().is_some_and(|&at| now.saturating_duration_since(at) >= self.window) {
            log.pop_front();
        }
        log.push_back(now);
        log.len() >= self.max.get() as usize
    }
}

/// A refusal by layer `L`: `reply`, or, when it is the strike that reaches
/// the policy's limit, a close with `close()`. Without a policy, always the
/// reply.
pub(crate) fn refuse<L: 'static>(
    strikes: Option<&Strikes>,
    session: &mut Session,
    now: Instant,
    reply: ErrorReply,
    close: impl FnOnce() -> Rejection,
) -> Outcome {
    match strikes {
        Some(strikes) if strikes.strike::<L>(session, now) => Outcome::Close(close()),
        _ => Outcome::drop_with(reply),
    }
}

/// The recent strikes of one session for one layer type, oldest first;
/// never longer than the policy's `max`.
struct StrikeLog<L>(VecDeque<Instant>, PhantomData<fn() -> L>);

impl<L> Clone for StrikeLog<L> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::ConnectionId;

    struct Tag;

    #[test]
    fn the_max_th_strike_within_the_window_trips_and_old_strikes_expire() {
        let start = Instant::now();
        let mut session = Session::new(ConnectionId::new(1), None, start);
        let strikes = Strikes::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(10));
        let at = |s| start + Duration::from_secs(s);
        assert!(!strikes.strike::<Tag>(&mut session, at(0)));
        assert!(!strikes.strike::<Tag>(&mut session, at(5)));
        // The first strike is 10 s old at t=10: it no longer counts.
        assert!(!strikes.strike::<Tag>(&mut session, at(10)));
        assert!(strikes.strike::<Tag>(&mut session, at(11)));
        // Another layer's log is separate.
        assert!(!strikes.strike::<()>(&mut session, at(11)));
    }

    #[test]
    fn one_allowed_strike_trips_at_once_and_config_round_trips() {
        let mut session = Session::new(ConnectionId::new(1), None, Instant::now());
        let strikes: Strikes = serde_json::from_str(r#"{"max":1,"window_ms":1000}"#).unwrap();
        assert_eq!(strikes.window(), Duration::from_secs(1));
        assert!(strikes.strike::<Tag>(&mut session, Instant::now()));
        assert!(serde_json::from_str::<Strikes>(r#"{"max":0,"window_ms":1000}"#).is_err());
    }
}
