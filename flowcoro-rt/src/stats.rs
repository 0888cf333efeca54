//! Pool statistics: per-thread counters that only their thread writes, summed
//! when someone asks.

use crate::decay::TICK;
use crate::sync::{
    AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release, bump, fence, spin_loop,
};

/// The counters one thread keeps for one pool.
///
/// Only the owning thread writes them (a load and a release store, see
/// [`bump`]); `stats()` reads them from any thread. Each block sits on its own
/// cache lines so threads never share one on the fast path.
///
/// A reader must never see a figure above what the owner has done, or the
/// stats of a busy pool would go backwards (or wrap) once the reader's
/// totals are kept as a floor. Two rules give that:
///
/// - each counter only grows, and the reader loads the counters a frame is
///   counted by in the order that makes a half-seen update an under-count
///   (see [`Counters::snapshot`]);
/// - the owner's few updates that change two words at once (the start of a
///   hot-slot lap, a shortened lap, a frame taken out of a hot slot without
///   a reuse) run inside [`Counters::write`], a sequence lock that readers
///   retry around. The fast path never takes it.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct Counters {
    // `allocations` is not stored: it is `reused + fresh + heap_fallbacks`,
    // which saves the fast path a store.
    pub(crate) reused: AtomicU64,
    pub(crate) fresh: AtomicU64,
    pub(crate) heap_fallbacks: AtomicU64,
    pub(crate) frees: AtomicU64,
    /// Frees into the thread's hot slots (rather than its magazines) still
    /// to come in this lap, counted down (see [`Counters::hot_free`]). Every
    /// such free is also a reuse once the slot is emptied by an allocation,
    /// so allocations served from a hot slot are not counted on their own.
    pub(crate) hot_left: AtomicU64,
    /// Frees into hot slots there will have been when `hot_left` reaches
    /// zero: the count is `hot_end - hot_left`.
    pub(crate) hot_end: AtomicU64,
    /// The sequence lock of the two-word updates: odd while one runs.
    pub(crate) seq: AtomicU64,
    pub(crate) heap_frees: AtomicU64,
    /// Pooled frames given back to the allocator.
    pub(crate) released: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Allocations served by a shared size-class pool (the pool's own
    /// classes were all taken); also counted in `reused` or `fresh`.
    pub(crate) overflow: AtomicU64,
    /// Of `overflow`, those the size-class pool served with new memory.
    pub(crate) overflow_fresh: AtomicU64,
    /// Frees of such frames; also counted in `frees`.
    pub(crate) overflow_frees: AtomicU64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            reused: AtomicU64::new(0),
            fresh: AtomicU64::new(0),
            heap_fallbacks: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            hot_left: AtomicU64::new(TICK),
            hot_end: AtomicU64::new(TICK),
            seq: AtomicU64::new(0),
            heap_frees: AtomicU64::new(0),
            released: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            overflow: AtomicU64::new(0),
            overflow_fresh: AtomicU64::new(0),
            overflow_frees: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// Counts a free into a hot slot. Returns `true` when the lap's count
    /// reaches zero: then call [`start_hot_lap`](Counters::start_hot_lap). The branch
    /// reads the flag the decrement sets, and laps grow long on a busy
    /// thread, so it is nearly always predicted: the decay tick costs the
    /// fast path no comparison and no misprediction.
    ///
    /// The store releases the slot write before it (the free's frame in the
    /// slot): a reader that sees this count also sees the slot full, so it
    /// never counts the free as a reuse too early.
    #[inline(always)]
    pub(crate) fn hot_free(&self) -> bool {
        let n = self.hot_left.load(Relaxed).wrapping_sub(1);
        self.hot_left.store(n, Release);
        n == 0
    }

    /// Runs `update` (owning thread only) as one step for readers: a
    /// snapshot taken meanwhile is retried.
    pub(crate) fn write<R>(&self, update: impl FnOnce() -> R) -> R {
        let seq = self.seq.load(Relaxed);
        debug_assert!(seq % 2 == 0, "no write runs inside another");
        self.seq.store(seq.wrapping_add(1), Relaxed);
        fence(Release);
        let out = update();
        self.seq.store(seq.wrapping_add(2), Release);
        out
    }

    /// Starts the next lap of hot-slot frees, `len` long (at least one).
    pub(crate) fn start_hot_lap(&self, len: u64) {
        debug_assert!(len > 0);
        self.write(|| {
            bump(&self.hot_end, len);
            self.hot_left.store(len, Relaxed);
        });
    }

    /// Ends the current lap within `len` more frees, if it would run longer
    /// (owning thread only).
    pub(crate) fn shorten_hot_lap(&self, len: u64) {
        let left = self.hot_left.load(Relaxed);
        if left > len {
            self.write(|| {
                let end = self.hot_end.load(Relaxed);
                self.hot_end.store(end.wrapping_sub(left - len), Relaxed);
                self.hot_left.store(len, Relaxed);
            });
        }
    }

    /// Frees into hot slots so far. A lap that reached zero counts whole
    /// before [`start_hot_lap`](Counters::start_hot_lap) starts the next. Owning thread
    /// only (readers go through [`snapshot`](Counters::snapshot)).
    #[cfg(test)]
    pub(crate) fn hot_frees(&self) -> u64 {
        let end = self.hot_end.load(Relaxed);
        end.wrapping_sub(self.hot_left.load(Relaxed))
    }

    /// Takes back the count of a free into a hot slot (owning thread only,
    /// inside [`write`](Counters::write) with the slot's emptying): the
    /// frame left the slot without being reused. The lap grows by one.
    pub(crate) fn unhot_one(&self) {
        bump(&self.hot_left, 1);
    }

    /// The totals, for a thread whose hot slots `hot_held` counts.
    ///
    /// Read as one step, retried around the owner's two-word updates, and
    /// in an order that makes every figure at most what the owner has done
    /// (so that a figure kept as a floor is never above the truth, and a
    /// pool's live count never above its real one):
    ///
    /// - the hot-slot count first, with acquire: a free fills its slot
    ///   before it counts (and releases), so the slots read after it show at
    ///   least that frame;
    /// - then what allocations are made of, then the slots (a reuse from a
    ///   slot empties it: reading the slots after the other counters never
    ///   counts an allocation they have not), and the frees last.
    pub(crate) fn snapshot(&self, hot_held: impl Fn() -> u64) -> Totals {
        loop {
            let seq = self.seq.load(Acquire);
            if seq % 2 == 1 {
                spin_loop();
                continue;
            }
            let end = self.hot_end.load(Relaxed);
            let left = self.hot_left.load(Acquire);
            let hot_in = end.wrapping_sub(left);
            let reused = self.reused.load(Acquire);
            let fresh = self.fresh.load(Acquire);
            let heap_fallbacks = self.heap_fallbacks.load(Acquire);
            let overflow = self.overflow.load(Acquire);
            let overflow_fresh = self.overflow_fresh.load(Acquire);
            let held = hot_held();
            let frees = self.frees.load(Acquire);
            let heap_frees = self.heap_frees.load(Acquire);
            let overflow_frees = self.overflow_frees.load(Acquire);
            let released = self.released.load(Acquire);
            let bytes_in = self.bytes_in.load(Acquire);
            let bytes_out = self.bytes_out.load(Acquire);
            fence(Acquire);
            if self.seq.load(Relaxed) != seq {
                spin_loop();
                continue;
            }
            let reused = reused.wrapping_add(hot_in.saturating_sub(held));
            return Totals {
                allocations: reused.wrapping_add(fresh).wrapping_add(heap_fallbacks),
                reused,
                fresh,
                heap_fallbacks,
                overflow,
                overflow_fresh,
                frees: frees.wrapping_add(hot_in),
                heap_frees,
                overflow_frees,
                released,
                bytes_in,
                bytes_out,
                ..Totals::default()
            };
        }
    }

    /// Records a pooled frame given back to the allocator.
    pub(crate) fn release(&self, frames: u64, bytes: u64) {
        bump(&self.released, frames);
        bump(&self.bytes_out, bytes);
    }
}

