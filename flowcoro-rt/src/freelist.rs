//! Stacks of free frames, and the two-magazine cache a thread keeps per
//! layout class.
//!
//! A magazine is an array of frame pointers, as in Bonwick's allocator: the
//! cache never reads or writes a free frame's memory. A thread that reuses
//! frames another thread freed therefore does not chase a chain of links
//! through cache lines still held by that thread, one miss after the other:
//! it has every address at hand, and its writes to the frames overlap.
//! Magazines move between a thread and the depot whole, by their container.

use alloc::vec::Vec;
use core::ptr::NonNull;

/// A stack of free frames of one class.
#[derive(Debug, Default)]
pub(crate) struct List {
    frames: Vec<NonNull<u8>>,
}

// SAFETY: a `List` owns the free frames it holds; nobody else holds a pointer
// to them, so handing the list to another thread hands over plain memory.
unsafe impl Send for List {}

impl List {
    pub(crate) const fn new() -> List {
        List { frames: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Room for `n` frames in all, so that pushing that many never allocates.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.frames.reserve_exact(n.saturating_sub(self.frames.len()));
    }

    pub(crate) fn has_room_for(&self, n: usize) -> bool {
        self.frames.capacity() >= n
    }

    /// Adds a free frame.
    ///
    /// # Safety
    /// `frame` must be a free frame that no one else uses, and stays owned by
    /// the list until popped.
    #[inline]
    pub(crate) unsafe fn push(&mut self, frame: NonNull<u8>) {
        self.frames.push(frame);
    }

    /// Takes a free frame.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<NonNull<u8>> {
        self.frames.pop()
    }

    pub(crate) fn take(&mut self) -> List {
        core::mem::take(self)
    }
}

/// A thread's cache for one class: Bonwick's loaded and previous magazines.
///
/// `cur` serves allocations and takes frees; `prev` is empty or full. A thread
/// that alternates allocations and frees around a magazine boundary swaps the
/// two instead of thrashing the depot; only a full magazine goes to the depot
/// and only a full one comes back. `spare` is an empty container for the
/// next spill, so that a spill does not allocate one.
#[derive(Debug)]
pub(crate) struct Magazines {
    cur: List,
    prev: List,
    spare: List,
    cap: usize,
}

impl Magazines {
    #[cfg(feature = "std")]
    pub(crate) const fn new(cap: usize) -> Magazines {
        Magazines { cur: List::new(), prev: List::new(), spare: List::new(), cap }
    }

    /// Frames per magazine.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Frames held by this cache.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn len(&self) -> usize {
        self.cur.len() + self.prev.len()
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<NonNull<u8>> {
        if let Some(f) = self.cur.pop() {
            return Some(f);
        }
        if self.prev.is_empty() {
            return None;
        }
        core::mem::swap(&mut self.cur, &mut self.prev);
        self.cur.pop()
    }

    /// Caches a free frame. Returns a full magazine that no longer fits, for
    /// the depot (then give the cache an empty container with
    /// [`restock`](Magazines::restock)); with a capacity of zero, that is the
    /// frame itself.
    ///
    /// # Safety
    /// As [`List::push`].
    #[inline]
    pub(crate) unsafe fn push(&mut self, frame: NonNull<u8>) -> Option<List> {
        if self.cur.len() < self.cap {
            // Containers keep their room once grown: this allocates only
            // while a new one fills for the first time.
            // SAFETY: forwarded from the caller.
            unsafe { self.cur.push(frame) };
            return None;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.push_full(frame) }
    }

    /// [`push`](Magazines::push) into a full `cur`.
    ///
    /// # Safety
    /// As [`List::push`].
    #[cold]
    unsafe fn push_full(&mut self, frame: NonNull<u8>) -> Option<List> {
        if self.cap == 0 {
            let mut one = List::new();
            // SAFETY: forwarded from the caller.
            unsafe { one.push(frame) };
            return Some(one);
        }
        let mut spill = None;
        if !self.prev.is_empty() {
            spill = Some(self.prev.take());
        }
        // `prev` is empty now: the full `cur` moves there, and a container
        // with room takes its place.
        let empty = if self.prev.has_room_for(self.cap) { &mut self.prev } else { &mut self.spare };
        let empty = empty.take();
        self.prev = core::mem::replace(&mut self.cur, empty);
        self.cur.reserve(self.cap);
        // SAFETY: forwarded from the caller.
        unsafe { self.cur.push(frame) };
        spill
    }

    /// Sets the frames per magazine to `cap`, and returns what the cache
    /// holds beyond two magazines of that size, for the depot. A cache
    /// holds at most `2 × cap` frames after this, as after every push.
    pub(crate) fn set_cap(&mut self, cap: usize) -> Option<List> {
        self.cap = cap;
        let excess = (self.cur.len() + self.prev.len()).checked_sub(2 * cap).filter(|&n| n > 0)?;
        let mut out = List::new();
        out.reserve(excess);
        for frame in core::iter::from_fn(|| self.pop()).take(excess) {
            // SAFETY: a free frame the cache owned, handed to the list.
            unsafe { out.push(frame) };
        }
        Some(out)
    }

    /// Keeps an empty container for the next spill.
    pub(crate) fn restock(&mut self, empty: List) {
        debug_assert!(empty.is_empty());
        if !self.spare.has_room_for(self.cap) {
            self.spare = empty;
        }
    }

