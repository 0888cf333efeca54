//! The shared depot behind the per-thread caches: full magazines of free
//! frames of one class, exchanged whole under a lock that a thread takes
//! once per magazine, never per call, and the empty containers they travel
//! in.

use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::freelist::List;
use crate::sync::{Mutex, lock};

/// Empty containers a depot keeps for threads that spill; more are freed.
const SPARE_CONTAINERS: usize = 16;

/// Room in a container that frames given back one by one fill.
const ONE_BY_ONE: usize = 32;

#[derive(Debug)]
struct Stacks {
    full: Vec<List>,
    empty: Vec<List>,
    frames: usize,
}

/// The rest of a batch [`Depot::shrink`] took, put back when it is done
/// with it, or when something unwinds meanwhile.
struct PutBack<'a> {
    depot: &'a Depot,
    batch: List,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        self.depot.put_back(self.batch.take());
    }
}

/// Free frames of one class, shared by every thread of a pool.
#[derive(Debug)]
pub(crate) struct Depot {
    stacks: Mutex<Stacks>,
}

impl Depot {
    #[cfg(not(all(test, loom)))]
    pub(crate) const fn new() -> Depot {
        Depot { stacks: Mutex::new(Stacks { full: Vec::new(), empty: Vec::new(), frames: 0 }) }
    }

    #[cfg(all(test, loom))]
    pub(crate) fn new() -> Depot {
        Depot { stacks: Mutex::new(Stacks { full: Vec::new(), empty: Vec::new(), frames: 0 }) }
    }

    /// Frames held.
    pub(crate) fn frames(&self) -> usize {
        lock(&self.stacks).frames
    }

    /// Keeps `batch` if the depot stays within `limit` frames, and returns an
    /// empty container in exchange (one without room if the depot has none);
    /// otherwise gives the batch back for the caller to free.
    pub(crate) fn push(&self, batch: List, limit: usize) -> Result<List, List> {
        if batch.is_empty() {
            return Ok(batch);
        }
        let mut s = lock(&self.stacks);
        if s.frames + batch.len() > limit {
            return Err(batch);
        }
        s.frames += batch.len();
        s.full.push(batch);
        Ok(s.empty.pop().unwrap_or_default())
    }

    /// Takes one full batch, and keeps `empty` for a later spill: a refill
    /// in one lock.
    pub(crate) fn exchange(&self, empty: List) -> Option<List> {
        debug_assert!(empty.is_empty());
        let mut s = lock(&self.stacks);
        if empty.has_room_for(1) && s.empty.len() < SPARE_CONTAINERS {
            s.empty.push(empty);
        }
        let batch = s.full.pop()?;
        s.frames -= batch.len();
        Some(batch)
    }

    /// Keeps one free frame if the depot stays within `limit` frames;
    /// otherwise hands it back for the caller to free. The frame joins the
    /// top batch while it has room, or a container the depot kept: this
    /// allocates only while the depot grows past what it ever held. The way
    /// a frame comes back without a thread cache (every frame, without
    /// std).
    pub(crate) fn push_one(&self, frame: NonNull<u8>, limit: usize) -> Result<(), NonNull<u8>> {
        let mut s = lock(&self.stacks);
        if s.frames >= limit {
            return Err(frame);
        }
        let s = &mut *s;
        let top = match s.full.last_mut() {
            Some(top) if top.has_room_for(top.len() + 1) => top,
            _ => {
                let mut container = s.empty.pop().unwrap_or_default();
                container.reserve(ONE_BY_ONE);
                // Room for the containers `pop_one` empties, now: a depot
                // that has grown never allocates to shrink.
                s.empty.reserve_exact(SPARE_CONTAINERS.saturating_sub(s.empty.len()));
                s.full.push(container);
                s.full.last_mut().unwrap_or_else(|| unreachable!("a batch was just pushed"))
            }
        };
        // SAFETY: invariant 1: the caller's free frame of this depot's
        // class, now the depot's.
        unsafe { top.push(frame) };
        s.frames += 1;
        Ok(())
    }

    /// Takes one free frame: the way a frame is taken without a thread
    /// cache.
    pub(crate) fn pop_one(&self) -> Option<NonNull<u8>> {
        let mut s = lock(&self.stacks);
        let s = &mut *s;
        let top = s.full.last_mut()?;
        let frame = top.pop();
        if top.is_empty() {
            let empty = s.full.pop().unwrap_or_default();
            if s.empty.len() < SPARE_CONTAINERS {
                s.empty.push(empty);
            }
        }
        s.frames -= usize::from(frame.is_some());
        frame
    }

    /// Takes one full batch.
    pub(crate) fn pop(&self) -> Option<List> {
        let mut s = lock(&self.stacks);
        let batch = s.full.pop()?;
        s.frames -= batch.len();
        Some(batch)
    }

