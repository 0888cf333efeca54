//! A frame as the pool's code passes it around: its memory and the class
//! that serves it, in one word when it has to be; and the only places frames
//! come from the global allocator and go back to it.
//!
//! Every frame is its own allocation, of its class's layout, so a frame
//! never moves while it is in use (it is pinned where it lives) and an idle
//! frame can be given back alone.

use alloc::alloc::{alloc, dealloc, handle_alloc_error};
use core::ptr::NonNull;

use crate::freelist::List;
use crate::layout::{ClassKey, MIN_ALIGN};

/// Layout classes one pool serves from its own caches. A generic fn gets one
/// class per distinct frame layout; past this many, a layout shares the
/// smallest class that holds it (at most twice its size), or goes to a
/// shared size-class pool.
pub(crate) const CLASSES: usize = 8;
/// Masks a class index into range, which spares the fast path a bounds check.
const CLASS_MASK: usize = CLASSES - 1;
const _: () = assert!(CLASSES.is_power_of_two());

/// Where a frame goes back: one of its pool's layout classes, or one of
/// three homes outside them. Small enough to travel in a frame's low
/// address bits ([`Frame::tagged`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Class(u8);

impl Class {
    /// The class of the pool's first layout, found with no lookup.
    pub(crate) const FIRST: Class = Class(0);
    /// A frame allocated alone, outside the pool's classes.
    pub(crate) const HEAP: Class = Class(TAG as u8);
    /// A frame of a shared size-class pool, taken for a layout this pool
    /// has no class for: it goes back there, and this pool counts the call.
    pub(crate) const OVERFLOW: Class = Class(62);
    /// A frame of the pool's static frames (`reserve.rs`): it goes back
    /// there.
    pub(crate) const STATIC: Class = Class(61);

    /// The pool's class at `index` (below [`CLASSES`]).
    #[inline(always)]
    pub(crate) const fn own(index: usize) -> Class {
        debug_assert!(index < CLASSES);
        Class(index as u8)
    }

    /// The index of one of the pool's classes, masked into range (the three
    /// other homes mask to some class: test for them first).
    #[inline(always)]
    pub(crate) fn index(self) -> usize {
        usize::from(self.0) & CLASS_MASK
    }

    /// The class's number, for a mask of the caller's (the hot slots').
    #[inline(always)]
    pub(crate) const fn bits(self) -> usize {
        self.0 as usize
    }

    /// Whether the frame goes back to a size-class pool or the allocator,
    /// not to this pool's caches.
    #[inline(always)]
    pub(crate) fn is_elsewhere(self) -> bool {
        self == Class::HEAP || self == Class::OVERFLOW
    }
}

/// A frame taken from a pool: its memory and where it goes back.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) ptr: NonNull<u8>,
    pub(crate) class: Class,
}

const TAG: usize = MIN_ALIGN - 1;
const _: () = assert!(CLASSES <= Class::STATIC.0 as usize);
const _: () = assert!(Class::STATIC.0 < Class::OVERFLOW.0 && Class::OVERFLOW.0 < Class::HEAP.0);
const _: () = assert!(Class::HEAP.0 as usize == TAG);

impl Frame {
    /// The frame in one word, so that the out-of-line takes return in a
    /// register: frames are at least [`MIN_ALIGN`]-aligned, which leaves the
    /// class room in the address's low bits.
    #[inline(always)]
    pub(crate) fn tagged(self) -> NonNull<u8> {
        debug_assert!(self.ptr.as_ptr() as usize & TAG == 0);
        let class = self.class.bits();
        // SAFETY: the address is a multiple of `MIN_ALIGN`, above `TAG`, so
        // adding a tag below it gives no null address (the pointer keeps the
        // frame's provenance; it is never read through until untagged).
        unsafe { NonNull::new_unchecked(self.ptr.as_ptr().wrapping_add(class)) }
    }

    /// The frame [`tagged`](Frame::tagged) made.
    ///
    /// # Safety
    /// `tagged` came from [`Frame::tagged`].
    #[inline(always)]
    pub(crate) unsafe fn from_tagged(tagged: NonNull<u8>) -> Frame {
        let tag = tagged.as_ptr() as usize & TAG;
        let class = Class(tag as u8);
        // SAFETY: `tagged` is a non-null frame address, a multiple of
        // `MIN_ALIGN`, plus a tag below it: clearing the tag leaves the
        // frame's address, which is not null.
        let ptr = unsafe { NonNull::new_unchecked(tagged.as_ptr().wrapping_sub(tag)) };
        Frame { ptr, class }
    }
}

/// New memory for a frame of class `key`.
pub(crate) fn fresh_alloc(key: ClassKey) -> NonNull<u8> {
    let layout = key.layout();
    // SAFETY: invariant 1: class layouts are never zero-sized (at least a cache line).
    let p = unsafe { alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
}

/// A frame allocated alone, for a layout no class serves.
pub(crate) fn heap_alloc(key: ClassKey) -> Frame {
    Frame { ptr: fresh_alloc(key), class: Class::HEAP }
}

/// Frees a frame [`heap_alloc`] made for `key`.
///
/// # Safety
/// `ptr` came from `heap_alloc(key)` and holds no value.
pub(crate) unsafe fn heap_free(ptr: NonNull<u8>, key: ClassKey) {
    // SAFETY: the caller's: allocated alone with `key`'s layout.
    unsafe { dealloc(ptr.as_ptr(), key.layout()) };
}

/// Frees every frame of `list` (of class `key`); returns frames and bytes.
pub(crate) fn free_list(list: &mut List, key: ClassKey) -> (u64, u64) {
    let mut frames = 0;
    while let Some(p) = list.pop() {
        // SAFETY: frames in a list of class `key` were allocated by
        // `fresh_alloc(key)` and are free.
        unsafe { dealloc(p.as_ptr(), key.layout()) };
        frames += 1;
    }
    (frames, frames * key.size() as u64)
}