/// Plain sums of [`Counters`]: what exited threads left behind, and what a
/// `stats()` call adds up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) allocations: u64,
    pub(crate) reused: u64,
    pub(crate) fresh: u64,
    pub(crate) heap_fallbacks: u64,
    /// Of `allocations`, served by a size-class pool; of those, with new
    /// memory there.
    pub(crate) overflow: u64,
    pub(crate) overflow_fresh: u64,
    pub(crate) frees: u64,
    pub(crate) heap_frees: u64,
    /// Of `frees`, frames that went back to a size-class pool.
    pub(crate) overflow_frees: u64,
    pub(crate) released: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// Frames reserved by prewarming (idle, never handed out by it).
    pub(crate) prewarmed: u64,
    /// Of `released`, frames given back by decay or the idle budget.
    pub(crate) decayed: u64,
    /// Of `released`, frames given back by `trim`.
    pub(crate) trimmed: u64,
}

impl Totals {
    /// The fields of `self` and `o`, one by one, combined by `f`.
    fn zip(&self, o: &Totals, f: impl Fn(u64, u64) -> u64) -> Totals {
        Totals {
            allocations: f(self.allocations, o.allocations),
            reused: f(self.reused, o.reused),
            fresh: f(self.fresh, o.fresh),
            heap_fallbacks: f(self.heap_fallbacks, o.heap_fallbacks),
            overflow: f(self.overflow, o.overflow),
            overflow_fresh: f(self.overflow_fresh, o.overflow_fresh),
            frees: f(self.frees, o.frees),
            heap_frees: f(self.heap_frees, o.heap_frees),
            overflow_frees: f(self.overflow_frees, o.overflow_frees),
            released: f(self.released, o.released),
            bytes_in: f(self.bytes_in, o.bytes_in),
            bytes_out: f(self.bytes_out, o.bytes_out),
            prewarmed: f(self.prewarmed, o.prewarmed),
            decayed: f(self.decayed, o.decayed),
            trimmed: f(self.trimmed, o.trimmed),
        }
    }

