//! Intrusive lists of free frames, and the two-magazine cache a thread keeps
//! per layout class.
//!
//! A free frame stores the links itself, so moving frames between a thread's
//! cache and the depot never allocates: a whole batch moves by its head.
// Items are `pub` so the loom models can reach them through `__loom`;
// outside loom builds the module is private and they stay crate-internal.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use core::ptr::{self, NonNull};

/// What a free frame holds. `next` links the frames of one batch;
/// `batch_next` and `batch_len` are only meaningful in the head of a batch
/// that sits in a depot.
#[repr(C)]
pub struct FreeNode {
    pub next: *mut FreeNode,
    pub batch_next: *mut FreeNode,
    pub batch_len: usize,
}

/// A singly linked list of free frames of one class.
#[derive(Debug)]
pub struct List {
    head: *mut FreeNode,
    len: usize,
}

// SAFETY: a `List` owns the free frames it links; nobody else holds a pointer
// to them, so handing the list to another thread hands over plain memory.
unsafe impl Send for List {}

impl List {
    pub const fn new() -> List {
        List { head: ptr::null_mut(), len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a free frame.
    ///
    /// # Safety
    /// `frame` must point to memory of at least [`FreeNode`]'s size and
    /// alignment that no one else uses, and stays owned by the list until
    /// popped.
    #[inline]
    pub unsafe fn push(&mut self, frame: NonNull<u8>) {
        let node = frame.cast::<FreeNode>().as_ptr();
        // SAFETY: the caller hands us exclusive use of `frame`, which is large
        // and aligned enough for a `FreeNode`.
        unsafe { ptr::addr_of_mut!((*node).next).write(self.head) };
        self.head = node;
        self.len += 1;
    }

    /// Takes a free frame.
    #[inline]
    pub fn pop(&mut self) -> Option<NonNull<u8>> {
        let node = NonNull::new(self.head)?;
        debug_assert!(self.len > 0);
        // SAFETY: every node in the list was pushed by `push`, whose contract
        // makes it a valid, exclusively owned `FreeNode`.
        self.head = unsafe { ptr::addr_of!((*node.as_ptr()).next).read() };
        self.len -= 1;
        Some(node.cast())
    }

    pub fn take(&mut self) -> List {
        core::mem::replace(self, List::new())
    }

    /// The list's head and length, for the depot to chain it as a batch.
    pub fn into_raw(self) -> (*mut FreeNode, usize) {
        (self.head, self.len)
    }

    /// Rebuilds a list from [`List::into_raw`].
    ///
    /// # Safety
    /// `head` and `len` must come from `into_raw` of one list, whose frames
    /// have not been touched since.
    pub unsafe fn from_raw(head: *mut FreeNode, len: usize) -> List {
        List { head, len }
    }
}

/// A thread's cache for one class: Bonwick's loaded and previous magazines.
///
/// `cur` serves allocations and takes frees; `prev` is empty or full. A thread
/// that alternates allocations and frees around a magazine boundary swaps the
/// two instead of thrashing the depot; only a full magazine goes to the depot
/// and only a full one comes back.
#[derive(Debug)]
pub struct Magazines {
    cur: List,
    prev: List,
    cap: usize,
}

impl Magazines {
    pub const fn new(cap: usize) -> Magazines {
        Magazines { cur: List::new(), prev: List::new(), cap }
    }

    #[cfg(any(test, loom))]
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Frames held by this cache.
    #[cfg(any(test, loom))]
    pub fn len(&self) -> usize {
        self.cur.len() + self.prev.len()
    }

    #[inline]
    pub fn pop(&mut self) -> Option<NonNull<u8>> {
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
    /// the depot; with a capacity of zero, that is the frame itself.
    ///
    /// # Safety
    /// As [`List::push`].
    #[inline]
    pub unsafe fn push(&mut self, frame: NonNull<u8>) -> Option<List> {
        if self.cur.len() < self.cap {
            // SAFETY: forwarded from the caller.
            unsafe { self.cur.push(frame) };
            return None;
        }
        let mut spill = None;
        if self.cap == 0 {
            let mut one = List::new();
            // SAFETY: forwarded from the caller.
            unsafe { one.push(frame) };
            return Some(one);
        }
        if !self.prev.is_empty() {
            spill = Some(self.prev.take());
        }
        self.prev = self.cur.take();
        // SAFETY: forwarded from the caller.
        unsafe { self.cur.push(frame) };
        spill
    }

    /// Loads a batch from the depot into an empty cache.
    pub fn load(&mut self, batch: List) {
        debug_assert!(self.cur.is_empty());
        self.cur = batch;
    }

    /// Empties the cache.
    pub fn drain(&mut self) -> [List; 2] {
        [self.cur.take(), self.prev.take()]
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::alloc::{Layout, alloc, dealloc};

    fn layout() -> Layout {
        Layout::new::<FreeNode>()
    }

    fn frame() -> NonNull<u8> {
        // SAFETY: `FreeNode` has a non-zero size.
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
            // SAFETY: fresh frame handed to the cache.
            if let Some(s) = unsafe { m.push(frame()) } {
                spilled.push(s);
            }
        }
        // cur and prev hold 4 each (the 9th push moved cur to prev; the 1st
        // magazine went out on that push, since prev was already full).
        assert!(spilled.iter().all(|s| s.len() == 4));
        assert_eq!(spilled.len() * 4 + m.len(), 12);
        assert!(m.len() <= 2 * m.cap());
        let mut total = 0;
        for s in spilled {
            total += free(s);
        }
        for l in m.drain() {
            total += free(l);
        }
        assert_eq!(total, 12);
    }

    #[test]
    fn magazines_swap_before_running_dry() {
        let mut m = Magazines::new(2);
        for _ in 0..4 {
            // SAFETY: fresh frame handed to the cache.
            assert!(unsafe { m.push(frame()) }.is_none());
        }
        let mut got = Vec::new();
        while let Some(f) = m.pop() {
            got.push(f);
        }
        assert_eq!(got.len(), 4);
        for f in got {
            // SAFETY: popped frames are ours.
            unsafe { dealloc(f.as_ptr(), layout()) };
        }
    }

    #[test]
    fn zero_capacity_hands_every_frame_back() {
        let mut m = Magazines::new(0);
        // SAFETY: fresh frame handed to the cache.
        let out = unsafe { m.push(frame()) }.expect("spilled");
        assert_eq!(out.len(), 1);
        assert_eq!(m.len(), 0);
        assert_eq!(free(out), 1);
    }
}
