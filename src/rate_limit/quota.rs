//! [`Quota`]: a rate and a burst, as GCRA parameters.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::Deserialize;

/// How much may pass: on average one unit per [`period`](Self::period), with
/// up to [`burst`](Self::burst) units at once.
///
/// Built only through constructors that cannot produce an invalid quota: a
/// zero rate or burst cannot be expressed (`NonZeroU32`), and
/// [`with_period`](Self::with_period) refuses a zero period.
///
/// ```
/// # use std::num::NonZeroU32;
/// use wsguard::rate_limit::Quota;
/// let twenty = NonZeroU32::new(20).unwrap();
/// let q = Quota::per_second(twenty).allow_burst(NonZeroU32::new(40).unwrap());
/// assert_eq!(q.period().as_millis(), 50);
/// assert_eq!(q.burst().get(), 40);
/// ```
///
/// In configuration, a quota is `{"per_second": 20, "burst": 40}`, or
/// `per_minute`, or `period_ms` (one unit per period), each with an
/// optional `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "QuotaSpec")]
pub struct Quota {
    period_ns: u64,
    burst: NonZeroU32,
}

impl Quota {
    /// `rate` units per second, with a burst of `rate`.
    pub fn per_second(rate: NonZeroU32) -> Self {
        Self::every(1_000_000_000, rate)
    }

    /// `rate` units per minute, with a burst of `rate`.
    pub fn per_minute(rate: NonZeroU32) -> Self {
        Self::every(60_000_000_000, rate)
    }

    /// One unit per `period`, with a burst of 1; `None` for a zero period.
    pub fn with_period(period: Duration) -> Option<Self> {
        let ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        (ns > 0).then_some(Self { period_ns: ns, burst: NonZeroU32::MIN })
    }

    fn every(window_ns: u64, rate: NonZeroU32) -> Self {
        // At most 10^9 units per second: the period stays at least 1 ns.
        Self { period_ns: (window_ns / u64::from(rate.get())).max(1), burst: rate }
    }

    /// The same rate with a different burst.
    #[must_use]
    pub fn allow_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    /// The time one unit takes to replenish.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period_ns)
    }

    /// The most units that can pass at once.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    pub(crate) fn period_ns(&self) -> u64 {
        self.period_ns
    }
}

/// The configuration form of a [`Quota`]: exactly one of `per_second`,
/// `per_minute` or `period_ms`, and optionally `burst`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSpec {
    per_second: Option<NonZeroU32>,
    per_minute: Option<NonZeroU32>,
    period_ms: Option<u64>,
    burst: Option<NonZeroU32>,
}

impl TryFrom<QuotaSpec> for Quota {
    type Error = &'static str;

    fn try_from(spec: QuotaSpec) -> Result<Self, Self::Error> {
        let quota = match (spec.per_second, spec.per_minute, spec.period_ms) {
            (Some(rate), None, None) => Self::per_second(rate),
            (None, Some(rate), None) => Self::per_minute(rate),
            (None, None, Some(ms)) => {
                Self::with_period(Duration::from_millis(ms)).ok_or("period_ms must be positive")?
            }
            _ => return Err("a quota needs exactly one of per_second, per_minute and period_ms"),
        };
        Ok(spec.burst.map_or(quota, |b| quota.allow_burst(b)))
    }
}
