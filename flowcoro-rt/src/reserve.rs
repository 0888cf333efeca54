//! Frames in static memory: `N` frames of `B` bytes in a `static` of their
//! own, which a pool serves first (`#[pooled(capacity = N, frame_size =
//! B)]`). A frame is claimed by a flag, not a lock; when all `N` are in use
//! the pool goes on to its ordinary frames, from the heap.

use crate::layout::{CACHE_LINE, ClassKey};
use crate::sync::Ordering::{Acquire, Relaxed, Release};
use crate::sync::{AtomicBool, AtomicUsize};
use core::cell::UnsafeCell;
use core::mem::{MaybeUninit, size_of};
use core::ptr::NonNull;

/// One frame of `B` bytes, aligned (and so sized) to whole cache lines, as
/// every pool frame is.
#[repr(C, align(64))]
struct Slot<const B: usize>(UnsafeCell<[MaybeUninit<u8>; B]>);

const _: () = assert!(core::mem::align_of::<Slot<1>>() == CACHE_LINE);

impl<const B: usize> Slot<B> {
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Slot<B> = Slot(UnsafeCell::new([MaybeUninit::uninit(); B]));
}

/// Bytes per static frame of `B` bytes: `B` rounded up to whole lines.
pub(crate) const fn frame_bytes<const B: usize>() -> usize {
    size_of::<Slot<B>>()
}

/// `N` frames of `B` bytes in static memory, for one pool: what
/// `#[pooled(capacity = N, frame_size = B)]` declares beside the pool.
///
/// The pool serves its calls from these first, with no allocator; when all
/// `N` are in use, from its ordinary frames on the heap, which it counts
/// (`fresh`, `reused`) and bounds as any pool's. A future larger than `B`
/// (its frame rounded up to 64-byte lines, plus a word) is a compile-time
/// error where the attribute checks it, and otherwise takes the heap path.
/// The frames are never freed: `trim` and decay leave them.
pub struct StaticFrames<const N: usize, const B: usize> {
    slots: [Slot<B>; N],
    used: [AtomicBool; N],
    /// Frames in use now, and the most ever: a new high is the pool's peak.
    in_use: AtomicUsize,
    high: AtomicUsize,
}

// SAFETY: a slot's memory is reached only by the holder of its `used` flag,
// claimed by a compare-exchange (acquire) and released by a store (release):
// one holder at a time, which may be on any thread.
unsafe impl<const N: usize, const B: usize> Sync for StaticFrames<N, B> {}

impl<const N: usize, const B: usize> StaticFrames<N, B> {
    #[cfg(not(all(test, loom)))]
    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: AtomicBool = AtomicBool::new(false);

    /// `N` free frames of `B` bytes.
    #[cfg(not(all(test, loom)))]
    pub const fn new() -> Self {
        StaticFrames {
            slots: [Slot::EMPTY; N],
            used: [Self::FREE; N],
            in_use: AtomicUsize::new(0),
            high: AtomicUsize::new(0),
        }
    }

    /// `N` free frames of `B` bytes, with loom's atomics (the models).
    #[cfg(all(test, loom))]
    pub fn new() -> Self {
        StaticFrames {
            slots: [Slot::EMPTY; N],
            used: core::array::from_fn(|_| AtomicBool::new(false)),
            in_use: AtomicUsize::new(0),
            high: AtomicUsize::new(0),
        }
    }

    /// Bytes per frame, as a class key's size counts them.
    const FRAME: usize = frame_bytes::<B>();
}

impl<const N: usize, const B: usize> Default for StaticFrames<N, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const B: usize> core::fmt::Debug for StaticFrames<N, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticFrames")
            .field("capacity", &N)
            .field("frame_size", &Self::FRAME)
            .field("in_use", &self.in_use.load(Relaxed))
            .finish()
    }
}

/// What a pool asks of its static frames, whatever `N` and `B` are.
pub(crate) trait Reserve: Sync {
    /// A free frame for a future of `key`, if one fits and is free, and
    /// whether the frames in use reach a new high with it.
    fn take(&self, key: ClassKey) -> Option<(NonNull<u8>, bool)>;
    /// Takes `ptr` back if it is one of these frames; `false` otherwise.
    fn give(&self, ptr: NonNull<u8>) -> bool;
    /// Bytes per frame.
    fn frame_size(&self) -> usize;
}

impl<const N: usize, const B: usize> Reserve for StaticFrames<N, B> {
    fn take(&self, key: ClassKey) -> Option<(NonNull<u8>, bool)> {
        if key.size() > Self::FRAME || key.align() > CACHE_LINE {
            return None;
        }
        let i = (0..N).find(|&i| {
            !self.used[i].load(Relaxed)
                && self.used[i].compare_exchange(false, true, Acquire, Relaxed).is_ok()
        })?;
        let in_use = self.in_use.fetch_add(1, Relaxed) + 1;
        let high =
            in_use > self.high.load(Relaxed) && self.high.fetch_max(in_use, Relaxed) < in_use;
        Some((NonNull::new(self.slots[i].0.get().cast::<u8>())?, high))
    }

    fn give(&self, ptr: NonNull<u8>) -> bool {
        let base = self.slots.as_ptr() as usize;
        let Some(offset) = (ptr.as_ptr() as usize).checked_sub(base) else {
            return false;
        };
        let i = offset / Self::FRAME;
        if i >= N {
            return false;
        }
        debug_assert_eq!(offset % Self::FRAME, 0, "a static frame's own address");
        debug_assert!(self.used[i].load(Relaxed), "a static frame given back twice");
        self.in_use.fetch_sub(1, Relaxed);
        self.used[i].store(false, Release);
        true
    }

    fn frame_size(&self) -> usize {
        Self::FRAME
    }
}
