//! A frame's way back: found its class by the layout it was taken for (the
//! pool's first layout by comparing keys, another by this thread's memory
//! or the pool's class table), then into the freeing thread's hot slot or
//! magazines, a full magazine on to the depot, and past the pool's bounds to
//! the allocator; a size-class pool's frame back to it, a frame allocated
//! alone freed.

use core::ptr::NonNull;

use crate::adaptive::visit_depot;
use crate::frame::{Class, Frame, heap_free};
use crate::global::register;
use crate::hot::HOT_MASK;
use crate::layout::ClassKey;
use crate::lifecycle::end_hot_lap;
use crate::local::{LocalPool, Visit, local_pool, local_pool_or_insert, near_pool};
use crate::pool::FramePool;
use crate::size_class::{overflow_pool, served_key};
use crate::stats::Totals;
use crate::sync::{Ordering, bump};

/// Gives a taken frame back if the future's constructor unwinds before the
/// frame holds a value: to this thread's cache, like any free, so the
/// thread's next call reuses it (tests/model.rs checks that).
pub(crate) struct Unwritten {
    pub(crate) pool: &'static FramePool,
    pub(crate) frame: Frame,
    pub(crate) key: ClassKey,
}

impl Drop for Unwritten {
    fn drop(&mut self) {
        // SAFETY: the frame came from `take_frame(key)` and holds no value:
        // the unwinding began before it was written.
        unsafe { give_frame(self.pool, self.frame, self.key) };
    }
}

/// [`Unwritten`] for the pool's own work after a take, while this thread's
/// state is borrowed: if something unwinds there, the frame goes back
/// through the depot, as from a thread with no cache, so the give-back
/// never borrows the state a second time (invariant 5 in ARCHITECTURE.md).
pub(crate) struct Held {
    pub(crate) pool: &'static FramePool,
    pub(crate) frame: Frame,
    pub(crate) key: ClassKey,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Held { pool, frame, key } = *self;
        if frame.class == Class::OVERFLOW {
            // SAFETY: the frame came from `take_frame(key)`, from a size-class
            // pool, and holds no value. That pool's cache is not this one.
            unsafe { give_overflow(pool, frame.ptr, key) };
        } else {
            // SAFETY: as above, a frame of this pool's class or a heap frame.
            unsafe { pool.shared().give_back_orphan(frame, key) };
        }
    }
}

/// Gives a frame back: the fast path. Its class is the one `take_frame`
/// chose for `key`, found the way it was found: for the pool's first
/// layout, by comparing keys; for another, by looking it up.
///
/// # Safety
/// `ptr` came from `take_frame(pool, key)`, and no longer holds a
/// value.
// Inlined into each future's code only where it pays: in optimised
// builds. A debug build calls the one copy here.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn give_back(pool: &'static FramePool, ptr: NonNull<u8>, key: ClassKey) {
    // SAFETY: forwarded from the caller; the way was just found.
    unsafe { give_back_by(pool, way_back(pool, key), ptr, key) }
}

/// The first half of [`give_back`]: this thread's cache, if a frame taken
/// for `key` goes straight into it. Stays true for the rest of the
/// thread's current call into the pool's code (`first` never changes once
/// set, and a thread's cache lives until the thread exits, invariant 6),
/// so the erased handles find it before their value's last poll, whose
/// output's stores would make these loads wait.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn way_back(pool: &'static FramePool, key: ClassKey) -> Option<NonNull<LocalPool>> {
    if pool.first.load(Ordering::Relaxed) == key.bits() {
        near_pool(pool.near.load(Ordering::Relaxed))
    } else {
        None
    }
}

