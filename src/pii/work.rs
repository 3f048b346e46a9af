//! A count of the bytes the scanner examines, to show that scanning costs
//! linear time whatever the input (`tests`, `benches/pii.rs`).
//!
//! Every loop that reads the frame adds what it read. The count is per
//! thread and costs one add per call; [`take`] reads and resets it.

use std::cell::Cell;

thread_local! {
    static WORK: Cell<u64> = const { Cell::new(0) };
}

/// Counts `n` bytes examined.
#[inline]
pub(crate) fn add(n: usize) {
    WORK.with(|w| w.set(w.get() + n as u64));
}

/// The bytes examined on this thread since the last call.
pub(crate) fn take() -> u64 {
    WORK.with(|w| w.replace(0))
}