    pub(crate) fn add(&mut self, o: &Totals) {
        *self = self.zip(o, u64::wrapping_add);
    }

    /// Raises each figure to at least `floor`'s: a snapshot of a running
    /// thread, kept from going below what an earlier one showed.
    pub(crate) fn at_least(&self, floor: &Totals) -> Totals {
        self.zip(floor, u64::max)
    }

    /// Frames handed out and not yet back. Exact once the threads are
    /// quiescent; a snapshot of running threads may see a free before the
    /// allocation it matches (another thread's counters, read a moment
    /// apart), so it saturates at zero rather than wrapping.
    pub(crate) fn live(&self) -> u64 {
        self.allocations.saturating_sub(self.frees)
    }

    /// Cached frames: memory the pool holds minus the pooled frames in use.
    /// Frames of size-class pools are theirs, not this pool's.
    pub(crate) fn idle(&self) -> u64 {
        let held = self
            .fresh
            .saturating_sub(self.overflow_fresh)
            .saturating_add(self.prewarmed)
            .saturating_sub(self.released);
        let taken = self.allocations.saturating_sub(self.heap_fallbacks + self.overflow);
        let back = self.frees.saturating_sub(self.heap_frees + self.overflow_frees);
        held.saturating_sub(taken.saturating_sub(back))
    }
}

/// What a pool has done, as plain data. Taken by [`FramePool::stats`] and
/// [`pools`].
///
/// Counters are summed over every thread that used the pool, without stopping
/// them: they are exact once those threads are quiescent or gone, and a
/// snapshot of a busy pool can be a few calls behind.
///
/// [`FramePool::stats`]: crate::FramePool::stats
/// [`pools`]: crate::pools
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The pool's name: by default `module::path::fn`.
    pub name: &'static str,
    /// Bytes of one frame; for a pool that serves several layouts (a generic
    /// fn), the largest. Includes the rounding to the pool's size classes.
    pub frame_size: usize,
    /// Alignment of a frame; for several layouts, the largest.
    pub frame_align: usize,
    /// Frames handed out.
    pub allocations: u64,
    /// Of `allocations`, those served from a cached frame.
    pub reused: u64,
    /// Of `allocations`, those served with new memory for the pool.
    pub fresh: u64,
    /// Of `allocations`, those allocated alone, without a cache: frames over
    /// 1 MiB, and layouts that fit neither this pool's classes nor a
    /// size-class pool.
    pub heap_fallbacks: u64,
    /// Of `allocations`, those served by a shared size-class pool
    /// (`flowcoro::size_class::N`): a generic fn with more layouts than the
    /// pool has classes for. They are counted here as any call is (in
    /// `reused` or `fresh`, `live`, `peak_live`), and in that pool's row
    /// too, which holds their memory: their idle frames and bytes are in its
    /// `idle` and `reserved_bytes`, not in this pool's.
    pub overflow: u64,
    /// Frames in use now.
    pub live: u64,
    /// The highest `live` seen. Exact for a pool used from one thread at a
    /// time (threads that took turns, one exiting before the next started,
    /// count as one); with several threads at once, the highest seen each
    /// time the pool grew (or a stats call ran), a lower bound that misses
    /// only peaks served entirely from frames already cached.
    pub peak_live: u64,
    /// Frames cached for reuse, in every thread's cache and the shared depot.
    pub idle: u64,
    /// Bytes the pool holds from the allocator: live and idle frames, and
    /// live heap fallbacks.
    pub reserved_bytes: u64,
    /// Idle frames given back to the allocator by decay (or to honour the
    /// idle budget), without a call to `trim`.
    pub decayed: u64,
    /// Idle frames given back by [`FramePool::trim`](crate::FramePool::trim)
    /// and [`trim_all`](crate::trim_all).
    pub trimmed: u64,
}

