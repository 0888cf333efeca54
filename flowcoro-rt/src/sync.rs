//! Synchronisation primitives: std's; loom's in the crate's own loom models
//! (`cfg(all(test, loom))`), so that `loom_models.rs` explores every
//! interleaving of the depot, the magazines and the per-thread counters;
//! without the `std` feature, a lock that is a critical section
//! (`critical-section`), and 64-bit counters behind one as well (Cortex-M
//! has no 64-bit atomics; every target takes the same path, so that the
//! host's tests check the firmware's). A user's `--cfg loom` build of their
//! own code leaves flowcoro on std's.

use alloc::boxed::Box;
use core::ptr;

#[cfg(all(test, loom))]
pub(crate) use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence},
};

// Outside the loom models, the swappable primitives are the fixed ones.
#[cfg(not(all(test, loom)))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering, fence};
#[cfg(not(all(test, loom)))]
pub(crate) use fixed::{AtomicU64, AtomicUsize, Mutex, lock};

/// The primitives of `static`s and `const fn`s, which loom's can't be:
/// std's (without std, the critical-section ones) in every build, the loom
/// models' included. What they guard is outside the models.
pub(crate) mod fixed {
    #[cfg(feature = "std")]
    pub(crate) use core::sync::atomic::AtomicU64;
    pub(crate) use core::sync::atomic::AtomicUsize;
    #[cfg(feature = "std")]
    pub(crate) use std::sync::{Mutex, MutexGuard};

    #[cfg(not(feature = "std"))]
    pub(crate) use super::critical::{AtomicU64, Mutex, MutexGuard};

    /// Locks `m`, ignoring poisoning: no user code ever runs while one of
    /// our locks is held, so a poisoned lock still guards consistent data.
    #[cfg(feature = "std")]
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks `m`: enters a critical section.
    #[cfg(not(feature = "std"))]
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock()
    }
}

/// A pause in a retry loop; under loom, a yield so the model moves on.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(all(test, loom))]
    loom::thread::yield_now();
    #[cfg(not(all(test, loom)))]
    core::hint::spin_loop();
}

/// [`fixed::lock`] for loom's locks, in the models.
#[cfg(all(test, loom))]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// A value built on first use, behind a pointer: the first thread to
/// install one wins, a thread that loses the race drops its own. No lock
/// and no std: a pool's shared part.
pub(crate) struct OnceBox<T> {
    ptr: core::sync::atomic::AtomicPtr<T>,
}

impl<T> OnceBox<T> {
    pub(crate) const fn new() -> Self {
        OnceBox { ptr: core::sync::atomic::AtomicPtr::new(ptr::null_mut()) }
    }

    /// The value, if built yet.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was installed by `get_or_init` from a
        // `Box` (the acquire load sees it written), and is freed only by
        // `drop`, which `&self` rules out.
        unsafe { p.as_ref() }
    }

    /// The value, built by `init` if no thread has built it yet.
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        let mine = Box::into_raw(Box::new(init()));
        let installed = match self.ptr.compare_exchange(
            ptr::null_mut(),
            mine,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => mine,
            Err(theirs) => {
                // SAFETY: `mine` came from `Box::into_raw` above and was
                // never shared: another thread's value won the race.
                drop(unsafe { Box::from_raw(mine) });
                theirs
            }
        };
        // SAFETY: installed from a `Box`, freed only by `drop`.
        unsafe { &*installed }
    }
}

impl<T> Drop for OnceBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: installed by `get_or_init` from a `Box`, and no
            // reference to it outlives `self`.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

// SAFETY: a `OnceBox<T>` hands out `&T` to every thread that shares it, and
// moves the `T` with it: it is what a `Box<T>` behind a once-cell is.
unsafe impl<T: Send + Sync> Sync for OnceBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for OnceBox<T> {}

/// The lock of a `no_std` build: a critical section, with the data in a
/// `RefCell` (a lock taken again in the same section panics: a bug, never a
/// second `&mut`).
#[cfg(not(feature = "std"))]
mod critical {
    use core::cell::{Cell, RefCell, RefMut};
    use core::ops::{Deref, DerefMut};

    use critical_section::RestoreState;

    use super::Ordering;

    /// How deep the critical sections of our locks nest, and the state the
    /// outermost one restores. Touched only inside a critical section.
    struct Nesting {
        depth: Cell<usize>,
        outer: Cell<Option<RestoreState>>,
    }