    /// Hands the frames beyond `limit` to `free`, a batch at a time, until
    /// the depot holds at most `limit` (a decay step, the idle budget).
    ///
    /// How many frames of a batch go is decided with the batch taken, under
    /// one lock: other threads taking batches meanwhile (a refill, `trim`)
    /// only leave less to free, never make the excess count frames the
    /// batch does not have. The rest of the batch goes back, also if `free`
    /// unwinds.
    pub(crate) fn shrink(&self, limit: usize, mut free: impl FnMut(List)) {
        while let Some((batch, excess)) = self.take_excess(limit) {
            let mut taken = PutBack { depot: self, batch };
            #[cfg(all(test, not(loom)))]
            tests::AFTER_TAKE.with(|hook| hook.get().map(|f| f(self)));
            let mut doomed = List::new();
            doomed.reserve(excess);
            for p in core::iter::from_fn(|| taken.batch.pop()).take(excess) {
                // SAFETY: a free frame of the depot's class, taken from it.
                unsafe { doomed.push(p) };
            }
            free(doomed);
        }
    }

    /// Takes one full batch while the depot holds more than `limit` frames,
    /// with how many of its frames are beyond `limit`.
    fn take_excess(&self, limit: usize) -> Option<(List, usize)> {
        let mut s = lock(&self.stacks);
        let excess = s.frames.checked_sub(limit).filter(|&n| n > 0)?;
        let batch = s.full.pop()?;
        s.frames -= batch.len();
        let excess = excess.min(batch.len());
        Some((batch, excess))
    }

    /// Puts back frames taken a moment ago, whatever the limit.
    fn put_back(&self, batch: List) {
        let mut s = lock(&self.stacks);
        if batch.is_empty() {
            if batch.has_room_for(1) && s.empty.len() < SPARE_CONTAINERS {
                s.empty.push(batch);
            }
            return;
        }
        s.frames += batch.len();
        s.full.push(batch);
    }

    /// Keeps an empty container for a later spill, if there is room for it.
    pub(crate) fn put_empty(&self, empty: List) {
        debug_assert!(empty.is_empty());
        if !empty.has_room_for(1) {
            return;
        }
        let mut s = lock(&self.stacks);
        if s.empty.len() < SPARE_CONTAINERS {
            s.empty.push(empty);
        }
    }

    /// Takes every batch.
    #[cfg(all(test, loom))]
    pub(crate) fn take_all(&self) -> Vec<List> {
        let mut out = Vec::new();
        while let Some(l) = self.pop() {
            out.push(l);
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::cell::Cell;
    use core::ptr::NonNull;
    use std::alloc::{Layout, alloc, dealloc};

    use super::*;

    thread_local! {
        /// Runs right after a shrink takes a batch: a test's stand-in for
        /// another thread taking one in that window.
        pub(super) static AFTER_TAKE: Cell<Option<fn(&Depot)>> = const { Cell::new(None) };
    }

    fn layout() -> Layout {
        Layout::new::<u64>()
    }

    fn batch(n: usize) -> List {
        let mut l = List::new();
        for _ in 0..n {
            // SAFETY: `u64` has a non-zero size; the frame is the list's.
            unsafe { l.push(NonNull::new(alloc(layout())).expect("out of memory")) };
        }
        l
    }

    fn free(mut l: List) -> usize {
        let mut n = 0;
        while let Some(p) = l.pop() {
            // SAFETY: every frame came from `batch` with this layout.
            unsafe { dealloc(p.as_ptr(), layout()) };
            n += 1;
        }
        n
    }

    fn free_all(d: &Depot) -> usize {
        core::iter::from_fn(|| d.pop()).map(free).sum()
    }

    #[test]
    fn a_pop_during_a_shrink_leaves_it_less_to_free_not_an_underflow() {
        let d = Depot::new();
        for _ in 0..2 {
            d.push(batch(4), usize::MAX).expect("no limit");
        }
        // Between the shrink's take and the rest of its work another thread
        // (here: the hook) takes the other batch. Of the 8 frames, 2 are
        // beyond the limit of 6: they are in the batch the shrink took.
        AFTER_TAKE.with(|h| {
            h.set(Some(|d: &Depot| {
                assert_eq!(free(d.pop().expect("the other batch")), 4);
            }));
        });
        let mut freed = 0;
        d.shrink(6, |doomed| freed += free(doomed));
        AFTER_TAKE.with(|h| h.set(None));
        assert_eq!(freed, 2);
        assert_eq!(d.frames(), 2, "the rest of the taken batch came back");
        assert_eq!(free_all(&d), 2);
    }

    #[test]
    fn a_panic_while_freeing_puts_the_rest_back() {
        let d = Depot::new();
        d.push(batch(4), usize::MAX).expect("no limit");
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            d.shrink(1, |doomed| {
                assert_eq!(free(doomed), 3);
                panic!("injected while freeing");
            });
        }));
        assert!(out.is_err());
        assert_eq!(d.frames(), 1, "the frame kept under the limit is back");
        assert_eq!(free_all(&d), 1);
    }

    #[test]
    fn a_shrink_frees_down_to_the_limit_across_batches() {
        let d = Depot::new();
        for n in [3, 5, 2] {
            d.push(batch(n), usize::MAX).expect("no limit");
        }
        let mut freed = 0;
        d.shrink(4, |doomed| freed += free(doomed));
        assert_eq!((freed, d.frames()), (6, 4));
        d.shrink(4, |_| unreachable!("nothing beyond the limit"));
        assert_eq!(free_all(&d), 4);
    }
}
