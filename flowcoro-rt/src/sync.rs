//! Synchronisation primitives, swapped for loom's in the crate's own loom
//! models (`cfg(all(test, loom))`), so that `loom_models.rs` explores every
//! interleaving of the depot, the magazines and the per-thread counters. A
//! user's `--cfg loom` build of their own code leaves flowcoro on std's.

#[cfg(all(test, loom))]
pub(crate) use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence},
};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence},
};

/// A pause in a retry loop; under loom, a yield so the model moves on.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(all(test, loom))]
    loom::thread::yield_now();
    #[cfg(not(all(test, loom)))]
    core::hint::spin_loop();
}

/// Locks `m`, ignoring poisoning: no user code ever runs while one of our
/// locks is held, so a poisoned lock still guards consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Adds `n` to a counter that only the calling thread writes.
///
/// A load and a store, not a read-modify-write: on the fast path this is a
/// plain `add` to a cache line the thread owns. The store is a release (a
/// plain store on x86-64), so that a reader that sees it also sees what the
/// thread did before: the counters a frame was counted by earlier.
#[inline(always)]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Release);
}
