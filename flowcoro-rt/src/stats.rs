//! Pool statistics: per-thread counters that only their thread writes, summed
//! when someone asks.
// Items are `pub` so the loom models can reach them through `__loom`;
// outside loom builds the module is private and they stay crate-internal.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use core::fmt;

use crate::decay::TICK;
use crate::sync::{AtomicU64, Ordering::Relaxed, bump};

/// The counters one thread keeps for one pool.
///
/// Only the owning thread writes them (a relaxed load and store, see
/// [`bump`]); `stats()` reads them from any thread. Each block sits on its own
/// cache lines so threads never share one on the fast path.
#[repr(align(128))]
#[derive(Debug)]
pub struct Counters {
    // `allocations` is not stored: it is `reused + fresh + heap_fallbacks`,
    // which saves the fast path a store.
    pub reused: AtomicU64,
    pub fresh: AtomicU64,
    pub heap_fallbacks: AtomicU64,
    pub frees: AtomicU64,
    /// Frees into the thread's hot slots (rather than its magazines) still
    /// to come in this lap, counted down (see [`Counters::hot_free`]). Every
    /// such free is also a reuse once the slot is emptied by an allocation,
    /// so allocations served from a hot slot are not counted on their own.
    pub hot_left: AtomicU64,
    /// Frees into hot slots there will have been when `hot_left` reaches
    /// zero: the count is `hot_end - hot_left`.
    pub hot_end: AtomicU64,
    pub heap_frees: AtomicU64,
    /// Pooled frames given back to the allocator.
    pub released: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
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
            heap_frees: AtomicU64::new(0),
            released: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// Counts a free into a hot slot. Returns `true` when the lap's count
    /// reaches zero: then call [`hot_lap`](Counters::hot_lap). The branch
    /// reads the flag the decrement sets, and laps grow long on a busy
    /// thread, so it is nearly always predicted: the decay tick costs the
    /// fast path no comparison and no misprediction.
    #[inline(always)]
    pub fn hot_free(&self) -> bool {
        let n = self.hot_left.load(Relaxed).wrapping_sub(1);
        self.hot_left.store(n, Relaxed);
        n == 0
    }

    /// Starts the next lap of hot-slot frees, `len` long (at least one).
    pub fn hot_lap(&self, len: u64) {
        debug_assert!(len > 0);
        bump(&self.hot_end, len);
        self.hot_left.store(len, Relaxed);
    }

    /// Ends the current lap within `len` more frees, if it would run longer
    /// (owning thread only).
    pub fn shorten_hot_lap(&self, len: u64) {
        let left = self.hot_left.load(Relaxed);
        if left > len {
            let end = self.hot_end.load(Relaxed);
            self.hot_end.store(end.wrapping_sub(left - len), Relaxed);
            self.hot_left.store(len, Relaxed);
        }
    }

    /// Frees into hot slots so far. A lap that reached zero counts whole
    /// before [`hot_lap`](Counters::hot_lap) starts the next.
    pub fn hot_frees(&self) -> u64 {
        let end = self.hot_end.load(Relaxed);
        end.wrapping_sub(self.hot_left.load(Relaxed))
    }

    /// Takes back the count of a free into a hot slot (owning thread only):
    /// the frame left the slot without being reused. The lap grows by one.
    pub fn unhot_one(&self) {
        bump(&self.hot_left, 1);
    }

    /// The totals, for a thread whose hot slots hold `hot_held` frames.
    pub fn snapshot(&self, hot_held: u64) -> Totals {
        let hot_in = self.hot_frees();
        let reused = self.reused.load(Relaxed).wrapping_add(hot_in.saturating_sub(hot_held));
        let fresh = self.fresh.load(Relaxed);
        let heap_fallbacks = self.heap_fallbacks.load(Relaxed);
        Totals {
            allocations: reused.wrapping_add(fresh).wrapping_add(heap_fallbacks),
            reused,
            fresh,
            heap_fallbacks,
            frees: self.frees.load(Relaxed).wrapping_add(hot_in),
            heap_frees: self.heap_frees.load(Relaxed),
            released: self.released.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            ..Totals::default()
        }
    }

    /// Records a pooled frame given back to the allocator.
    pub fn release(&self, frames: u64, bytes: u64) {
        bump(&self.released, frames);
        bump(&self.bytes_out, bytes);
    }
}

/// Plain sums of [`Counters`]: what exited threads left behind, and what a
/// `stats()` call adds up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub allocations: u64,
    pub reused: u64,
    pub fresh: u64,
    pub heap_fallbacks: u64,
    pub frees: u64,
    pub heap_frees: u64,
    pub released: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Frames reserved by prewarming (idle, never handed out by it).
    pub prewarmed: u64,
    /// Of `released`, frames given back by decay or the idle budget.
    pub decayed: u64,
    /// Of `released`, frames given back by `trim`.
    pub trimmed: u64,
}

