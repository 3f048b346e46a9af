//! [`GuardHandle`]: the current guard, replaceable while serving.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::Guard;
use crate::registry::SessionRegistry;

/// The guard new connections get, replaceable at run time (a configuration
/// reload) without stopping the server.
///
/// Call [`guard`](Self::guard) for each new connection and hand the result
/// to the adapter; [`replace`](Self::replace) it with a guard built from a
/// new [`GuardConfig`](crate::config::GuardConfig).
///
/// # What live connections see
///
/// A connection keeps the guard it was accepted with until it ends: its
/// limits, liveness timers, policies, schemas, scrubber and rate-limit
/// state. A reload applies to connections accepted after it, so a
/// tightened policy reaches everyone once old connections end (bound that
/// with [`Liveness::max_lifetime`](crate::Liveness::max_lifetime), or close
/// them).
///
/// Connection caps count per guard: for as long as connections accepted
/// before a reload live on, a peer may hold up to its cap under each guard.
/// Revocation spans them: [`revoke_principal`](Self::revoke_principal)
/// reaches sessions of the current guard and of every replaced guard that
/// still has some.
///
/// Reading the current guard is one atomic load and a reference count
/// (`arc-swap`); a reload never blocks connections being accepted.
///
/// ```
/// use wsguard::{Guard, GuardHandle};
///
/// let handle = GuardHandle::new(Guard::builder().without_auth().build()?);
/// let for_a_connection = handle.guard();
/// // Later, on SIGHUP: build the new guard first; a bad file keeps the old one.
/// let next = Guard::builder().without_auth().build()?;
/// let previous = handle.replace(next);
/// # Ok::<(), wsguard::ConfigError>(())
/// ```
pub struct GuardHandle {
    current: ArcSwap<Guard>,
    /// Registries of replaced guards whose sessions may still be live.
    retired: Mutex<Vec<SessionRegistry>>,
}

impl std::fmt::Debug for GuardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardHandle").field("current", &*self.current.load()).finish_non_exhaustive()
    }
}

impl GuardHandle {
    /// A handle serving `guard`.
    pub fn new(guard: Guard) -> Self {
        Self { current: ArcSwap::from_pointee(guard), retired: Mutex::default() }
    }

    /// The current guard, for a new connection (a cheap clone).
    pub fn guard(&self) -> Guard {
        Guard::clone(&self.current.load())
    }

    /// Makes `guard` the one new connections get; returns the previous one.
    pub fn replace(&self, guard: Guard) -> Guard {
        let previous = self.current.swap(Arc::new(guard));
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        retired.retain(|registry| !registry.is_empty());
        retired.push(previous.sessions().clone());
        Guard::clone(&previous)
    }

    /// Revokes every session of principal `id`, under the current guard and
    /// under replaced guards; returns how many.
    pub fn revoke_principal(&self, id: &str) -> usize {
        let retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        self.current.load().sessions().revoke_principal(id)
            + retired.iter().map(|registry| registry.revoke_principal(id)).sum::<usize>()
    }
}
