//! The generic cell rate algorithm, on integer nanoseconds.
//!
//! The state of a key is one number, its theoretical arrival time (TAT).
//! A request of `cost` units at `now` would move it to
//! `max(tat, now) + cost * period`; it is admitted if that is at most
//! `burst * period` ahead of `now`. The same arithmetic, on the same
//! integers, runs in the Redis script, so both stores answer a sequence of
//! arrivals identically.

use std::time::Duration;

use super::Quota;

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not now: retry after this long.
    Wait(Duration),
    /// Never: the cost is larger than the burst.
    TooLarge,
}

/// Decides one request and, when it is admitted, advances `tat`.
pub(crate) fn check(tat: &mut u64, now: u64, quota: &Quota, cost: u32) -> Result<(), Refusal> {
    let burst = u64::from(quota.burst().get());
    if u64::from(cost) > burst {
        return Err(Refusal::TooLarge);
    }
    let period = quota.period_ns();
    let new_tat = (*tat).max(now).saturating_add(period.saturating_mul(u64::from(cost)));
    let allow_at = new_tat.saturating_sub(period.saturating_mul(burst));
    if now < allow_at {
        return Err(Refusal::Wait(Duration::from_nanos(allow_at - now)));
    }
    *tat = new_tat;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    const MS: u64 = 1_000_000;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    /// Which of the arrivals (ms, cost) are admitted.
    fn admitted(quota: Quota, arrivals: &[(u64, u32)]) -> Vec<bool> {
        let mut tat = 0;
        arrivals.iter().map(|&(at, cost)| check(&mut tat, at * MS, &quota, cost).is_ok()).collect()
    }

    #[test]
    fn a_burst_passes_at_once_then_the_steady_rate() {
        // 2 per second, burst 2: two at t=0, then one every 500 ms.
        let q = Quota::per_second(n(2));
        let got = admitted(q, &[(0, 1), (0, 1), (0, 1), (499, 1), (500, 1), (500, 1), (1000, 1)]);
        assert_eq!(got, [true, true, false, false, true, false, true]);
    }

    #[test]
    fn the_refusal_says_when_to_retry_and_does_not_consume() {
        let q = Quota::per_second(n(2));
        let mut tat = 0;
        assert!(check(&mut tat, 0, &q, 2).is_ok());
        assert_eq!(check(&mut tat, 100 * MS, &q, 1), Err(Refusal::Wait(Duration::from_millis(400))));
        assert_eq!(tat, 1000 * MS, "a refusal leaves the state alone");
        assert!(check(&mut tat, 500 * MS, &q, 1).is_ok());
    }

    #[test]
    fn weights_count_as_that_many_units() {
        // 1 KiB per second, burst 1 KiB: a 1 KiB message empties the bucket.
        let q = Quota::per_second(n(1024));
        let got = admitted(q, &[(0, 1024), (0, 1), (500, 512), (500, 1), (1000, 513)]);
        assert_eq!(got, [true, false, true, false, false]);
        assert_eq!(check(&mut 0, 0, &q, 1025), Err(Refusal::TooLarge));
    }

    #[test]
    fn a_larger_burst_with_the_same_rate() {
        let q = Quota::per_second(n(1)).allow_burst(n(3));
        let got = admitted(q, &[(0, 1), (0, 1), (0, 1), (0, 1), (1000, 1), (1000, 1), (3000, 1), (3000, 1)]);
        assert_eq!(got, [true, true, true, false, true, false, true, true]);
    }

    #[test]
    fn idle_keys_refill_to_the_burst_and_no_further() {
        let q = Quota::per_second(n(2));
        let got = admitted(q, &[(0, 2), (60_000, 1), (60_000, 1), (60_000, 1)]);
        assert_eq!(got, [true, true, true, false]);
        assert!(Quota::with_period(Duration::ZERO).is_none());
        assert_eq!(Quota::with_period(Duration::from_secs(2)).unwrap().burst().get(), 1);
    }
}
