//! Synchronisation primitives, swapped for loom's under `cfg(loom)` so the
//! models in `tests/loom.rs` explore every interleaving of the depot and the
//! per-thread counters.
// Items are `pub` so the loom models can reach them through `__loom`;
// outside loom builds the module is private and they stay crate-internal.
#![allow(unreachable_pub)]

#[cfg(loom)]
pub use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicPtr, AtomicU64, Ordering},
};
#[cfg(not(loom))]
pub use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicPtr, AtomicU64, Ordering},
};

/// Locks `m`, ignoring poisoning: no user code ever runs while one of our
/// locks is held, so a poisoned lock still guards consistent data.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Adds `n` to a counter that only the calling thread writes.
///
/// A relaxed load and store, not a read-modify-write: on the fast path this is
/// a plain `add` to a cache line the thread owns.
#[inline(always)]
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}
