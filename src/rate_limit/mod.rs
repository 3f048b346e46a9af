//! Rate limiting (work in progress on this branch: quotas and the GCRA core).
//!
//! # Why our own GCRA rather than `governor`
//!
//! The in-memory store and the Redis store must give the same answers for
//! the same arrivals, so the algorithm runs on integer nanoseconds that a
//! Lua script can reproduce exactly. Time is passed in (the guard's clock),
//! never read from a TSC clock that can jump backwards across cores
//! (governor #299), and the keyed store is ours, so it can evict idle keys
//! and stay bounded (governor #171).

mod gcra;
mod layer;
mod quota;
mod store;

pub use layer::{Per, RateLimit, RateLimitBuilder, Unit};
pub use quota::Quota;

#[cfg(test)]
mod tests;
