//! Frames that stream from one thread to another: how a thread sees it, and
//! the larger magazines it asks for (Bonwick's adaptive magazine size).
//!
//! A work-stealing executor frees most frames on another thread than the
//! one that took them. The freeing thread's magazines then fill and go to
//! the depot one after the other, and the taking thread's run dry and come
//! back full from it: each thread visits the depot every magazine, always
//! the same way, and both write the depot's lock word. A thread that sees
//! [`STREAM`] such visits in a row asks the pool to double its magazine
//! size, up to [`MAGAZINE_MAX`]: the depot is then
//! visited once every 256 frames instead of every 32. The recent peak still
//! sizes each thread's magazines below that bound, so idle memory stays
//! what the peak justifies; a thread alone on its pool never asks (its
//! depot lock is never contended).

use crate::local::{LocalPool, LocalState, Visit};
use crate::shared::MAGAZINE_MAX;
use crate::sync::Ordering::Relaxed;

/// Depot visits in a row, each a magazine after the last and the same way,
/// that make a thread ask for larger magazines.
pub(crate) const STREAM: u32 = 8;

/// Notes a depot visit of this thread (owning thread only): a spill of
/// a full magazine, or a refill of an empty cache. After
/// [`STREAM`] visits the same way, each at most two magazines' worth of
/// this thread's calls after the last, with its magazines as large as
/// the pool allows for now, asks the pool for larger ones; the next
/// [`sync_cap`](LocalPool::sync_cap) takes them up.
pub(crate) fn visit_depot(lp: &LocalPool, st: &mut LocalState, visit: Visit) {
    let c = lp.counters();
    let calls = c
        .reused
        .load(Relaxed)
        .wrapping_add(c.fresh.load(Relaxed))
        .wrapping_add(c.frees.load(Relaxed));
    let since = calls.wrapping_sub(core::mem::replace(&mut st.depot_at, calls));
    let cap = st.mags[0].cap();
    let streaming = st.depot_last == visit && since <= 2 * cap as u64;
    st.depot_last = visit;
    st.depot_run = if streaming { st.depot_run + 1 } else { 0 };
    if st.depot_run < STREAM {
        return;
    }
    st.depot_run = 0;
    let shared = lp.shared;
    if cap < MAGAZINE_MAX && cap >= shared.grown.load(Relaxed) && shared.threads.load(Relaxed) > 1 {
        shared.grow_magazines(cap);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::Ordering as StdOrdering;
    use std::sync::mpsc;
    use std::thread;

    use crate::local::local_pool;
    use crate::pool::FramePool;
    use crate::shared::{MAGAZINE, MAGAZINE_MAX};
    use crate::sync::Ordering::Relaxed;

    /// This thread's magazine size for `pool`.
    fn cap_here(pool: &'static FramePool) -> usize {
        let lp = local_pool(pool.index.load(StdOrdering::Acquire)).expect("this thread's cache");
        // SAFETY: invariant 6: this thread's live cache (`local_pool`).
        unsafe { lp.as_ref() }.with_state(|st| st.mags[0].cap())
    }

    /// Takes `rounds` batches of `batch` frames here and drops each on
    /// another thread, two batches in flight; returns the other thread's
    /// magazine size at the end.
    fn stream(pool: &'static FramePool, rounds: usize, batch: usize) -> usize {
        let (to_b, from_a) = mpsc::sync_channel::<Vec<_>>(1);
        let b = thread::spawn(move || {
            for frames in from_a {
                drop(frames);
            }
            cap_here(pool)
        });
        for round in 0..rounds {
            to_b.send((0..batch).map(|i| pool.alloc(async move { round + i })).collect()).unwrap();
        }
        drop(to_b);
        b.join().unwrap()
    }

    #[test]
    fn frames_streaming_between_two_threads_grow_both_magazines() {
        static POOL: FramePool =
            FramePool::new("adaptive::tests::grow").with_prewarm(2 * MAGAZINE_MAX);
        let rounds = if cfg!(miri) { 12 } else { 200 };
        let theirs = stream(&POOL, rounds, 2 * MAGAZINE_MAX);
        let shared = POOL.shared();
        assert_eq!(shared.grown.load(Relaxed), MAGAZINE_MAX, "grown to the most");
        // The prewarmed frames count as a peak that never decays (however
        // slowly the test runs), and it allows the largest.
        assert_eq!(cap_here(&POOL), MAGAZINE_MAX, "the taking thread's magazines");
        assert_eq!(theirs, MAGAZINE_MAX, "the freeing thread's magazines");
        let s = POOL.stats();
        assert_eq!(s.live, 0, "{s:?}");
        assert_eq!(s.allocations, (rounds * 2 * MAGAZINE_MAX) as u64);
        assert!(s.hit_ratio() > 0.5, "{s:?}");
        // Idle stays what the peak justifies: the depot's bound (the peak
        // and a magazine in transit) and two magazines and a hot frame per
        // thread, the exited thread's handed to the depot.
        let bound = s.peak_live + 3 * MAGAZINE_MAX as u64 + 2 * (2 * MAGAZINE_MAX as u64 + 1);
        assert!(s.idle <= bound, "idle {} above {bound}: {s:?}", s.idle);
        POOL.trim();
    }

    #[test]
    fn bursts_on_one_thread_keep_the_first_magazine_size() {
        static POOL: FramePool = FramePool::new("adaptive::tests::burst");
        // Every burst spills magazine after magazine to the depot, and takes
        // them back: the same rhythm, but no other thread to contend with.
        for _ in 0..if cfg!(miri) { 6 } else { 40 } {
            let burst: Vec<_> =
                (0..4 * MAGAZINE_MAX).map(|i| POOL.alloc(async move { i })).collect();
            drop(burst);
        }
        assert_eq!(POOL.shared().grown.load(Relaxed), MAGAZINE);
        assert!(cap_here(&POOL) <= MAGAZINE);
        POOL.trim();
    }

    #[test]
    fn a_small_max_idle_bounds_magazines_that_would_grow() {
        static POOL: FramePool =
            FramePool::new("adaptive::tests::small").with_max_idle(2 * MAGAZINE);
        let theirs = stream(&POOL, if cfg!(miri) { 12 } else { 200 }, 2 * MAGAZINE_MAX);
        assert!(cap_here(&POOL) <= MAGAZINE, "max_idle / 2 at most");
        assert!(theirs <= MAGAZINE, "max_idle / 2 at most");
        assert_eq!(POOL.stats().live, 0);
        POOL.trim();
    }
}