    /// Before a refill of an empty cache: an empty container the cache has
    /// no use for (one without room if it keeps it as its spare), for the
    /// depot to keep.
    pub(crate) fn surplus(&mut self) -> List {
        debug_assert!(self.cur.is_empty() && self.prev.is_empty());
        let old = self.cur.take();
        if self.spare.has_room_for(self.cap) {
            old
        } else {
            core::mem::replace(&mut self.spare, old)
        }
    }

    /// Loads a full batch from the depot into an empty cache.
    pub(crate) fn load(&mut self, batch: List) {
        debug_assert!(self.cur.is_empty() && self.prev.is_empty());
        self.cur = batch;
    }

    /// Empties the cache.
    pub(crate) fn drain(&mut self) -> [List; 2] {
        [self.cur.take(), self.prev.take()]
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::alloc::{Layout, alloc, dealloc};

    fn layout() -> Layout {
        Layout::new::<u64>()
    }

    fn frame() -> NonNull<u8> {
        // SAFETY: `u64` has a non-zero size.
        NonNull::new(unsafe { alloc(layout()) }).expect("out of memory")
    }

    fn free(l: List) -> usize {
        let mut l = l;
        let mut n = 0;
        while let Some(f) = l.pop() {
            // SAFETY: every frame came from `frame()` with this layout.
            unsafe { dealloc(f.as_ptr(), layout()) };
            n += 1;
        }
        n
    }

    /// Hands the cache a fresh frame.
    fn push_fresh(m: &mut Magazines) -> Option<List> {
        // SAFETY: a fresh frame, owned by the cache from now on.
        unsafe { m.push(frame()) }
    }

    /// Hands the cache `n` fresh frames that it keeps.
    fn fill(m: &mut Magazines, n: usize) {
        for _ in 0..n {
            assert!(push_fresh(m).is_none(), "no spill");
        }
    }

    /// Frees what the cache holds; returns how many frames.
    fn free_cache(m: &mut Magazines) -> usize {
        m.drain().into_iter().map(free).sum()
    }

    #[test]
    fn list_is_lifo_and_counts() {
        let (a, b) = (frame(), frame());
        let mut l = List::new();
        // SAFETY: fresh frames, owned by the list from now on.
        unsafe {
            l.push(a);
            l.push(b);
        }
        assert_eq!(l.len(), 2);
        assert_eq!(l.pop(), Some(b));
        assert_eq!(l.pop(), Some(a));
        assert_eq!(l.pop(), None);
        // SAFETY: popped, so ours again.
        unsafe {
            dealloc(a.as_ptr(), layout());
            dealloc(b.as_ptr(), layout());
        }
    }

    #[test]
    fn magazines_spill_only_full_magazines() {
        let mut m = Magazines::new(4);
        let mut spilled = Vec::new();
        for _ in 0..12 {
            if let Some(s) = push_fresh(&mut m) {
                spilled.push(s);
                m.restock(List::new());
            }
        }
        // cur and prev hold 4 each (the 9th push moved cur to prev; the 1st
        // magazine went out on that push, since prev was already full).
        assert!(spilled.iter().all(|s| s.len() == 4));
        assert_eq!(spilled.len() * 4 + m.len(), 12);
        assert!(m.len() <= 2 * m.cap());
        let total = spilled.into_iter().map(free).sum::<usize>() + free_cache(&mut m);
        assert_eq!(total, 12);
    }

    #[test]
    fn containers_are_recycled_not_allocated_per_spill() {
        let mut m = Magazines::new(4);
        fill(&mut m, 8);
        // Both full: the next push spills; a restocked container with room
        // serves the spill after it, without growing.
        let mut spare = List::new();
        spare.reserve(4);
        let first = push_fresh(&mut m).expect("spilled");
        m.restock(spare);
        let cur_before = m.cur.frames.as_ptr();
        fill(&mut m, 3);
        assert_eq!(m.cur.frames.as_ptr(), cur_before, "cur never reallocated");
        let second = push_fresh(&mut m).expect("spilled");
        assert_eq!(m.cur.frames.capacity(), 4);
        assert_eq!(free(first) + free(second) + free_cache(&mut m), 13);
    }

    #[test]
    fn magazines_swap_before_running_dry() {
        let mut m = Magazines::new(2);
        fill(&mut m, 4);
        let mut got = Vec::new();
        while let Some(f) = m.pop() {
            got.push(f);
        }
        assert_eq!(got.len(), 4);
        // A batch loads into the empty cache; the container it replaces comes
        // back empty.
        let mut batch = List::new();
        for f in got {
            // SAFETY: popped frames are ours, handed to the batch.
            unsafe { batch.push(f) };
        }
        let surplus = m.surplus();
        assert!(surplus.is_empty() && !surplus.has_room_for(1), "kept as the spare");
        m.load(batch);
        assert!(m.spare.has_room_for(2));
        let mut n = 0;
        while let Some(f) = m.pop() {
            // SAFETY: popped frames are ours.
            unsafe { dealloc(f.as_ptr(), layout()) };
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn zero_capacity_hands_every_frame_back() {
        let mut m = Magazines::new(0);
        let out = push_fresh(&mut m).expect("spilled");
        assert_eq!(out.len(), 1);
        assert_eq!(m.len(), 0);
        assert_eq!(free(out), 1);
    }
}