    // SAFETY: only read and written between `critical_section::acquire` and
    // `release`, where no other thread, core or interrupt runs this code.
    unsafe impl Sync for Nesting {}

    static NESTING: Nesting = Nesting { depth: Cell::new(0), outer: Cell::new(None) };

    /// Enters a critical section for one of our locks.
    fn enter() {
        // SAFETY: released by `leave`, called by the guard's drop. A nested
        // acquire is released at once, so that only the outermost is held:
        // however the guards are dropped, the section ends with the last one.
        let state = unsafe { critical_section::acquire() };
        let depth = NESTING.depth.get();
        NESTING.depth.set(depth + 1);
        if depth == 0 {
            NESTING.outer.set(Some(state));
        } else {
            // SAFETY: the most recent acquire, released first, inside the
            // outer section.
            unsafe { critical_section::release(state) };
        }
    }

    /// Leaves the critical section of one of our locks.
    fn leave() {
        let depth = NESTING.depth.get() - 1;
        NESTING.depth.set(depth);
        if depth == 0 {
            if let Some(state) = NESTING.outer.take() {
                // SAFETY: the outermost acquire, from `enter`; no guard is
                // left inside it.
                unsafe { critical_section::release(state) };
            }
        }
    }

    pub(crate) struct Mutex<T> {
        data: RefCell<T>,
    }

    // SAFETY: the data is reached only through a guard, which holds a
    // critical section: one context at a time.
    unsafe impl<T: Send> Sync for Mutex<T> {}

    impl<T> core::fmt::Debug for Mutex<T> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Mutex").finish_non_exhaustive()
        }
    }

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Mutex { data: RefCell::new(value) }
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            enter();
            let data = match self.data.try_borrow_mut() {
                Ok(data) => data,
                Err(_) => {
                    leave();
                    panic!("flowcoro: a pool lock taken twice in one critical section");
                }
            };
            MutexGuard { data: Some(data) }
        }
    }

    /// A 64-bit counter read and written inside a critical section: what
    /// the code needs of `AtomicU64`, on any target. Every access is
    /// sequentially consistent; the orderings asked for are weaker.
    pub(crate) struct AtomicU64 {
        value: Cell<u64>,
    }

    // SAFETY: the cell is read and written only inside a critical section.
    unsafe impl Sync for AtomicU64 {}

    impl core::fmt::Debug for AtomicU64 {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            core::fmt::Debug::fmt(&self.load(Ordering::Relaxed), f)
        }
    }

    impl AtomicU64 {
        pub(crate) const fn new(value: u64) -> Self {
            AtomicU64 { value: Cell::new(value) }
        }

        fn update(&self, f: impl FnOnce(u64) -> u64) -> u64 {
            critical_section::with(|_| {
                let old = self.value.get();
                self.value.set(f(old));
                old
            })
        }

        pub(crate) fn load(&self, _: Ordering) -> u64 {
            critical_section::with(|_| self.value.get())
        }

        pub(crate) fn store(&self, value: u64, _: Ordering) {
            critical_section::with(|_| self.value.set(value));
        }

        pub(crate) fn fetch_add(&self, n: u64, _: Ordering) -> u64 {
            self.update(|old| old.wrapping_add(n))
        }

        pub(crate) fn fetch_max(&self, n: u64, _: Ordering) -> u64 {
            self.update(|old| old.max(n))
        }

        pub(crate) fn compare_exchange(
            &self,
            current: u64,
            new: u64,
            _: Ordering,
            _: Ordering,
        ) -> Result<u64, u64> {
            let old = self.update(|old| if old == current { new } else { old });
            if old == current { Ok(old) } else { Err(old) }
        }

        pub(crate) fn compare_exchange_weak(
            &self,
            current: u64,
            new: u64,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u64, u64> {
            self.compare_exchange(current, new, success, failure)
        }
    }

    pub(crate) struct MutexGuard<'a, T> {
        data: Option<RefMut<'a, T>>,
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.data.as_deref().expect("a guard holds its data until dropped")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.data.as_deref_mut().expect("a guard holds its data until dropped")
        }
    }

    impl<T> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            // The borrow ends inside the section.
            self.data = None;
            leave();
        }
    }
}