impl PoolStats {
    pub(crate) fn empty(name: &'static str) -> PoolStats {
        PoolStats {
            name,
            frame_size: 0,
            frame_align: 0,
            allocations: 0,
            reused: 0,
            fresh: 0,
            heap_fallbacks: 0,
            overflow: 0,
            live: 0,
            peak_live: 0,
            idle: 0,
            reserved_bytes: 0,
            decayed: 0,
            trimmed: 0,
        }
    }

    /// Share of allocations served from a cached frame, in `0.0..=1.0`
    /// (`0.0` before the first allocation).
    pub fn hit_ratio(&self) -> f64 {
        if self.allocations == 0 { 0.0 } else { self.reused as f64 / self.allocations as f64 }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn idle_and_live_from_totals() {
        // 10 handed out: 6 from cache, 3 with new memory, 1 alone; 7 back,
        // the one allocated alone among them. 4 frames prewarmed, 2 released.
        let t = Totals {
            allocations: 10,
            reused: 6,
            fresh: 3,
            heap_fallbacks: 1,
            frees: 7,
            heap_frees: 1,
            released: 2,
            prewarmed: 4,
            ..Totals::default()
        };
        assert_eq!(t.live(), 3);
        // Memory for 3 + 4 - 2 = 5 pooled frames; 9 - 6 = 3 of them in use.
        assert_eq!(t.idle(), 2);
    }

    #[test]
    fn a_snapshot_ahead_on_frees_saturates_instead_of_wrapping() {
        // Another thread's frees read a moment after this thread's
        // allocations: more frees than allocations, for an instant.
        let t = Totals { allocations: 5, reused: 5, frees: 7, fresh: 2, ..Totals::default() };
        assert_eq!(t.live(), 0);
        assert!(t.idle() <= 2);
    }

    #[test]
    fn frees_into_a_hot_slot_count_as_reuses_once_taken_back() {
        let c = Counters::default();
        bump(&c.fresh, 1); // a frame from new memory, in use
        assert!(!c.hot_free()); // freed into the hot slot
        let t = c.snapshot(|| 1);
        assert_eq!((t.allocations, t.reused, t.frees, t.live(), t.idle()), (1, 0, 1, 0, 1));
        // Taken back out of the slot by an allocation: no counter moves.
        let t = c.snapshot(|| 0);
        assert_eq!((t.allocations, t.reused, t.frees, t.live(), t.idle()), (2, 1, 1, 1, 0));
        // A reader that sees the slot full before the free that filled it
        // counts no negative reuse.
        let t = Counters::default().snapshot(|| 1);
        assert_eq!((t.allocations, t.reused), (0, 0));
    }

    #[test]
    fn hot_frees_keep_their_count_across_laps_of_any_length() {
        let c = Counters::default();
        let mut laps = Vec::new();
        let mut len = TICK;
        for _ in 0..10 * TICK + 3 {
            if c.hot_free() {
                laps.push(len);
                len *= 2;
                c.start_hot_lap(len);
            }
        }
        // Laps of TICK, 2 TICK and 4 TICK ended; 3 TICK + 3 into the next.
        assert_eq!(laps, [TICK, 2 * TICK, 4 * TICK]);
        assert_eq!(c.hot_frees(), 10 * TICK + 3);
        c.unhot_one();
        assert_eq!(c.hot_frees(), 10 * TICK + 2);
        // Shortening keeps the count and ends the lap within `len` frees.
        c.shorten_hot_lap(2);
        assert_eq!(c.hot_frees(), 10 * TICK + 2);
        assert!(!c.hot_free());
        assert!(c.hot_free());
        assert_eq!(c.hot_frees(), 10 * TICK + 4);
        c.start_hot_lap(TICK);
        // A lap already shorter than asked is left alone.
        c.shorten_hot_lap(10 * TICK);
        assert_eq!(c.hot_left.load(Relaxed), TICK);
        // A lap that reached zero counts whole before the next starts.
        let d = Counters::default();
        for _ in 0..TICK - 1 {
            assert!(!d.hot_free());
        }
        assert!(d.hot_free());
        assert_eq!(d.hot_frees(), TICK);
        d.start_hot_lap(1);
        assert_eq!(d.hot_frees(), TICK);
        d.unhot_one();
        assert_eq!(d.hot_frees(), TICK - 1);
    }

    #[test]
    fn counters_are_cache_line_isolated() {
        assert!(core::mem::align_of::<Counters>() >= 128);
    }
}
