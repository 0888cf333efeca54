//! What other threads may read of one thread's cache of one pool: its
//! counters and its hot slots, the frames it freed last. The pool's
//! registry keeps a pointer to this part of every registered thread's
//! cache, for `stats()`; only the owning thread writes it.

use core::ptr::NonNull;

use crate::frame::{CLASSES, Class};
use crate::stats::{Counters, Totals};
use crate::sync::{AtomicPtr, Ordering::Relaxed};

/// The frame a thread freed last, kept apart for the next allocation of its
/// class.
///
/// A call that completes before the next one of its pool starts (the common
/// case) hands its frame over through this slot: a load and a store each
/// way, no link written into the frame, no length, and no counter on the
/// allocation. The free that fills the slot counts down `hot_left` (whose
/// laps are the decay tick); the allocations it served are the frees into
/// hot slots minus the frames still in them.
///
/// Only the owning thread writes it, with relaxed loads and stores (plain
/// moves); other threads only read it, to count.
pub(crate) struct HotSlot(AtomicPtr<u8>);

/// Hot slots per thread and pool, indexed by class masked with
/// [`HOT_MASK`].
pub(crate) const HOT_SLOTS: usize = 2 * CLASSES;
pub(crate) const HOT_MASK: usize = HOT_SLOTS - 1;
// The homes outside the classes fall on slots that stay closed.
const _: () = assert!(Class::HEAP.bits() & HOT_MASK >= CLASSES);
const _: () = assert!(Class::OVERFLOW.bits() & HOT_MASK >= CLASSES);
const _: () = assert!(Class::STATIC.bits() & HOT_MASK >= CLASSES);

/// A slot holding this address is closed: a pool with no room for idle
/// frames (`max_idle` below 2) keeps none here either. Frames are at least
/// cache-line aligned, so no frame has it.
const CLOSED: usize = 1;
const _: () = assert!(core::mem::align_of::<u8>() == CLOSED);

/// A hot slot that holds a frame already, or is closed: the frame goes on
/// to the magazines.
#[derive(Debug)]
pub(crate) struct Full;

impl HotSlot {
    #[cfg(feature = "std")]
    pub(crate) fn new(open: bool) -> HotSlot {
        // A dangling `u8` pointer's address is 1, `CLOSED`, with no provenance.
        let closed = NonNull::<u8>::dangling().as_ptr();
        HotSlot(AtomicPtr::new(if open { core::ptr::null_mut() } else { closed }))
    }

    /// Takes the frame the slot holds.
    #[inline(always)]
    pub(crate) fn take(&self) -> Option<NonNull<u8>> {
        let p = self.0.load(Relaxed);
        if p as usize <= CLOSED {
            return None;
        }
        self.0.store(core::ptr::null_mut(), Relaxed);
        // SAFETY: above `CLOSED`, so not null.
        Some(unsafe { NonNull::new_unchecked(p) })
    }

    /// Keeps `frame` if the slot is empty; [`Full`] if it is full or closed.
    #[inline(always)]
    pub(crate) fn put(&self, frame: NonNull<u8>) -> Result<(), Full> {
        if !self.0.load(Relaxed).is_null() {
            return Err(Full);
        }
        self.0.store(frame.as_ptr(), Relaxed);
        Ok(())
    }

    pub(crate) fn holds_frame(&self) -> bool {
        self.0.load(Relaxed) as usize > CLOSED
    }
}

/// A thread's counters and hot slots for one pool: the part of its cache
/// that other threads read.
pub(crate) struct Visible {
    /// Inline (the cache is boxed and never moves) to spare the fast path a
    /// pointer chase.
    pub(crate) counters: Counters,
    /// One hot frame per class, in front of the magazines. Slots past
    /// [`CLASSES`] stay closed, among them those [`Class::HEAP`] and the
    /// other homes outside the classes fall on.
    pub(crate) hot: [HotSlot; HOT_SLOTS],
}

impl Visible {
    #[cfg(feature = "std")]
    /// Fresh counters, and hot slots open if the pool keeps idle frames.
    pub(crate) fn new(open: bool) -> Visible {
        Visible {
            counters: Counters::default(),
            hot: core::array::from_fn(|slot| HotSlot::new(open && slot < CLASSES)),
        }
    }

    /// Frames the hot slots hold.
    pub(crate) fn hot_held(&self) -> u64 {
        self.hot.iter().filter(|h| h.holds_frame()).count() as u64
    }

    /// This thread's counters, as they stand (see [`Counters::snapshot`]).
    pub(crate) fn snapshot(&self) -> Totals {
        self.counters.snapshot(|| self.hot_held())
    }
}