impl Totals {
    pub fn add(&mut self, o: &Totals) {
        self.allocations = self.allocations.wrapping_add(o.allocations);
        self.reused = self.reused.wrapping_add(o.reused);
        self.fresh = self.fresh.wrapping_add(o.fresh);
        self.heap_fallbacks = self.heap_fallbacks.wrapping_add(o.heap_fallbacks);
        self.frees = self.frees.wrapping_add(o.frees);
        self.heap_frees = self.heap_frees.wrapping_add(o.heap_frees);
        self.released = self.released.wrapping_add(o.released);
        self.bytes_in = self.bytes_in.wrapping_add(o.bytes_in);
        self.bytes_out = self.bytes_out.wrapping_add(o.bytes_out);
        self.prewarmed = self.prewarmed.wrapping_add(o.prewarmed);
        self.decayed = self.decayed.wrapping_add(o.decayed);
        self.trimmed = self.trimmed.wrapping_add(o.trimmed);
    }

    /// Frames handed out and not yet back. Exact once the threads are
    /// quiescent; a snapshot of running threads may see a free before the
    /// allocation it matches (another thread's counters, read a moment
    /// apart), so it saturates at zero rather than wrapping.
    pub fn live(&self) -> u64 {
        self.allocations.saturating_sub(self.frees)
    }

    /// Cached frames: memory the pool holds minus the pooled frames in use.
    pub fn idle(&self) -> u64 {
        let held = (self.fresh + self.prewarmed).saturating_sub(self.released);
        let pooled_live = self
            .allocations
            .saturating_sub(self.heap_fallbacks)
            .saturating_sub(self.frees.saturating_sub(self.heap_frees));
        held.saturating_sub(pooled_live)
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
    /// Of `allocations`, those that did not fit the pool and were allocated
    /// alone (too large, or more layouts than the pool has classes for).
    pub heap_fallbacks: u64,
    /// Frames in use now.
    pub live: u64,
    /// The highest `live` seen. Exact for a pool used from one thread; with
    /// several threads, the highest seen each time the pool grew (or a stats
    /// call ran), a lower bound that misses only peaks served entirely from
    /// frames already cached.
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

/// Every pool's stats as a table, from [`report`](crate::report).
///
/// `Display` prints one row per pool; the rows are also there as data.
#[derive(Clone, Debug)]
pub struct Report {
    /// The pools, sorted by name.
    pub pools: Vec<PoolStats>,
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_w = self.pools.iter().map(|p| p.name.len()).max().unwrap_or(0).max(4);
        writeln!(
            f,
            "{:<name_w$}  {:>8}  {:>12}  {:>7}  {:>8}  {:>8}  {:>8}  {:>10}",
            "pool", "frame", "allocations", "hit", "live", "peak", "idle", "reserved"
        )?;
        for p in &self.pools {
            writeln!(
                f,
                "{:<name_w$}  {:>8}  {:>12}  {:>6.2}%  {:>8}  {:>8}  {:>8}  {:>10}",
                p.name,
                human_bytes(p.frame_size as u64),
                p.allocations,
                p.hit_ratio() * 100.0,
                p.live,
                p.peak_live,
                p.idle,
                human_bytes(p.reserved_bytes),
            )?;
        }
        if self.pools.is_empty() {
            writeln!(f, "(no pool used yet)")?;
        }
        Ok(())
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
        let t = c.snapshot(1);
        assert_eq!((t.allocations, t.reused, t.frees, t.live(), t.idle()), (1, 0, 1, 0, 1));
        // Taken back out of the slot by an allocation: no counter moves.
        let t = c.snapshot(0);
        assert_eq!((t.allocations, t.reused, t.frees, t.live(), t.idle()), (2, 1, 1, 1, 0));
        // A reader that sees the slot full before the free that filled it
        // counts no negative reuse.
        let t = Counters::default().snapshot(1);
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
                c.hot_lap(len);
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
        c.hot_lap(TICK);
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
        d.hot_lap(1);
        assert_eq!(d.hot_frees(), TICK);
        d.unhot_one();
        assert_eq!(d.hot_frees(), TICK - 1);
    }

    #[test]
    fn counters_are_cache_line_isolated() {
        assert!(align_of::<Counters>() >= 128);
    }

    #[test]
    fn report_renders_each_pool() {
        let mut a = PoolStats::empty("app::fetch");
        a.allocations = 100;
        a.reused = 99;
        a.frame_size = 2048;
        let r = Report { pools: vec![a, PoolStats::empty("app::parse")] };
        let s = r.to_string();
        assert!(s.starts_with("pool"));
        assert!(s.contains("app::fetch"));
        assert!(s.contains("99.00%"));
        assert!(s.contains("2.0 KiB"));
        assert!(s.contains("app::parse"));
        assert_eq!(s.lines().count(), 3);
    }
}