/// The second half of [`give_back`].
///
/// # Safety
/// As [`give_back`], and `way` came from [`way_back`] for `key` on this
/// thread.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn give_back_by(
    pool: &'static FramePool,
    way: Option<NonNull<LocalPool>>,
    ptr: NonNull<u8>,
    key: ClassKey,
) {
    match way {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`);
        // the caller's frame, of class 0.
        Some(lp) => unsafe {
            give_cached(pool, lp.as_ref(), Frame { ptr, class: Class::FIRST }, key)
        },
        // SAFETY: forwarded from the caller.
        None => unsafe { give_back_other(pool, ptr, key) },
    }
}

/// [`give_back`] past its inline path: a layout other than the first, or
/// a pool past the near table.
///
/// # Safety
/// As [`give_back`].
#[inline(never)]
unsafe fn give_back_other(pool: &'static FramePool, ptr: NonNull<u8>, key: ClassKey) {
    if pool.reserve.is_some() && give_static(pool, ptr) {
        return;
    }
    let class = match local_pool(pool.index.load(Ordering::Relaxed)) {
        Some(lp) => {
            // SAFETY: invariant 6: this thread's live cache (`local_pool`).
            let lp = unsafe { lp.as_ref() };
            match remembered_class(pool, lp, key) {
                // SAFETY: forwarded from the caller, with the class
                // `take_frame` chose.
                Some(Class::OVERFLOW) => return unsafe { give_overflow(pool, ptr, key) },
                Some(class) => {
                    // SAFETY: as above.
                    return unsafe { give_cached(pool, lp, Frame { ptr, class }, key) };
                }
                None => class_of(pool, key),
            }
        }
        None => class_of(pool, key),
    };
    // SAFETY: forwarded from the caller, with the class `take_frame` chose.
    unsafe { give_frame(pool, Frame { ptr, class }, key) }
}

/// The class this thread's cache `lp` remembers for `key`, if any
/// ([`Class::OVERFLOW`] for a layout it took from a size-class pool).
#[inline]
fn remembered_class(pool: &FramePool, lp: &LocalPool, key: ClassKey) -> Option<Class> {
    let served = served_key(pool, key);
    lp.with_state(|st| {
        st.lookup(served).map(Class::own).or_else(|| st.redirect(served).map(|_| Class::OVERFLOW))
    })
}

/// The class that serves `key` in `pool`, as `take_frame` chose it:
/// this thread's memory of it, or the pool's, which never changes once
/// chosen; [`Class::OVERFLOW`] for a layout served by a size-class pool,
/// [`Class::HEAP`] for one allocated alone.
pub(crate) fn class_of(pool: &'static FramePool, key: ClassKey) -> Class {
    if pool.first.load(Ordering::Relaxed) == key.bits() {
        return Class::FIRST;
    }
    if let Some(lp) = local_pool(pool.index.load(Ordering::Relaxed)) {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        if let Some(class) = remembered_class(pool, unsafe { lp.as_ref() }, key) {
            return class;
        }
    }
    let served = served_key(pool, key);
    match pool.shared().class_for(served) {
        Some(class) => Class::own(class),
        None if overflow_pool(pool, served).is_some() => Class::OVERFLOW,
        None => Class::HEAP,
    }
}

/// Gives back a frame whose class is known: to this thread's cache, or
/// on the slow path.
///
/// # Safety
/// `frame` came from `take_frame(pool, key)`, class included, and
/// no longer holds a value.
#[inline(never)]
pub(crate) unsafe fn give_frame(pool: &'static FramePool, frame: Frame, key: ClassKey) {
    if frame.class == Class::STATIC && give_static(pool, frame.ptr) {
        return;
    }
    if frame.class == Class::OVERFLOW {
        // SAFETY: forwarded from the caller.
        return unsafe { give_overflow(pool, frame.ptr, key) };
    }
    if let Some(lp) = local_pool(pool.index.load(Ordering::Relaxed)) {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`); the caller's frame.
        unsafe { give_cached(pool, lp.as_ref(), frame, key) };
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { give_back_slow(pool, frame, key) }
}

/// Gives `ptr` back to the pool's static frames if it is one of them,
/// and counts the free.
#[cold]
fn give_static(pool: &'static FramePool, ptr: NonNull<u8>) -> bool {
    let given = pool.reserve.is_some_and(|reserve| reserve.give(ptr));
    if given {
        pool.shared().add_retired(&Totals { frees: 1, ..Totals::default() });
    }
    given
}

