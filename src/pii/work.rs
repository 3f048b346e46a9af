//! A count of the bytes the scanner examines, to show that scanning costs
//! linear time whatever the input (`tests/pii_linear.rs`).
//!
//! Every loop that reads the frame adds what it read. The count is per
//! thread and exists only with the `test-util` feature; without it,
//! [`add`] compiles to nothing, so the scan pays nothing for it.

#[cfg(feature = "test-util")]
thread_local! {
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts `n` bytes examined.
#[inline]
pub(crate) fn add(n: usize) {
    #[cfg(feature = "test-util")]
    WORK.with(|w| w.set(w.get() + n as u64));
    #[cfg(not(feature = "test-util"))]
    let _ = n;
}

/// The bytes examined on this thread since the last call (always 0
/// without the `test-util` feature).
pub(crate) fn take() -> u64 {
    #[cfg(feature = "test-util")]
    return WORK.with(|w| w.replace(0));
    #[cfg(not(feature = "test-util"))]
    0
}