/// Gives a frame of a size-class pool back to it, and counts the free
/// here.
///
/// # Safety
/// As [`give_frame`], for a frame of class [`Class::OVERFLOW`].
#[cold]
#[inline(never)]
unsafe fn give_overflow(pool: &'static FramePool, ptr: NonNull<u8>, key: ClassKey) {
    let Some((_, sc)) = overflow_pool(pool, key) else {
        unreachable!("a layout that overflowed keeps its size-class pool");
    };
    let shared = pool.shared();
    match local_pool_or_insert(register(pool), shared) {
        Some(lp) => {
            // SAFETY: invariant 6: this thread's live cache (`local_pool`).
            let c = unsafe { lp.as_ref() }.counters();
            bump(&c.frees, 1);
            bump(&c.overflow_frees, 1);
        }
        None => shared.add_retired(&Totals { frees: 1, overflow_frees: 1, ..Totals::default() }),
    }
    // SAFETY: invariant 3: `take_overflow` took the frame from `sc` for the same
    // rounded layout, which `sc` finds from `key`.
    unsafe { give_back(sc, ptr, key) }
}

/// Caches a free pooled frame in this thread's `lp`: in the hot slot, or
/// the magazines.
///
/// # Safety
/// `lp` is this thread's cache for `pool` (see `local_pool`); `frame`
/// came from `take_frame(pool, key)`, and no longer holds a value.
#[inline(always)]
unsafe fn give_cached(pool: &'static FramePool, lp: &LocalPool, frame: Frame, key: ClassKey) {
    // A heap frame's slot is always closed (and a size-class pool's
    // frame's): no separate test for them here.
    if lp.visible.hot[frame.class.bits() & HOT_MASK].put(frame.ptr).is_ok() {
        if lp.counters().hot_free() {
            end_hot_lap(pool, lp);
        }
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { give_to_magazines(pool, lp, frame, key) }
}

/// [`give_cached`] past a full hot slot, out of
/// line so that the hot path stays small enough to inline everywhere.
///
/// # Safety
/// As [`give_cached`].
#[inline(never)]
unsafe fn give_to_magazines(pool: &'static FramePool, lp: &LocalPool, frame: Frame, key: ClassKey) {
    if frame.class.is_elsewhere() {
        // SAFETY: forwarded from the caller.
        return unsafe { give_back_slow(pool, frame, key) };
    }
    let class = frame.class.index();
    bump(&lp.counters().frees, 1);
    lp.with_state(|st| {
        // SAFETY: the caller gives us the frame, a free frame of `class`.
        if let Some(spill) = unsafe { st.mags[class].push(frame.ptr) } {
            lp.watch_closely(st);
            visit_depot(lp, st, Visit::Spill);
            lp.sync_cap(st);
            st.mags[class].restock(lp.spill(class, spill));
        }
    });
}

/// # Safety
/// As [`give_frame`].
#[cold]
#[inline(never)]
unsafe fn give_back_slow(pool: &'static FramePool, frame: Frame, key: ClassKey) {
    if frame.class == Class::OVERFLOW {
        // SAFETY: forwarded from the caller.
        return unsafe { give_overflow(pool, frame.ptr, key) };
    }
    let idx = register(pool);
    let shared = pool.shared();
    let local = local_pool_or_insert(idx, shared).map(|lp| {
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        let lp = unsafe { lp.as_ref() };
        if frame.class == Class::HEAP {
            let c = lp.counters();
            bump(&c.frees, 1);
            bump(&c.heap_frees, 1);
            bump(&c.bytes_out, key.size() as u64);
            // SAFETY: a heap frame was allocated alone with `key`'s layout.
            unsafe { heap_free(frame.ptr, key) };
            return;
        }
        // SAFETY: this thread's cache for the pool; the caller gives us a
        // free pooled frame of it.
        unsafe { give_cached(pool, lp, frame, key) };
    });
    if local.is_none() {
        // SAFETY: forwarded from the caller.
        unsafe { shared.give_back_orphan(frame, key) };
    }
}
